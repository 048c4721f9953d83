"""Demand models (SEND first). Pure numpy/pyarrow domain code: no AWS imports here."""
