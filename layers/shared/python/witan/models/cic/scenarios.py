"""Scenarios: rate and entrant adjustments, weekly costs, item proportions and inflation (note s.6).

A rate is multiplied OR added to (new = rate x m, or max(rate + a, 0)). If a state's outgoing rates then
sum above 1: when the adjusted ones alone reach 1 they are scaled to sum 1 and the others set to 0;
otherwise the unadjusted ones are scaled to fill 1 - (sum of adjusted). A scenario's changes apply
together, as one table of adjustments (Social Finance's rate adjustment table), then renormalise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from witan.modelrun.errors import ModelInputError
from witan.models.cic import states as st
from witan.models.cic.scenario_checks import check_adjustment
from witan.models.cic.scenario_checks import validate as validate  # the checks run before a plan, re-exported

S_ALL = st.N_STATES_ALL


def normalise_group(
    rates: npt.NDArray[np.float64], adjusted: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """One state's outgoing rates after adjustment, renormalised when they sum above 1."""
    total = rates.sum()
    if total <= 1:
        return rates
    out = rates.copy()
    adj_sum = rates[adjusted].sum()
    if adj_sum >= 1:
        out[adjusted] = rates[adjusted] / adj_sum
        out[~adjusted] = 0.0
    else:
        rest = rates[~adjusted].sum()
        if rest > 0:
            out[~adjusted] = rates[~adjusted] * (1 - adj_sum) / rest
    return out


def adjust_rates(
    pairs: npt.NDArray[np.int64], rate: npt.NDArray[np.float64], changes: list[dict[str, Any]], name: str
) -> npt.NDArray[np.float64]:
    """Apply a scenario's rate changes (together, as one table of adjustments) to the rates per pair."""
    rate = rate.astype(float)
    out = rate.copy()
    adjusted = np.zeros(len(rate), bool)
    from_state, to_state = pairs // S_ALL, pairs % S_ALL
    f_band = from_state // 5
    for i, change in enumerate(changes):  # a scenario's handful of changes, each vectorised
        where = f"rates[{i}]"
        mult, add = check_adjustment(change, where)
        f_place = st.PLACEMENTS.index(change["from_placement"])
        t_name = change["to_placement"]
        t_place = st.NOT_IN_CARE if t_name == "not-in-care" else st.PLACEMENTS.index(t_name)
        hit = (from_state % 5 == f_place) & (to_state % 5 == t_place)
        if "from_age_band" in change:
            hit &= f_band == st.AGE_BANDS.index(change["from_age_band"])
        if "to_age_band" in change:
            hit &= to_state // 5 == st.AGE_BANDS.index(change["to_age_band"])
        else:
            hit &= to_state // 5 == f_band
        if not hit.any():
            raise ModelInputError(
                "scenario",
                f"scenario {name!r} {where}: no such transition in the data ({change})",
                column=where,
                code="unknown-transition",
            )
        if mult is not None:
            if (rate[hit] == 0).all() and mult != 1:
                raise ModelInputError(
                    "scenario",
                    f"scenario {name!r} {where}: multiplying a zero rate changes nothing; use add",
                    column=where,
                    code="bad-adjustment",
                )
            out[hit] = rate[hit] * mult
        else:
            out[hit] = np.maximum(rate[hit] + float(add), 0.0)  # type: ignore[arg-type]
        adjusted |= hit
    for f in np.unique(from_state[adjusted]):  # renormalise each touched from-state (a handful)
        group = from_state == f
        out[group] = normalise_group(out[group], adjusted[group])
    return out


def adjust_entrants(
    entrants: npt.NDArray[np.float64], changes: list[dict[str, Any]], name: str
) -> npt.NDArray[np.float64]:
    """Entrants per state [S_ALL] multiplied or added to, floored at 0, not renormalised."""
    out = entrants.astype(float).copy()
    for i, change in enumerate(changes):
        where = f"entrants[{i}]"
        mult, add = check_adjustment(change, where)
        place = st.PLACEMENTS.index(change["placement"])
        bands = [st.AGE_BANDS.index(change["age_band"])] if "age_band" in change else range(len(st.AGE_BANDS))
        idx = np.array([b * 5 + place for b in bands])
        out[idx] = out[idx] * mult if mult is not None else np.maximum(out[idx] + float(add), 0.0)  # type: ignore[arg-type]
    return out


def normalise_proportions(
    historic: npt.NDArray[np.float64], edits: dict[str, float]
) -> npt.NDArray[np.float64]:
    """Item proportions with edits; within each placement the edited ones win and the rest are rescaled
    to make 1 (Social Finance's rule: all edited ones scaled when they reach 1 or nothing else is left)."""
    out = historic.astype(float).copy()
    if not edits:
        return out
    edited = np.zeros(len(out), bool)
    for item, value in edits.items():
        i = st.COST_ITEMS.index(item)
        out[i], edited[i] = float(value), True
    for place in range(4):
        group = place == st.ITEM_PLACEMENT
        if not (edited & group).any():
            continue
        adj = out[group & edited].sum()
        rest = out[group & ~edited].sum()
        if np.isclose(adj + rest, 1.0):
            continue
        if adj >= 1 or rest == 0:
            out[group & edited] /= adj if adj > 0 else 1.0
            out[group & ~edited] = 0.0
        else:
            out[group & ~edited] *= (1 - adj) / rest
    return out
