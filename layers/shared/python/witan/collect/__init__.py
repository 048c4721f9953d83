"""Collect: uploads against a request are checked, reported on, recorded and announced by email."""
