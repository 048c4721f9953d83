"""Yearly flows between snapshots: moves, entries, transient clients and weeks of care.

The year of a flow is the year of its later snapshot (31 March). Weeks of care are measured from the
service dates inside each year (the union of a person's services in one setting, so overlapping
services are not counted twice) and averaged over the people of each kind of flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from witan.models.asc.inputs import AGE_BANDS, BAND_GROUP, RANK_SETTING, REASONS, SETTINGS, SEXES
from witan.models.asc.states import DIED, States

NB, NR, NS, NX = len(AGE_BANDS), len(REASONS), len(SETTINGS), len(SEXES)
KINDS = ("stayer", "mover", "entrant", "leaver", "death", "transient")
# Weeks in the year assumed where no person of a kind was seen (whole year stayers; half a year for
# flows that happen at a random time in it; a quarter for people in and out within the year).
DEFAULT_WEEKS = {
    "stayer": 52.0,
    "mover": 26.0,
    "entrant": 26.0,
    "leaver": 26.0,
    "death": 26.0,
    "transient": 13.0,
}


@dataclass
class Flows:
    years: list[int]  # year of each flow step (the later snapshot)
    moves: npt.NDArray[
        np.float64
    ]  # [step, band, reason, setting, aged (0/1), to_state (4 settings, ended, died)]
    entries: npt.NDArray[np.float64]  # [step, band, sex, reason, setting]
    transients: npt.NDArray[np.float64]  # [step, age group, setting]: in and out within the year
    weeks_sum: dict[str, npt.NDArray[np.float64]]  # kind -> [primary setting(s)..., setting of the weeks]
    weeks_n: dict[str, npt.NDArray[np.float64]]  # kind -> people behind weeks_sum

    def weeks(self) -> dict[str, npt.NDArray[np.float64]]:
        """Mean weeks of care in each setting per person of a kind (defaults where none was seen)."""
        out = {}
        for k, total in self.weeks_sum.items():
            n = self.weeks_n[k][..., None]
            default = np.zeros_like(total)
            prim = np.arange(NS)
            if k == "mover":
                default[prim[:, None], prim[None, :], prim[:, None]] = DEFAULT_WEEKS[k]
                default[prim[:, None], prim[None, :], prim[None, :]] = DEFAULT_WEEKS[k]
            else:
                default[prim, prim] = DEFAULT_WEEKS[k]
            out[k] = np.where(n > 0, total / np.maximum(n, 1), default)
        return out


def weeks_in_year(states: States, d0: int, d1: int) -> npt.NDArray[np.float64]:
    """[person, setting]: weeks with a long-term service in days d0+1..d1 (union of overlapping ones)."""
    rows, pid = states.rows, states.pid
    n = len(states.people.ids)
    setting = RANK_SETTING[rows.rank]
    s = np.maximum(rows.start, d0 + 1) - d0
    e = np.minimum(rows.end, d1) - d0
    ok = (setting >= 0) & (e >= s)
    g = pid[ok] * NS + setting[ok]
    s, e = s[ok], e[ok]
    order = np.lexsort((s, g))
    g, s, e = g[order], s[order], e[order]
    # Offsetting each group keeps a running maximum of ends from leaking between groups.
    span = 1000
    es = e + g * span
    prev = np.concatenate([[-1], np.maximum.accumulate(es)[:-1]]) - g * span
    days = np.maximum(0, e - np.maximum(s - 1, prev))
    out = np.bincount(g, weights=days, minlength=n * NS).reshape(n, NS)
    return out / 7.0


def derive_flows(states: States) -> Flows:
    st, band, reason = states.state, states.band, states.reason
    sex = states.people.sex
    steps = len(states.years) - 1
    moves = np.zeros((max(steps, 0), NB, NR, NS, 2, NS + 2))
    entries = np.zeros((max(steps, 0), NB, NX, NR, NS))
    transients = np.zeros((max(steps, 0), 2, NS))
    wsum = {k: np.zeros((NS, NS, NS) if k == "mover" else (NS, NS)) for k in KINDS}
    wn = {k: np.zeros((NS, NS) if k == "mover" else (NS,)) for k in KINDS}
    for t in range(steps):  # a handful of years
        a, b = st[:, t], st[:, t + 1]
        weeks = weeks_in_year(states, int(states.days[t]), int(states.days[t + 1]))
        frm = a >= 0
        to = np.where(b >= 0, b, np.where(b == DIED, NS + 1, NS))
        aged = np.clip(band[:, t + 1] - band[:, t], 0, 1)
        np.add.at(moves[t], (band[frm, t], reason[frm, t], a[frm], aged[frm], to[frm]), 1)
        enter = (a < 0) & (a != DIED) & (b >= 0)
        np.add.at(entries[t], (band[enter, t + 1], sex[enter], reason[enter, t + 1], b[enter]), 1)
        stay = frm & (b == a)
        move = frm & (b >= 0) & (b != a)
        end = frm & (b < 0) & (b != DIED)
        die = frm & (b == DIED)
        for kind, mask, prim in (
            ("stayer", stay, a),
            ("entrant", enter, b),
            ("leaver", end, a),
            ("death", die, a),
        ):
            np.add.at(wsum[kind], prim[mask], weeks[mask])
            wn[kind] += np.bincount(prim[mask], minlength=NS)
        np.add.at(wsum["mover"], (a[move], b[move]), weeks[move])
        np.add.at(wn["mover"], (a[move], b[move]), 1)
        # In and out within the year: neither end in a setting, some weeks of care in between.
        any_weeks = weeks.sum(axis=1) > 0
        trans = (a < 0) & (a != DIED) & (b < 0) & any_weeks & (band[:, t + 1] >= 0)
        prim = np.argmax(weeks > 0, axis=1)  # settings are in hierarchy order: the first with weeks
        np.add.at(wsum["transient"], prim[trans], weeks[trans])
        wn["transient"] += np.bincount(prim[trans], minlength=NS)
        np.add.at(transients[t], (BAND_GROUP[band[trans, t + 1]], prim[trans]), 1)
    return Flows(states.years[1:], moves, entries, transients, wsum, wn)
