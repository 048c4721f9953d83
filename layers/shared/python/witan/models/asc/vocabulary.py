"""The adult social care model's words: settings, states, reasons, age bands and groups (no numpy:
the API describes the model with these)."""

from __future__ import annotations

SETTINGS = ("nursing", "residential", "community-direct-payment", "community-commissioned")
STATES = (*SETTINGS, "ended", "died")
REASONS = ("physical", "sensory", "memory", "learning-disability", "mental-health", "social", "unknown")
AGE_BANDS = ("18-24", "25-44", "45-64", "65-74", "75-84", "85-94", "95+")
AGE_GROUPS = ("18-64", "65+")
