"""The model's states: age band x placement, and the cost items within placements (method note s.3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from witan.models.cic.vocabulary import AGE_BANDS, COST_ITEMS, PLACEMENTS

BAND_LOWER = np.array([-1, 1, 5, 10, 16])
BAND_UPPER = np.array([1, 5, 10, 16, 30])
YEAR_IN_DAYS = 365.24  # Social Finance's year length for ages

NOT_IN_CARE = 4  # placement index of the exit
OPEN = 5  # placement_after of an episode still open
PLACEMENT_NAMES: tuple[str, ...] = (*PLACEMENTS, "not-in-care", "none")
__all__ = ["AGE_BANDS", "COST_ITEMS", "PLACEMENTS"]  # the words, with the numbers below

_PLACEMENT_OF_CODE = {
    **dict.fromkeys(("U1", "U2", "U3", "U4", "U5", "U6"), 0),
    **dict.fromkeys(("K2", "R1", "P3", "S1"), 1),
    **dict.fromkeys(("H5", "K3", "P2"), 2),
}

ITEM_PLACEMENT = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3])  # the placement whose stock an item shares
# Social Finance's default weekly costs (placeholders a council replaces)
DEFAULT_WEEKLY_COST: dict[str, float] = {
    "fostering-friend-relative": 100.0,
    "fostering-in-house": 150.0,
    "fostering-ifa": 250.0,
    **{i: 1000.0 for i in COST_ITEMS[3:]},
}

IN_HOUSE = ("PR1", "PR2", "PR3")
EXTERNAL = ("PR4", "PR5")


def placement_of(place: npt.NDArray[np.object_]) -> npt.NDArray[np.int8]:
    """PLACE codes -> placement index (every code not listed is 'other')."""
    codes, inverse = np.unique(place.astype(str), return_inverse=True)
    table = np.array([_PLACEMENT_OF_CODE.get(c, 3) for c in codes], dtype=np.int8)
    return table[inverse.reshape(-1)]


def _item_of_pair(place: str, provider: str) -> int:
    if place in ("U1", "U2", "U3"):
        return 0
    if place in ("U4", "U5", "U6"):
        return 1 if provider in IN_HOUSE else 2 if provider in EXTERNAL else 8
    if place in ("K2", "R1", "P3", "S1"):
        return 3 if provider in IN_HOUSE else 4 if provider in EXTERNAL else 8
    if place in ("H5", "K3", "P2"):
        return 5
    return {"K1": 6, "P1": 7}.get(place, 8)


def cost_item_of(place: npt.NDArray[np.object_], provider: npt.NDArray[np.object_]) -> npt.NDArray[np.int8]:
    """(PLACE, PLACE_PROVIDER) -> cost item index, as Social Finance maps them (an unknown provider for
    a fostering or residential code falls to 'other')."""
    pairs = np.char.add(np.char.add(place.astype(str), "|"), provider.astype(str))
    codes, inverse = np.unique(pairs, return_inverse=True)
    table = np.array([_item_of_pair(*c.split("|", 1)) for c in codes], dtype=np.int8)
    return table[inverse.reshape(-1)]


def state_index(
    band: npt.NDArray[np.integer[Any]], placement: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.int64]:
    """(band, placement incl. not-in-care) -> one index: band * 5 + placement."""
    return band.astype(np.int64) * 5 + placement.astype(np.int64)


N_STATES_ALL = len(AGE_BANDS) * 5  # every (band, placement or not-in-care)


def state_name(index: int) -> tuple[str, str]:
    return AGE_BANDS[index // 5], PLACEMENT_NAMES[index % 5]


def in_care(index: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.bool_]:
    inside: npt.NDArray[np.bool_] = (np.asarray(index) % 5) != NOT_IN_CARE
    return inside
