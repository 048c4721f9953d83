"""Yearly snapshot states from CLD service rows, after NHS England's LTS001b.

Each person's state on 31 March of every year the data covers is a setting (the highest in the
hierarchy among long-term services in force), `none`, `died`, or out of scope (under 18, prison only).
All steps are array operations over rows; the only loop is over the handful of snapshots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from witan.models.asc.inputs import (
    BAND_LOWER,
    DAY0,
    MISSING,
    NO_DATE,
    PRISON_RANK,
    RANK_SETTING,
    UNKNOWN_REASON,
    Cld,
    CldRows,
)

NONE, DIED, OUT = -1, -2, -3  # state codes beside settings 0..3


@dataclass
class People:
    """One element per person placed by the identifier rule."""

    ids: npt.NDArray[np.object_]  # "N:<nhs>" or "L:<council id>"
    birth: npt.NDArray[np.int64]  # days: first day of the birth month
    sex: npt.NDArray[np.int64]  # index into SEXES
    death: npt.NDArray[np.int64]  # days, NO_DATE when alive


@dataclass
class States:
    years: list[int]  # snapshot on 31 March of each year
    days: npt.NDArray[np.int64]  # the snapshot dates as days since 1970
    people: People
    state: npt.NDArray[np.int64]  # [person, snapshot]: setting 0..3, NONE, DIED or OUT
    band: npt.NDArray[np.int64]  # [person, snapshot]: age band, -1 under 18
    reason: npt.NDArray[np.int64]  # [person, snapshot]: reason group where in a setting, else -1
    rows: CldRows  # the service rows used
    pid: npt.NDArray[np.intp]  # person index of each row


def snapshot_day(year: int) -> int:
    return (dt.date(year, 3, 31) - DAY0).days


def age_at(birth: npt.NDArray[np.int64], day: int | npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """floor((d - first day of the birth month) / 365.25 days), as LTS001b."""
    return np.floor((day - birth) / 365.25).astype(np.int64)


def band_of(age: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return np.where(age >= 18, np.searchsorted(BAND_LOWER, age, side="right") - 1, -1)


def _last(
    pid: npt.NDArray[np.intp],
    n: int,
    good: npt.NDArray[np.bool_],
    keys: tuple[npt.NDArray[np.integer[Any]], ...],
    values: npt.NDArray[np.generic],
    empty: int,
) -> npt.NDArray[np.generic]:
    """Per person: `values` of their last good row in `keys` order (`empty` where none is good)."""
    out = np.full(n, empty, dtype=values.dtype)
    idx = np.flatnonzero(good)
    if len(idx):
        order = idx[np.lexsort((*[k[idx] for k in keys], pid[idx]))]
        out[pid[order]] = values[order]  # later rows overwrite earlier ones: the last wins
    return out


def snapshot_years(coverage: tuple[int, int]) -> list[int]:
    """Every 31 March from the day before the data starts to the day it ends."""
    first, last = coverage
    y0 = (DAY0 + dt.timedelta(days=int(first) - 1)).year
    y1 = (DAY0 + dt.timedelta(days=int(last))).year
    return [y for y in range(y0, y1 + 1) if first - 1 <= snapshot_day(y) <= last]


def derive_states(cld: Cld) -> States:
    """People, their rows and their state on each snapshot. Rows or people left out go to excluded."""
    r = cld.rows
    excluded = cld.excluded
    # Person: the NHS number; else the council id if it never appears with an NHS number.
    with_nhs = r.nhs != ""
    la_seen_with_nhs = np.unique(r.la_id[with_nhs & (r.la_id != "")].astype(str))
    clash = ~with_nhs & np.isin(r.la_id.astype(str), la_seen_with_nhs)
    excluded.add(
        "no NHS number and the council id also appears with one (cannot be placed without double counting)",
        "L:" + r.la_id[clash].astype(str),
    )
    r = r.select(~clash)
    ids = np.where(r.nhs != "", "N:" + r.nhs.astype(str), "L:" + r.la_id.astype(str))
    uniq, pid = np.unique(ids, return_inverse=True)
    n = len(uniq)
    keys = (r.period, r.file, r.row)
    birth = _last(pid, n, r.birth != MISSING, keys, r.birth, int(MISSING))
    no_birth = birth[pid] == MISSING
    excluded.add("no usable date of birth (missing, dummy or after the service started)", ids[no_birth])
    sex = _last(pid, n, r.sex < 2, keys, r.sex, 2)
    death = _last(pid, n, r.death < NO_DATE, keys, r.death, int(NO_DATE))
    keep_person = birth != MISSING
    rows = r.select(~no_birth)
    remap = np.cumsum(keep_person) - 1
    pid = remap[pid[~no_birth]]
    people = People(uniq[keep_person], birth[keep_person], sex[keep_person], death[keep_person])
    # A death inside a service, or while it is open, ends it on the date of death.
    rows.end = np.minimum(rows.end, people.death[pid])
    years = snapshot_years(cld.coverage)
    if not years:
        from witan.modelrun.errors import ModelInputError

        raise ModelInputError(
            cld.files[-1],
            "the files cover no 31 March (a snapshot needs data on or around 31 March)",
            column="Reporting Period End Date",
            code="no-snapshot",
        )
    days = np.array([snapshot_day(y) for y in years], dtype=np.int64)
    n = len(people.ids)
    state = np.full((n, len(years)), NONE, dtype=np.int64)
    band = np.full((n, len(years)), -1, dtype=np.int64)
    reason = np.full((n, len(years)), -1, dtype=np.int64)
    known_key = (rows.reason != UNKNOWN_REASON).astype(np.int64) * (2 * NO_DATE) + rows.start
    for t, d in enumerate(days):  # a handful of snapshots
        inforce = (rows.start <= d) & (rows.end >= d) & (people.death[pid] > d)
        best = np.full(n, 99, dtype=np.int64)
        np.minimum.at(best, pid[inforce], rows.rank[inforce])
        chosen = inforce & (rows.rank == best[pid])
        # Reason: a known one first, then the latest start; different reasons left: unknown.
        top = np.full(n, -1, dtype=np.int64)
        np.maximum.at(top, pid[chosen], known_key[chosen])
        cand = chosen & (known_key == top[pid])
        lo, hi = np.full(n, 99, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        np.minimum.at(lo, pid[cand], rows.reason[cand])
        np.maximum.at(hi, pid[cand], rows.reason[cand])
        age = age_at(people.birth, d)
        band[:, t] = band_of(age)
        setting = np.where(best < 99, RANK_SETTING[np.minimum(best, 7)], -1)
        s = np.where(setting >= 0, setting, NONE)
        child = (age < 18) & (best < 99)
        prison = (best == PRISON_RANK) & ~child
        s = np.where(child | prison, OUT, s)
        s = np.where(people.death <= d, DIED, s)
        state[:, t] = s
        reason[:, t] = np.where(s >= 0, np.where(lo == hi, lo, UNKNOWN_REASON), -1)
        alive = people.death > d
        excluded.add(f"under 18 on 31 March (person-snapshots, {years[t]})", people.ids[child & alive])
        excluded.add(f"prison only on 31 March (person-snapshots, {years[t]})", people.ids[prison & alive])
    return States(years, days, people, state, band, reason, rows, pid)
