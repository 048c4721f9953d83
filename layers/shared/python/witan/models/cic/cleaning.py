"""SSDA903 episodes -> clean, age-split episodes (method note s.1-2), every change counted.

The steps run in the note's order because each changes what the next sees (as in Social Finance's
model): drop rows without CHILD, DECOM or DOB; sort and drop duplicates; close overlaps; merge
legal-status-only episodes into the one before; add ages; split at age-band birthdays.
All vectorised over episodes: sorts, shifts and cumulative maxima, no loop over children.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from witan.modelrun.errors import ModelInputError
from witan.models.cic import states as st
from witan.models.cic.inputs import NO_DATE, PLACE_CODES, Returns903

BIG = np.iinfo(np.int64).max


_FIELDS = [
    "child",
    "decom",
    "dec",
    "open_",
    "band",
    "end_band",
    "placement",
    "item",
    "before",
    "after",
    "row",
    "la",
    "sex",
    "ethnic",
    "uasc",
]


@dataclass
class Episodes:
    """Clean episode pieces, each within one age band. Dates are days since 1970-01-01."""

    child: npt.NDArray[np.int64]  # int64 child code
    decom: npt.NDArray[np.int64]
    dec: npt.NDArray[np.int64]  # BIG where open
    open_: npt.NDArray[np.bool_]  # bool
    band: npt.NDArray[np.integer[Any]]  # age band at the start
    end_band: npt.NDArray[np.integer[Any]]  # age band at the end (the next band for an ageing piece)
    placement: npt.NDArray[np.integer[Any]]
    item: npt.NDArray[np.integer[Any]]  # cost item
    before: npt.NDArray[np.integer[Any]]  # placement before (NOT_IN_CARE when not contiguous)
    after: npt.NDArray[np.integer[Any]]  # placement after (NOT_IN_CARE; OPEN while open)
    row: npt.NDArray[np.int64]  # 1-based data row of the episodes file it came from
    la: npt.NDArray[np.object_]  # str
    sex: npt.NDArray[np.object_]  # str
    ethnic: npt.NDArray[np.object_]  # str
    uasc: npt.NDArray[np.bool_]  # bool
    data_start: int
    data_end: int
    report: list[tuple[str, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.child)

    def take(self, keep: npt.NDArray[np.bool_]) -> Episodes:
        arrays = {k: getattr(self, k)[keep] for k in (_FIELDS)}
        return Episodes(
            **arrays, data_start=self.data_start, data_end=self.data_end, report=list(self.report)
        )


def _codes(*arrays: pa.Array) -> list[npt.NDArray[np.int64]]:
    """One integer code per distinct (trimmed) string across the arrays (-1 for blank). Works on each
    column's dictionary of distinct values, then spreads to the rows by index."""
    dictionaries, indices = [], []
    for a in arrays:
        encoded = a if pa.types.is_dictionary(a.type) else pc.dictionary_encode(pc.cast(a, pa.string()))
        dictionaries.append(pc.utf8_trim_whitespace(pc.cast(encoded.dictionary, pa.string())))
        indices.append(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64))
    distinct = pc.unique(pa.concat_arrays(dictionaries))
    out = []
    for dictionary, index in zip(dictionaries, indices, strict=True):
        mapping = pc.index_in(dictionary, value_set=distinct).to_numpy(zero_copy_only=False).astype(np.int64)
        blank = pc.equal(dictionary, "").to_numpy(zero_copy_only=False)
        mapping = np.append(np.where(blank, -1, mapping), -1)  # position -1: a null cell
        out.append(mapping[index])
    return out


def fy_end(days: npt.NDArray[np.int64] | int) -> npt.NDArray[np.int64]:
    """31 March ending the financial year that holds each day."""
    d = np.asarray(days).astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    end_year = np.where(month >= 4, year + 1, year)
    return ymd(end_year, 3, 31)


def ymd(
    year: npt.NDArray[np.int64] | int, month: npt.NDArray[np.int64] | int, day: npt.NDArray[np.int64] | int
) -> npt.NDArray[np.int64]:
    months = (np.asarray(year) - 1970) * 12 + np.asarray(month) - 1
    days: npt.NDArray[np.int64] = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return days + np.asarray(day, dtype=np.int64) - 1


def add_years(days: npt.NDArray[np.int64], years: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Same day and month `years` later; 29 February -> 28 February in a common year."""
    d = days.astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970 + years
    month_start = d.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (d - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    day = np.where((month == 2) & (day == 29) & ~leap, 28, day)
    return ymd(year, month, day)


def clean(returns: Returns903, filters: dict[str, Any] | None = None) -> Episodes:
    """Join, clean and split the episodes; `report` lists (reason, rows) for every change."""
    ep, hd = returns.episodes, returns.header
    report: list[tuple[str, int]] = []
    n = ep.rows
    report.append(("episodes read", n))

    place_code, place_values = ep.encoded("PLACE")  # a few dozen distinct codes
    unknown = (~np.isin(place_values, list(PLACE_CODES)) & (place_values != ""))[place_code]
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise ModelInputError(
            ep.name,
            f"unknown placement type {place_values[place_code[row]]!r}",
            row=row + 1,
            column="PLACE",
            code="unknown-code",
        )
    decom = ep.dates("DECOM")
    dec = ep.dates("DEC")
    backwards = (dec != NO_DATE) & (decom != NO_DATE) & (dec < decom)
    if backwards.any():
        row = int(np.flatnonzero(backwards)[0])
        raise ModelInputError(
            ep.name,
            "DEC (episode end) is before DECOM (its start)",
            row=row + 1,
            column="DEC",
            code="dec-before-decom",
        )

    # Header and UASC: each child's row from the latest YEAR (the last such row in the file).
    uasc_tab = returns.uasc
    child_arrays = [ep.columns["CHILD"], hd.columns["CHILD"]]
    if uasc_tab is not None:
        child_arrays.append(uasc_tab.columns["CHILD"])
    codes = _codes(*child_arrays)
    ep_child, hd_child = codes[0], codes[1]
    n_children = int(max(c.max(initial=-1) for c in codes)) + 1
    hd_year = hd.years()
    hd_year = np.zeros(hd.rows, np.int64) if hd_year is None else hd_year
    order = np.lexsort((np.arange(hd.rows), hd_year, hd_child))
    last = np.ones(hd.rows, bool)
    last[order[:-1]] = hd_child[order[:-1]] != hd_child[order[1:]]
    latest = order[last[order] & (hd_child[order] >= 0)]
    dob_by_child = np.full(n_children, NO_DATE, np.int64)
    dob_by_child[hd_child[latest]] = hd.dates("DOB")[latest]
    sex_by_child = np.full(n_children, "", object)
    sex_by_child[hd_child[latest]] = hd.strings("SEX")[latest]
    eth_by_child = np.full(n_children, "", object)
    if "ETHNIC" in hd.columns:
        eth_by_child[hd_child[latest]] = hd.strings("ETHNIC")[latest]
    uasc_by_child = np.zeros(n_children, bool)
    if uasc_tab is not None:
        uc = codes[2]
        uasc_by_child[uc[uc >= 0]] = True

    has_child = ep_child >= 0
    dob = np.where(has_child, dob_by_child[np.maximum(ep_child, 0)], NO_DATE)
    keep = has_child.copy()
    report.append(("dropped: no CHILD", int((~has_child).sum())))
    no_decom = keep & (decom == NO_DATE)
    report.append(("dropped: no DECOM", int(no_decom.sum())))
    keep &= ~no_decom
    no_dob = keep & (dob == NO_DATE)
    report.append(("dropped: no DOB (child not in the header or DOB blank)", int(no_dob.sum())))
    keep &= ~no_dob

    idx = np.flatnonzero(keep)
    child, decom, dob = ep_child[idx], decom[idx], dob[idx]
    is_open = dec[idx] == NO_DATE
    dec = np.where(is_open, BIG, dec[idx])
    # Sort by CHILD, DECOM, DEC with blank DEC first (as Social Finance does before de-duplicating).
    dec_sort = np.where(is_open, np.iinfo(np.int64).min, dec)
    order = np.lexsort((dec_sort, decom, child))
    idx, child, decom, dec, is_open, dob = (
        idx[order],
        child[order],
        decom[order],
        dec[order],
        is_open[order],
        dob[order],
    )

    # Duplicate (CHILD, DECOM): keep the last (the latest DEC).
    dup = np.zeros(len(idx), bool)
    dup[:-1] = (child[:-1] == child[1:]) & (decom[:-1] == decom[1:])
    report.append(("dropped: duplicate CHILD and DECOM", int(dup.sum())))
    sel = ~dup
    idx, child, decom, dec, is_open, dob = idx[sel], child[sel], decom[sel], dec[sel], is_open[sel], dob[sel]
    # Duplicate (CHILD, DEC) (open counts as one DEC): keep the first, which need not be adjacent.
    pos = np.arange(len(idx))
    order = np.lexsort((pos, dec, child))
    dup = np.zeros(len(idx), bool)
    dup[order[1:]] = (child[order[1:]] == child[order[:-1]]) & (dec[order[1:]] == dec[order[:-1]])
    report.append(("dropped: duplicate CHILD and DEC", int(dup.sum())))
    sel = ~dup
    idx, child, decom, dec, is_open, dob = idx[sel], child[sel], decom[sel], dec[sel], is_open[sel], dob[sel]

    # Overlaps: an open or overlapping episode ends where the child's next one starts.
    m = len(idx)
    same_next = np.zeros(m, bool)
    same_next[:-1] = child[:-1] == child[1:]
    decom_next = np.full(m, BIG)
    decom_next[:-1] = decom[1:]
    change = same_next & (is_open | (dec > decom_next))
    report.append(("changed: DEC set to the next episode's DECOM (open or overlapping)", int(change.sum())))
    dec = np.where(change, decom_next, dec)
    is_open = is_open & ~change

    years = ep.years()
    last_date = int(max(decom.max(initial=0), dec[~is_open].max(initial=0)))
    data_end = int(fy_end(last_date))
    if years is not None:
        data_start = int(ymd(int(years[idx].min()) - 1, 4, 1))
    else:  # one return: the financial year ending at data_end
        data_start = int(ymd(_year_of(data_end) - 1, 4, 1))

    # Episodes that only change legal or placement status, contiguous with the one before, are merged
    # into it: the earlier keeps DECOM, RNE and PLACE and takes the last merged one's DEC.
    rne_code, rne_values = ep.encoded("RNE")
    status_only = np.isin(rne_values, ["L", "T", "U"])[rne_code[idx]]
    prev_dec = np.full(m, BIG, np.int64)  # BIG never equals a DECOM
    prev_dec[1:] = dec[:-1]
    same_prev = np.zeros(m, bool)
    same_prev[1:] = child[1:] == child[:-1]
    skip = status_only & same_prev & (decom == prev_dec)
    if skip.any():
        anchor = np.maximum.accumulate(np.where(~skip, np.arange(m), 0))
        run_last = skip.copy()
        run_last[:-1] &= ~skip[1:]
        lasts = np.flatnonzero(run_last)
        dec[anchor[lasts]] = dec[lasts]
        is_open[anchor[lasts]] = is_open[lasts]
    report.append(("merged: legal or placement status change only (RNE L, T, U)", int(skip.sum())))
    sel = ~skip
    idx, child, decom, dec, is_open, dob = idx[sel], child[sel], decom[sel], dec[sel], is_open[sel], dob[sel]

    # Ages (Social Finance's year of 365.24 days) and a piece per age band crossed.
    age = (decom - dob) / st.YEAR_IN_DAYS
    end_age = (np.where(is_open, data_end, dec) - dob) / st.YEAR_IN_DAYS
    band0 = np.searchsorted(st.BAND_LOWER, age, side="right") - 1
    crossings = np.maximum(
        np.searchsorted(st.BAND_UPPER, end_age, side="right")
        - np.searchsorted(st.BAND_UPPER, age, side="right"),
        0,
    )
    pieces = crossings + 1
    src = np.repeat(np.arange(len(idx)), pieces)
    j = np.arange(len(src)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    band = band0[src] + j
    valid_band = (band >= 0) & (band < len(st.AGE_BANDS))
    band_c = np.clip(band, 0, len(st.AGE_BANDS) - 1)
    p_dob = dob[src]
    p_decom = np.where(j == 0, decom[src], add_years(p_dob, st.BAND_LOWER[band_c]))
    ages_out = st.BAND_UPPER[band_c] < end_age[src]
    p_dec = np.where(ages_out, add_years(p_dob, st.BAND_UPPER[band_c]), dec[src])
    p_open = is_open[src] & ~ages_out
    p_end_age = np.where(ages_out, st.BAND_UPPER[band_c], end_age[src])
    end_band = np.searchsorted(st.BAND_LOWER, p_end_age, side="right") - 1
    report.append(("added: pieces from splitting episodes at age-band birthdays", int(len(src) - len(idx))))
    out_of_range = ~valid_band | (end_band < 0) | (p_end_age >= st.BAND_UPPER[-1])
    report.append(("dropped: age outside -1 to 30 years", int(out_of_range.sum())))

    p_child = child[src]
    p_place = place_code[idx][src]
    placement = st.placement_of(place_values)[p_place]
    provider_code, provider_values = ep.encoded("PLACE_PROVIDER")
    p_provider = provider_code[idx][src]
    # cost item per distinct (PLACE, PLACE_PROVIDER) pair, then spread to the pieces
    pair = p_place * len(provider_values) + p_provider
    distinct, inverse = np.unique(pair, return_inverse=True)
    item_of_pair = st.cost_item_of(
        place_values[distinct // len(provider_values)], provider_values[distinct % len(provider_values)]
    )
    item = item_of_pair[inverse.reshape(-1)]
    p_dec = np.where(p_open, BIG, p_dec)

    k = len(src)
    same_prev = np.zeros(k, bool)
    same_prev[1:] = p_child[1:] == p_child[:-1]
    before = np.full(k, st.NOT_IN_CARE, np.int8)
    contiguous_prev = np.zeros(k, bool)
    contiguous_prev[1:] = same_prev[1:] & (p_decom[1:] == p_dec[:-1])
    before[1:] = np.where(contiguous_prev[1:], placement[:-1], st.NOT_IN_CARE)
    after = np.full(k, st.NOT_IN_CARE, np.int8)
    after[:-1] = np.where(contiguous_prev[1:], placement[1:], st.NOT_IN_CARE)
    after[p_open] = st.OPEN

    la = ep.strings("LA")[idx][src] if "LA" in ep.columns else np.full(k, "", object)
    p_ep_child = p_child
    pieces_out = Episodes(
        child=p_child,
        decom=p_decom,
        dec=p_dec,
        open_=p_open,
        band=band_c.astype(np.int8),
        end_band=np.clip(end_band, 0, len(st.AGE_BANDS) - 1).astype(np.int8),
        placement=placement,
        item=item,
        before=before,
        after=after,
        row=idx[src] + 1,
        la=la,
        sex=sex_by_child[p_ep_child],
        ethnic=eth_by_child[p_ep_child],
        uasc=uasc_by_child[p_ep_child],
        data_start=data_start,
        data_end=data_end,
        report=report,
    )
    if out_of_range.any():
        pieces_out = pieces_out.take(~out_of_range)
    if filters:
        pieces_out = apply_filters(pieces_out, filters, returns.episodes.name)
    return pieces_out


def _year_of(day: int) -> int:
    return int(np.datetime64(day, "D").astype("datetime64[Y]").astype(np.int64)) + 1970


FILTER_KEYS = ("la", "sex", "ethnic", "uasc")


def apply_filters(episodes: Episodes, filters: dict[str, Any], file: str) -> Episodes:
    """Keep the pieces matching every filter (la, sex, ethnic: a value or a list of values; uasc), as
    Social Finance filters its enriched episodes before estimation (the data's dates stay the whole
    data's)."""
    keep = np.ones(len(episodes), bool)
    for key, value in filters.items():
        values = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        if key == "la":
            keep &= np.isin(episodes.la.astype(str), values)
        elif key == "sex":
            keep &= np.isin(episodes.sex.astype(str), values)
        elif key == "ethnic":
            keep &= np.isin(episodes.ethnic.astype(str), values)
        elif key == "uasc":
            flag = str(value).lower() in ("true", "1", "yes")
            keep &= episodes.uasc == flag
        else:
            raise ModelInputError(
                "parameters",
                f"unknown filter {key!r} (known: {', '.join(FILTER_KEYS)})",
                column="filters",
                code="bad-filter",
            )
    out = episodes.take(keep)
    out.report.append(
        (f"filtered out ({', '.join(f'{k}={v}' for k, v in filters.items())})", int((~keep).sum()))
    )
    if not len(out):
        raise ModelInputError(
            file, "no episodes left after the filters", column="filters", code="no-episodes"
        )
    return out
