"""Cohort-component population projection (the witan.models.demography method, exact to its R
reference), vectorised over councils. Method: docs/models/demography.md."""
