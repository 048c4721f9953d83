"""Synthetic SSDA903 returns of a council in steady state (for tests, the demo and the benchmark).

In line with England's figures (method note s.7): 83,630 children looked after on 31 March 2024,
33,050 starts a year (so a mean stay of about 2.5 years), about 29% of starts aged 16+, about
two-thirds of children in foster care. Children enter for 20 years before the first return so the
population is in steady state; each period of care is cut into placements (and some legal-status-only
episodes, which the model merges back). Several collection YEARs are stacked as councils' data
platforms stack them: an episode appears in each year's return it overlaps, still open (DEC blank)
in the years before it ends. DfE column names and dd/mm/yyyy dates. Fully vectorised.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

# Share of starts by age band (under 1, 1-4, 5-9, 10-15, 16+), DfE 2023-24 (about 29% aged 16+).
START_AGE_SHARE = np.array([0.18, 0.13, 0.13, 0.27, 0.29])
AGE_LOW = np.array([0.0, 1.0, 5.0, 10.0, 16.0])
AGE_HIGH = np.array([1.0, 5.0, 10.0, 16.0, 17.9])
# Placement group by age band at an episode's start: fostering, residential, supported, other
PLACEMENT_MIX = np.array(
    [
        [0.78, 0.02, 0.00, 0.20],
        [0.78, 0.02, 0.00, 0.20],
        [0.84, 0.06, 0.00, 0.10],
        [0.70, 0.18, 0.02, 0.10],
        [0.46, 0.14, 0.34, 0.06],
    ]
)
CODES = (
    (("U1", "U2", "U3", "U4", "U5", "U6"), (0.08, 0.05, 0.07, 0.45, 0.30, 0.05)),
    (("K2", "R1", "S1", "P3"), (0.85, 0.05, 0.05, 0.05)),
    (("H5", "P2", "K3"), (0.80, 0.10, 0.10)),
    (("P1", "A5", "A6", "A4", "R5", "K1", "Z1"), (0.45, 0.20, 0.10, 0.10, 0.07, 0.03, 0.05)),
)
ETHNIC = ("WBRI", "WOTH", "MWBC", "MOTH", "AIND", "APKN", "BAFR", "BCRB", "OOTH", "REFU")
ETHNIC_SHARE = (0.62, 0.08, 0.04, 0.05, 0.03, 0.04, 0.05, 0.03, 0.04, 0.02)
REC_END = ("E4A", "E11", "E12", "E13", "E8", "E17", "E41", "E45")
REC_END_SHARE = (0.30, 0.08, 0.08, 0.05, 0.30, 0.09, 0.05, 0.05)
EPISODE_HEADER = (
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "HOME_POST",
    "PL_POST",
    "URN",
    "LA",
    "YEAR",
)
HEADER_HEADER = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB", "LA", "YEAR")
UASC_HEADER = ("CHILD", "SEX", "DOB", "DUC", "LA", "YEAR")
EPOCH_YEAR = 1970


@dataclass
class Synthetic:
    """The three tables as column name -> array of str (CSV-ready)."""

    episodes: dict[str, npt.NDArray[np.str_]]
    header: dict[str, npt.NDArray[np.str_]]
    uasc: dict[str, npt.NDArray[np.str_]]


def _day(year: int, month: int, day: int) -> int:
    return int(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D").astype(np.int64))


def dmy(days: npt.NDArray[np.int64]) -> npt.NDArray[np.str_]:
    """Days since 1970-01-01 -> 'dd/mm/yyyy' strings."""
    d = np.asarray(days).astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    year = (d.astype("datetime64[Y]").astype(np.int64) + EPOCH_YEAR).astype(str)
    month = np.char.zfill((month_start.astype(np.int64) % 12 + 1).astype(str), 2)
    day = np.char.zfill(((d - month_start.astype("datetime64[D]")).astype(np.int64) + 1).astype(str), 2)
    return np.char.add(np.char.add(np.char.add(np.char.add(day, "/"), month), "/"), year)


def generate(
    starts_per_year: float = 150.0,
    first_year: int = 2019,
    last_year: int = 2024,
    la: str = "Synthshire",
    seed: int = 0,
    child_offset: int = 0,
) -> Synthetic:
    """Stacked returns for YEARs first_year..last_year (each ending 31 March YEAR) of a council with
    about `starts_per_year` children starting care a year (England: 33,050 over 153 councils)."""
    rng = np.random.default_rng(seed)
    burn_in = 20
    t0 = _day(first_year - 1 - burn_in, 4, 1)
    t_end = _day(last_year, 3, 31)
    # Periods of care, one child each.
    n_periods = rng.poisson(starts_per_year * (t_end - t0) / 365.25)
    start = np.sort(rng.integers(t0, t_end + 1, n_periods))
    band = rng.choice(5, n_periods, p=START_AGE_SHARE)
    age_years = AGE_LOW[band] + rng.random(n_periods) * (AGE_HIGH[band] - AGE_LOW[band])
    dob = start - np.round(age_years * 365.25).astype(np.int64)
    # Stays: many short, some long (mean about 2.5 years); nobody stays past 18.
    long_stay = rng.random(n_periods) < np.where(band <= 1, 0.65, np.where(band == 4, 0.45, 0.55))
    years = np.where(long_stay, rng.exponential(6.0, n_periods), rng.exponential(0.35, n_periods))
    end = start + np.maximum(1, np.round(years * 365.25)).astype(np.int64)
    eighteen = dob + np.round(18 * 365.25).astype(np.int64)
    end = np.minimum(end, eighteen)
    end = np.maximum(end, start + 1)
    # Episodes: 1 + Poisson(0.7 a year) placement changes, plus some legal-status-only episodes.
    n_moves = rng.poisson(0.7 * (end - start) / 365.25)
    n_ep = 1 + n_moves
    period = np.repeat(np.arange(n_periods), n_ep)
    first = np.r_[True, period[1:] != period[:-1]]
    cut = rng.random(len(period))
    order = np.lexsort((cut, period))
    cut = cut[order]
    cut[first] = 0.0
    decom = start[period] + np.floor(cut * (end - start)[period]).astype(np.int64)
    last = np.r_[period[1:] != period[:-1], True]
    dec = np.empty_like(decom)
    dec[:-1] = decom[1:]
    dec[last] = end[period[last]]
    keep = dec > decom
    keep |= last  # a period's last episode always stays
    period, decom, dec, first, last = period[keep], decom[keep], dec[keep], first[keep], last[keep]
    first = np.r_[True, period[1:] != period[:-1]]
    age_at = (decom - dob[period]) / 365.25
    ep_band = np.clip(np.searchsorted(AGE_LOW, age_at, side="right") - 1, 0, 4)
    u = rng.random(len(decom))
    group = (u[:, None] > np.cumsum(PLACEMENT_MIX[ep_band], axis=1)).sum(axis=1).clip(0, 3)
    place = np.empty(len(decom), dtype="<U2")
    for g, (codes, share) in enumerate(CODES):  # four placement groups
        hit = group == g
        place[hit] = rng.choice(codes, hit.sum(), p=np.array(share) / sum(share))
    rne = np.where(first, "S", "P").astype("<U1")
    # About 1 in 6 later episodes change only the legal status: same placement as the one before.
    legal = ~first & (rng.random(len(decom)) < 0.17)
    prev = np.r_[0, np.arange(len(decom) - 1)]
    place = np.where(legal, place[prev], place)
    # a run of legal-status episodes keeps the placement of the run's first episode
    anchor = np.maximum.accumulate(np.where(~legal, np.arange(len(decom)), 0))
    place = place[anchor]
    rne = np.where(legal, rng.choice(np.array(["L", "T", "U"]), len(decom), p=[0.7, 0.2, 0.1]), rne)
    provider = np.full(len(decom), "PR1", dtype="<U3")
    foster = np.isin(place, ["U4", "U5", "U6"])
    provider[foster] = np.where(rng.random(foster.sum()) < 0.58, "PR1", "PR4")
    resid = np.isin(place, ["K2", "R1", "S1", "P3"])
    provider[resid] = np.where(rng.random(resid.sum()) < 0.2, "PR1", "PR4")
    provider[np.isin(place, ["H5", "P2", "K3"])] = "PR4"
    provider[np.isin(place, ["P1"])] = "PR0"
    rec = np.where(last, rng.choice(REC_END, len(decom), p=REC_END_SHARE), "X1")
    reason = np.where(
        np.r_[rne[1:] == "P", False] & ~last, rng.choice(["CARPL", "PLACE", "ALLEG", "OTHER"], len(decom)), ""
    )
    ls = np.where(rng.random(len(decom)) < 0.7, "C2", np.where(rng.random(len(decom)) < 0.6, "V2", "C1"))
    cin = rng.choice(
        ["N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8"],
        len(decom),
        p=[0.63, 0.06, 0.04, 0.08, 0.05, 0.02, 0.02, 0.10],
    )

    # One row per (episode, YEAR whose return it overlaps); open (DEC blank) in years before it ends.
    year_start = np.array([_day(y - 1, 4, 1) for y in range(first_year, last_year + 1)])
    year_end = np.array([_day(y, 3, 31) for y in range(first_year, last_year + 1)])
    overlap = (decom[:, None] <= year_end[None, :]) & (dec[:, None] > year_start[None, :])
    ep_i, y_i = np.nonzero(overlap)
    ended = dec[ep_i] <= year_end[y_i]
    child_of_period = child_offset + 100000 + np.arange(n_periods)
    child = child_of_period[period]
    sex = rng.choice(["1", "2"], n_periods, p=[0.56, 0.44])
    ethnic = rng.choice(ETHNIC, n_periods, p=ETHNIC_SHARE)
    uasc = (band >= 3) & (rng.random(n_periods) < 0.15)
    sex = np.where(uasc, "1", sex)
    p_of = period[ep_i]
    episodes = {
        "CHILD": child[ep_i].astype(str),
        "DECOM": dmy(decom[ep_i]),
        "RNE": rne[ep_i],
        "LS": ls[ep_i],
        "CIN": cin[ep_i],
        "PLACE": place[ep_i],
        "PLACE_PROVIDER": provider[ep_i],
        "DEC": np.where(ended, dmy(dec[ep_i]), ""),
        "REC": np.where(ended, rec[ep_i], ""),
        "REASON_PLACE_CHANGE": np.where(ended, reason[ep_i], ""),
        "HOME_POST": np.char.add("SY", (p_of % 9 + 1).astype(str)),
        "PL_POST": np.char.add("SY", ((p_of + ep_i) % 9 + 1).astype(str)),
        "URN": np.where(
            np.isin(place[ep_i], ["K2", "R1"]),
            np.char.add("SC", (400000 + p_of % 999).astype(str)),
            "XXXXXXX",
        ),
        "LA": np.full(len(ep_i), la),
        "YEAR": (first_year + y_i).astype(str),
    }
    # Header: one row per child and YEAR with an episode in that year.
    pairs = np.unique(p_of.astype(np.int64) * 100 + y_i)
    hp, hy = pairs // 100, pairs % 100
    header = {
        "CHILD": child_of_period[hp].astype(str),
        "SEX": sex[hp],
        "DOB": dmy(dob[hp]),
        "ETHNIC": ethnic[hp],
        "UPN": np.char.add("A", (800000000000 + hp).astype(str)),
        "MOTHER": np.full(len(hp), ""),
        "MC_DOB": np.full(len(hp), ""),
        "LA": np.full(len(hp), la),
        "YEAR": (first_year + hy).astype(str),
    }
    u_rows = uasc[hp]
    uasc_table = {
        "CHILD": header["CHILD"][u_rows],
        "SEX": header["SEX"][u_rows],
        "DOB": header["DOB"][u_rows],
        "DUC": dmy(eighteen[hp][u_rows]),
        "LA": header["LA"][u_rows],
        "YEAR": header["YEAR"][u_rows],
    }
    return Synthetic(episodes, header, uasc_table)


def csv_bytes(table: dict[str, npt.NDArray[np.str_]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    names = list(table)
    writer.writerow(names)
    writer.writerows(zip(*(table[n].tolist() for n in names), strict=True))
    return buf.getvalue().encode()


def write_synthetic(folder: Path, data: Synthetic) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "episodes.csv").write_bytes(csv_bytes(data.episodes))
    (folder / "header.csv").write_bytes(csv_bytes(data.header))
    (folder / "uasc.csv").write_bytes(csv_bytes(data.uasc))
    return folder
