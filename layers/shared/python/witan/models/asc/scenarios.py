"""Scenarios: changes to entries, moves and costs compared with the baseline.

A scenario (JSON; `SCENARIO_SCHEMA`):

    {"name": "prevention",
     "entry_multipliers": [{"setting": "residential", "age_band": "85-94", "factor": 0.8, "from_year": 2027}],
     "entry_redirects": [{"from_setting": "residential", "to_setting": "community-commissioned",
                          "share": 0.2, "from_year": 2027}],
     "move_multipliers": [{"from_setting": "residential", "to_state": "community-commissioned",
                           "factor": 1.5}],
     "cost_uplifts": [{"setting": "community-commissioned", "rate": 0.06, "from_year": 2026}]}

Years are those of the 31 March that ends a projected year; `from_year` (default: the first projected
year) on. Omitted `setting`, `age_band` or `reason` match all. Move multipliers follow the children's
model's renormalising rule (`renormalise`). A cost uplift compounds yearly from its `from_year`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from witan.models.asc.fit import NC, ND, cell_index
from witan.models.asc.flows import NB, NR, NS
from witan.models.asc.inputs import AGE_BANDS, REASONS, SETTINGS, STATES
from witan.models.asc.scenario_schema import BASELINE, SCENARIO_SCHEMA, check_scenarios

__all__ = ["BASELINE", "SCENARIO_SCHEMA", "check_scenarios"]


def _mask(values: tuple[str, ...], chosen: str | None) -> npt.NDArray[np.bool_]:
    return np.ones(len(values), bool) if chosen is None else np.array([v == chosen for v in values])


@dataclass
class Prepared:
    """A scenario as arrays over the projected years (index 0 = first projected year)."""

    name: str
    entry_factor: npt.NDArray[np.float64]  # [year, band, reason, setting]
    redirects: list[
        tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], int, int, float]
    ]  # (years, [band, reason] mask, from, to, share)
    move_factor: list[
        tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]
    ]  # (years, [cell, destination] factor)
    cost_factor: npt.NDArray[np.float64]  # [year, setting]


def prepare(scenario: dict[str, Any] | None, first_year: int, years: int) -> Prepared:
    """Arrays of a scenario (None: the baseline) for projected years first_year..first_year+years-1."""
    sc = scenario or {"name": BASELINE}
    yrs = first_year + np.arange(years)

    def on(item: dict[str, Any]) -> npt.NDArray[np.bool_]:
        active: npt.NDArray[np.bool_] = yrs >= item.get("from_year", first_year)
        return active

    entry = np.ones((years, NB, NR, NS))
    for m in sc.get("entry_multipliers") or []:
        sel = (
            on(m)[:, None, None, None]
            & _mask(AGE_BANDS, m.get("age_band"))[None, :, None, None]
            & _mask(REASONS, m.get("reason"))[None, None, :, None]
            & _mask(SETTINGS, m.get("setting"))[None, None, None, :]
        )
        entry = np.where(sel, entry * m["factor"], entry)
    redirects = [
        (
            on(r),
            _mask(AGE_BANDS, r.get("age_band"))[:, None] & _mask(REASONS, r.get("reason"))[None, :],
            SETTINGS.index(r["from_setting"]),
            SETTINGS.index(r["to_setting"]),
            float(r["share"]),
        )
        for r in sc.get("entry_redirects") or []
    ]
    # Move multipliers sharing a from_year make one factor array.
    by_year: dict[int, npt.NDArray[np.float64]] = {}
    cell = np.arange(NC)
    band, reason, setting = cell // (NR * NS), (cell // NS) % NR, cell % NS
    dest_state = np.arange(ND) % (NS + 2)
    for m in sc.get("move_multipliers") or []:
        f = by_year.setdefault(int(m.get("from_year", first_year)), np.ones((NC, ND)))
        rows = (
            _mask(AGE_BANDS, m.get("age_band"))[band]
            & _mask(REASONS, m.get("reason"))[reason]
            & _mask(SETTINGS, m.get("from_setting"))[setting]
        )
        cols = dest_state == STATES.index(m["to_state"])
        f[rows[:, None] & cols[None, :]] *= m["factor"]
    moves = [(yrs >= y, f) for y, f in sorted(by_year.items())]
    cost = np.ones((years, NS))
    for u in sc.get("cost_uplifts") or []:
        n_years = np.maximum(yrs - u.get("from_year", first_year) + 1, 0)
        grow = (1 + u["rate"]) ** n_years
        cost *= np.where(_mask(SETTINGS, u.get("setting"))[None, :], grow[:, None], 1.0)
    return Prepared(sc["name"], entry, redirects, moves, cost)


def stay_mask() -> npt.NDArray[np.bool_]:
    """[cell, destination]: staying in the cell's setting (aged or not): the residual of a row."""
    stays: npt.NDArray[np.bool_] = (np.arange(ND)[None, :] % (NS + 2)) == (np.arange(NC) % NS)[:, None]
    return stays


def renormalise(
    p: npt.NDArray[np.float64], factor: npt.NDArray[np.float64], residual: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Rows of probabilities with some entries multiplied, made to sum 1 again (the CIC rule).

    Staying (`residual`, unless itself adjusted) absorbs the change while the other entries sum to at
    most 1; beyond that, if the adjusted entries alone reach 1 they are scaled to 1 and the rest set to
    0, otherwise the unadjusted non-residual entries are scaled to fill 1 - (the adjusted) and the
    residual is 0."""
    adj = factor != 1
    q = p * factor
    r = residual & ~(adj & residual).any(axis=1, keepdims=True)
    non_r = np.where(r, 0.0, q).sum(axis=1, keepdims=True)
    r_orig = np.where(r, p, 0.0).sum(axis=1, keepdims=True)
    n_r = r.sum(axis=1, keepdims=True)
    case1 = r.any(axis=1, keepdims=True) & (non_r <= 1)
    fill_r = np.where(
        r_orig > 0, p * (1 - non_r) / np.maximum(r_orig, 1e-300), (1 - non_r) / np.maximum(n_r, 1)
    )
    out1 = np.where(r, fill_r, q)
    a_sum = np.where(adj, q, 0.0).sum(axis=1, keepdims=True)
    u = ~adj & ~r
    u_sum = np.where(u, q, 0.0).sum(axis=1, keepdims=True)
    scale_u = np.where(u_sum > 0, np.maximum(1 - a_sum, 0) / np.maximum(u_sum, 1e-300), 0.0)
    out2 = np.where(
        a_sum >= 1,
        np.where(adj, q / np.maximum(a_sum, 1e-300), 0.0),
        np.where(adj, q, np.where(u, q * scale_u, 0.0)),
    )
    changed = adj.any(axis=1, keepdims=True)
    return np.where(changed, np.where(case1, out1, out2), p)


def cells_of(
    age_band: str | None = None, reason: str | None = None, setting: str | None = None
) -> npt.NDArray[np.int64]:
    b, r, s = np.meshgrid(
        np.flatnonzero(_mask(AGE_BANDS, age_band)),
        np.flatnonzero(_mask(REASONS, reason)),
        np.flatnonzero(_mask(SETTINGS, setting)),
        indexing="ij",
    )
    return cell_index(b.ravel(), r.ravel(), s.ravel())
