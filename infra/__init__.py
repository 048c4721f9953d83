"""CDK app for the Witan stack."""
