"""Collect+Share: `requests` (asking partners for data) and `uploads` (checking what they send);
`records` holds the records both share."""
