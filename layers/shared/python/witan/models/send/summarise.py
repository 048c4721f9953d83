"""SEND's groupings: per-simulation totals by academic year, group, need, setting, state and cost
(statistics across simulations: witan.modelrun.summaries)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from witan.models.send.fit import StateSpace

AY_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("<1", -99, 0),
    ("1-6", 1, 6),
    ("7-11", 7, 11),
    ("12-13", 12, 13),
    ("14+", 14, 99),
)
GROUPINGS = ("count", "by_academic_year", "by_ay_group", "by_need", "by_setting", "by_state", "cost")


def group_totals(
    counts: npt.NDArray[np.floating[Any] | np.integer[Any]], space: StateSpace, cost: npt.NDArray[np.float64]
) -> dict[str, tuple[npt.NDArray[np.integer[Any] | np.float64], dict[str, list[Any]]]]:
    """Per-simulation totals [sim, year, ...] for every grouping, with their key columns.

    counts: [sim, year, a, k] where the year axis includes the seed year.
    """
    s, t, n_ay, _ = counts.shape
    n_need, n_set = len(space.needs), len(space.settings)
    by_ns = counts.reshape(s, t, n_ay, n_need, n_set)
    ays = space.academic_years
    group_idx = np.array([next(i for i, (_, lo, hi) in enumerate(AY_GROUPS) if lo <= ay <= hi) for ay in ays])
    by_ay = counts.sum(axis=3, dtype=np.int64)
    by_group = np.zeros((s, t, len(AY_GROUPS)), dtype=np.int64)
    for g in range(len(AY_GROUPS)):
        by_group[:, :, g] = by_ay[:, :, group_idx == g].sum(axis=2)
    return {
        "count": (by_ay.sum(axis=2), {}),
        "by_academic_year": (by_ay, {"academic_year": ays.tolist()}),
        "by_ay_group": (by_group, {"ay_group": [g[0] for g in AY_GROUPS]}),
        "by_need": (by_ns.sum(axis=(2, 4), dtype=np.int64), {"need": list(space.needs)}),
        "by_setting": (by_ns.sum(axis=(2, 3), dtype=np.int64), {"setting": list(space.settings)}),
        "by_state": (counts, {"academic_year": ays.tolist(), "state": space.state_names()}),
        "cost": (np.einsum("stak,k->st", counts, cost, dtype=np.float64), {}),
    }
