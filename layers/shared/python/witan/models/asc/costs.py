"""Weekly costs of each setting and age group, after DHSC's cost fact.

Weekly cost of a service = |Unit Cost| x units a week (from the cost frequency, or |Planned units per
week| for hourly, daily and per-session costs; see inputs.FREQUENCIES); rows with no or zero cost or
units are left out, and a one-off cost is not a weekly one. A setting's weekly cost for an age group is
the median over its services in force at the last snapshot (all snapshots where none is, then national
figures), unless unit_costs.csv gives it. One-off costs count once: their total in the last year
(between the last two snapshots) per client of the setting that year is added to each projected
client's cost.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from witan.modelrun.errors import InputWarning
from witan.models.asc.inputs import AGE_GROUPS, BAND_GROUP, RANK_SETTING, SETTINGS
from witan.models.asc.states import States, age_at, band_of

# England 2023-24 to 2024-25 (NHS England's ASC activity and finance report; note section 7):
# residential or nursing care about 1,100-1,200 pounds a week; home care about 23 pounds an hour for
# about 14 hours a week; direct payments about the same as commissioned home care.
NATIONAL_WEEKLY = np.array([[1200.0, 1200.0], [1100.0, 1100.0], [350.0, 330.0], [330.0, 320.0]])


def weekly_costs(
    states: States, override: dict[tuple[int, int], float] | None = None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], list[InputWarning]]:
    """(weekly cost [setting, age group], services behind each median, warnings)."""
    rows, pid = states.rows, states.pid
    setting = RANK_SETTING[rows.rank]
    usable = (setting >= 0) & np.isfinite(rows.weekly_cost)
    cost = np.zeros((len(SETTINGS), len(AGE_GROUPS)))
    count = np.zeros_like(cost, dtype=np.int64)
    warnings: list[InputWarning] = []
    last = int(states.days[-1])
    band_last = band_of(age_at(states.people.birth[pid], last))
    inforce = usable & (rows.start <= last) & (rows.end >= last) & (band_last >= 0)
    for s in range(len(SETTINGS)):  # 4 settings x 2 age groups
        for g in range(len(AGE_GROUPS)):
            if override and (s, g) in override:
                cost[s, g], count[s, g] = override[(s, g)], 0
                continue
            pick = inforce & (setting == s) & (BAND_GROUP[np.maximum(band_last, 0)] == g)
            if not pick.any():  # any snapshot's services, then national figures
                band_any = band_of(age_at(states.people.birth[pid], rows.start))
                pick = usable & (setting == s) & (band_any >= 0) & (BAND_GROUP[np.maximum(band_any, 0)] == g)
            if pick.any():
                cost[s, g], count[s, g] = float(np.median(rows.weekly_cost[pick])), int(pick.sum())
            else:
                cost[s, g] = NATIONAL_WEEKLY[s, g]
                warnings.append(
                    InputWarning(
                        "no-costs",
                        "cld",
                        f"no usable unit costs for {SETTINGS[s]} ({AGE_GROUPS[g]}): national figure "
                        f"{NATIONAL_WEEKLY[s, g]:,.0f} pounds a week used",
                    )
                )
    return cost, count, warnings


def one_off_per_client(
    states: States, weeks: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.float64]:
    """[setting]: one-off costs starting in the last year per client with weeks of care in the setting."""
    from witan.models.asc.flows import weeks_in_year

    out = np.zeros(len(SETTINGS))
    if len(states.days) < 2:
        return out
    d0, d1 = int(states.days[-2]), int(states.days[-1])
    rows = states.rows
    setting = RANK_SETTING[rows.rank]
    once = np.isfinite(rows.one_off) & (setting >= 0) & (rows.start > d0) & (rows.start <= d1)
    total = np.bincount(setting[once], weights=rows.one_off[once], minlength=len(SETTINGS))
    w = weeks_in_year(states, d0, d1) if weeks is None else weeks
    clients = (w > 0).sum(axis=0)
    np.divide(total, clients, out=out, where=clients > 0)
    return out
