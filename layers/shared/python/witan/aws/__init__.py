"""AWS adapters: one module per area, each injected into the domain through its ports."""
