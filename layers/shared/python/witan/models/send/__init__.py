"""SEND demand model after Mastodon C's witan.send: Beta/Dirichlet transition parameters fitted from
historic January-to-January transitions, projected by Monte Carlo simulation (method: docs/models/send.md)."""
