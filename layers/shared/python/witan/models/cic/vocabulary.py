"""The children's model's words: age bands, placements and cost items (no numpy: the API describes
the model with these, and witan.models.cic.states gives them their numbers)."""

from __future__ import annotations

AGE_BANDS: tuple[str, ...] = ("under-1", "1-4", "5-9", "10-15", "16+")
PLACEMENTS: tuple[str, ...] = ("fostering", "residential", "supported", "other")
COST_ITEMS: tuple[str, ...] = (
    "fostering-friend-relative",
    "fostering-in-house",
    "fostering-ifa",
    "residential-in-house",
    "residential-external",
    "supported-accommodation",
    "secure-home",
    "placed-with-family",
    "other",
)
