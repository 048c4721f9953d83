"""Datapacks: sealed, reproducible bundles of data, scripts, model runs, charts and conclusions."""
