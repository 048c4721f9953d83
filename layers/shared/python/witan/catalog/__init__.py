"""Dataset metadata: records, versions and the ports the API talks to (pure, no AWS)."""
