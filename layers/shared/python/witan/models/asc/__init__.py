"""Adult social care model: long-term support demand and cost from Client Level Data."""
