"""Cohort-component population projection (the witan.models.demography method, exact to its R
reference), vectorised over councils. See /work/shared/docs/demography-model.md for the method."""
