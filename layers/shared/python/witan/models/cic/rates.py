"""Daily stock, transitions, transition rates, entrants and placement proportions (method note s.4).

Stock by day is a cumulative sum of +1 (DECOM) and -1 (DEC) events per state; transitions are counted
with one bincount. Rates follow Social Finance's rules exactly: the mean over the reference days of
transitions[d] / stock[d-1], the previous day's stock taken within the data period (so the data's first
day has none), days before the data's first episode end left out, 0/0 days left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from witan.modelrun.errors import ModelInputError
from witan.models.cic import states as st
from witan.models.cic.cleaning import Episodes

S = st.N_STATES_ALL  # state index band*5 + placement, placement 4 = not in care


@dataclass
class History:
    """Everything counted by day over [data_start, data_end]."""

    data_start: int
    data_end: int
    stock: npt.NDArray[np.float64]  # [day, S] children in each state on each day
    transitions: npt.NDArray[np.int64]  # [day, S*S] episodes ending on each day, by from*S + to
    first_end: int  # the first DEC of any piece (Social Finance's transitions start there)
    states_present: npt.NDArray[np.bool_]  # bool [S]: a piece starts in the state somewhere in the data
    pairs_seen: npt.NDArray[np.bool_]  # bool [S*S]: the transition happens somewhere in the data

    @property
    def days(self) -> int:
        return int(self.stock.shape[0])


def history(ep: Episodes) -> History:
    n_days = ep.data_end - ep.data_start + 1
    state = st.state_index(ep.band, ep.placement)
    start_at = np.clip(ep.decom - ep.data_start, 0, n_days)
    closed = ~ep.open_
    end_at = np.clip(ep.dec[closed] - ep.data_start, 0, n_days)
    flat = np.concatenate([start_at * S + state, end_at * S + state[closed]])
    weights = np.concatenate([np.ones(len(state)), -np.ones(len(end_at))])
    # A weighted bincount is float64 (numpy's stubs say integers: asarray only retypes it).
    events = np.asarray(np.bincount(flat, weights=weights, minlength=(n_days + 1) * S), dtype=np.float64)
    events = events.reshape(n_days + 1, S)
    stock = np.cumsum(events, axis=0)[:n_days]

    ended = closed & (ep.dec >= ep.data_start) & (ep.dec <= ep.data_end)
    to_state = st.state_index(ep.end_band[ended], ep.after[ended])
    pair = state[ended] * S + to_state
    day = ep.dec[ended] - ep.data_start
    transitions = np.bincount(day * (S * S) + pair, minlength=n_days * S * S).reshape(n_days, S * S)
    seen = np.zeros(S * S, bool)
    all_pairs = state[closed] * S + st.state_index(ep.end_band[closed], ep.after[closed])
    seen[np.unique(all_pairs)] = True
    present = np.zeros(S, bool)
    present[np.unique(state)] = True
    first_end = int(ep.dec[closed].min()) if closed.any() else ep.data_end
    return History(ep.data_start, ep.data_end, stock, transitions, first_end, present, seen)


def universe(h: History) -> npt.NDArray[np.bool_]:
    """Transition pairs the model carries (Social Finance's): within each age band present, from every
    placement present to every placement present and not-in-care; plus every pair seen in the data."""
    pairs = h.pairs_seen.copy()
    for band in range(len(st.AGE_BANDS)):  # five bands: a loop over a handful
        here = [band * 5 + p for p in range(4) if h.states_present[band * 5 + p]]
        if not here:
            continue
        for f in here:
            for t in [*here, band * 5 + st.NOT_IN_CARE]:
                pairs[f * S + t] = True
    return pairs


def check_period(h: History, ref_start: int, ref_end: int) -> None:
    if ref_start > ref_end:
        raise ModelInputError(
            "parameters",
            "reference_start is after reference_end",
            column="reference_start",
            code="bad-period",
        )
    if ref_start < h.data_start or ref_end > h.data_end:
        raise ModelInputError(
            "parameters",
            f"reference period {_iso(ref_start)} to {_iso(ref_end)} is outside the data "
            f"({_iso(h.data_start)} to {_iso(h.data_end)})",
            column="reference_start" if ref_start < h.data_start else "reference_end",
            code="period-outside-data",
        )


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


@dataclass
class Rates:
    pairs: npt.NDArray[np.int64]  # int pair ids (from*S + to) carried
    rate: npt.NDArray[np.float64]  # daily rate per pair
    count: npt.NDArray[np.float64]  # transitions observed in the reference period per pair
    entrants: npt.NDArray[np.float64]  # [S] daily entrants by state
    entrant_count: npt.NDArray[np.float64]  # [S] entrants counted in the reference period
    period_days: int
    proportions: npt.NDArray[np.float64]  # [item] share of its placement's stock-days
    items_present: npt.NDArray[np.bool_]  # bool [item]


def mean_daily_rate(
    transitions: npt.NDArray[np.float64], previous_stock: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Mean over days of transitions[d] / previous_stock[d] per column; 0/0 days left out, a column with
    no usable day is 0. [days, pairs] -> [pairs]."""
    usable = previous_stock > 0
    ratio = np.divide(transitions, previous_stock, out=np.zeros(transitions.shape), where=usable)
    days_used = usable.sum(axis=0)
    rate: npt.NDArray[np.float64] = np.divide(
        ratio.sum(axis=0), days_used, out=np.zeros(transitions.shape[1]), where=days_used > 0
    )
    return rate


def estimate(h: History, ep: Episodes, ref_start: int, ref_end: int) -> Rates:
    check_period(h, ref_start, ref_end)
    lo = max(ref_start, h.data_start + 1, h.first_end) - h.data_start
    hi = ref_end - h.data_start
    pairs = np.flatnonzero(universe(h))
    from_state = pairs // S
    rate = np.zeros(len(pairs))
    count = np.zeros(len(pairs))
    if hi >= lo:
        trans = h.transitions[lo : hi + 1][:, pairs].astype(float)
        prev = h.stock[lo - 1 : hi][:, from_state]
        bad = (trans > 0) & (prev <= 0)
        if bad.any():
            d, p = np.argwhere(bad)[0]
            f, t = st.state_name(int(pairs[p] // S)), st.state_name(int(pairs[p] % S))
            day = h.data_start + lo + d
            closed = ~ep.open_
            piece_pair = st.state_index(ep.band, ep.placement) * S + st.state_index(ep.end_band, ep.after)
            rows = ep.row[closed & (ep.dec == day) & (piece_pair == pairs[p])]
            raise ModelInputError(
                "episodes",
                f"{int(trans[d, p])} transition(s) {f} -> {t} on {_iso(day)} out of a state holding no "
                "child the day before",
                row=int(rows[0]) if len(rows) else None,
                column="DEC",
                code="transition-from-empty-state",
            )
        rate = mean_daily_rate(trans, prev)
        count = trans.sum(axis=0)

    period = ref_end - ref_start + 1
    new = (ep.decom >= ref_start) & (ep.decom <= ref_end) & (ep.before == st.NOT_IN_CARE)
    entrant_count = np.bincount(st.state_index(ep.band[new], ep.placement[new]), minlength=S).astype(float)
    entrants = entrant_count / period

    # Stock-days of each cost item in the period: days in [ref_start, ref_end] from DECOM, less from DEC.
    def days_from(x: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        days: npt.NDArray[np.int64] = np.clip(ref_end + 1 - np.maximum(x, ref_start), 0, None)
        return days

    signed = days_from(ep.decom) - np.where(ep.open_, 0, days_from(np.minimum(ep.dec, ref_end + 1)))
    n_items = len(st.COST_ITEMS)
    item_days = np.bincount(ep.item, weights=signed, minlength=n_items)
    present = np.bincount(ep.item, minlength=n_items) > 0
    group_total = np.bincount(st.ITEM_PLACEMENT, weights=np.where(present, item_days, 0), minlength=4)
    denom = group_total[st.ITEM_PLACEMENT]
    proportions = np.divide(item_days, denom, out=np.zeros(n_items), where=(denom > 0) & present)
    return Rates(pairs, rate, count, entrants, entrant_count, period, proportions, present)


def stock_on(h: History, day: int) -> npt.NDArray[np.float64]:
    """The stock [S] on a day within the data (the start of a projection)."""
    if day < h.data_start or day > h.data_end:
        raise ModelInputError(
            "parameters",
            f"no stock is known on {_iso(day)}: the data cover {_iso(h.data_start)} to {_iso(h.data_end)}",
            column="start",
            code="start-outside-data",
        )
    stock: npt.NDArray[np.float64] = h.stock[day - h.data_start]
    return stock
