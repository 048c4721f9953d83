"""Uploads: each uploaded file is checked, reported on, delivered to the datastore and announced by email."""
