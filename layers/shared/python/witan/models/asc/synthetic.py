"""Synthetic CLD: a council's quarterly CLD files generated from known parameters (tests and demos).

People are followed from 31 March to 31 March: each year people in a setting move by known
probabilities (by age group and setting), new people enter at known rates per 1,000 population, and
some are in and out within the year. Sizes and costs follow England 2023-24 (note section 7): about
1.4% of adults in long-term support during a year, two thirds of them 65+; residential and nursing
care about 1,100-1,200 pounds a week; home care about 23 pounds an hour.

The files carry the return's messiness: services repeated in every quarter they span, open ends,
ends never recorded (the service stops appearing), deaths inside open services, unknown reasons,
overlapping services, dummy birth dates, NHS numbers missing on some rows (and on every row for some
people), carers, requests and short-term services, both releases' value spellings and date formats.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

from witan.models.asc.inputs import (
    AGE_BANDS,
    BAND_GROUP,
    BAND_LOWER,
    DAY0,
    NO_DATE,
    REASONS,
    SETTINGS,
    SHARE_95_OF_90_PLUS,
)
from witan.models.asc.states import age_at, band_of, snapshot_day

NB, NR, NS = len(AGE_BANDS), len(REASONS), len(SETTINGS)
# True yearly move probabilities [age group 18-64/65+, setting, to_state (4 settings, ended, died)].
MOVES = np.array(
    [
        [
            [0.75, 0.03, 0.00, 0.02, 0.08, 0.12],
            [0.02, 0.85, 0.01, 0.04, 0.05, 0.03],
            [0.005, 0.015, 0.85, 0.04, 0.07, 0.02],
            [0.01, 0.02, 0.04, 0.82, 0.09, 0.02],
        ],
        [
            [0.55, 0.02, 0.00, 0.01, 0.04, 0.38],
            [0.06, 0.62, 0.00, 0.02, 0.05, 0.25],
            [0.02, 0.04, 0.68, 0.06, 0.10, 0.10],
            [0.03, 0.06, 0.03, 0.62, 0.12, 0.14],
        ],
    ]
)
# By band: people per 1,000 on 31 March and entries per 1,000 a year. England 2023-24 scaled to a
# council gives about 860,000 clients in the year, 65% of them 65+ (checked in the national-scale test).
STOCK_PER_1000 = 0.88 * np.array([8.0, 5.0, 7.0, 12.0, 35.0, 110.0, 220.0])
ENTRIES_PER_1000 = 0.88 * np.array([2.0, 1.0, 1.8, 4.0, 12.0, 40.0, 70.0])
TRANSIENT_SHARE = 0.2  # in and out within a year, per entrant
SETTING_MIX = np.array([[0.03, 0.15, 0.32, 0.50], [0.12, 0.20, 0.12, 0.56]])  # stock [group, setting]
ENTRY_SETTING_MIX = np.array([[0.02, 0.08, 0.30, 0.60], [0.06, 0.12, 0.10, 0.72]])
REASON_MIX = np.array(  # [group, reason]
    [[0.30, 0.02, 0.03, 0.35, 0.20, 0.05, 0.05], [0.60, 0.03, 0.22, 0.03, 0.05, 0.03, 0.04]]
)
ADULT_SHARE = np.array([0.11, 0.33, 0.31, 0.12, 0.09, 0.035, 0.004])  # of adults, by band
WEEKLY_MEDIAN = np.array([[1250.0, 1200.0], [1500.0, 1100.0], [380.0, 330.0], [350.0, 320.0]])

PSR_R1 = (
    ("Physical Support: Personal care support", "Physical Support: Access & mobility only"),
    ("Sensory Support: Support for visual impairment", "Sensory Support: Support for hearing impairment"),
    ("Support with Memory & Cognition",),
    ("Learning Disability Support",),
    ("Mental Health Support",),
    ("Social Support: Substance misuse support", "Social Support: Support for Social Isolation/Other"),
    ("Unknown",),
)
SERVICE_R1 = (
    "Long Term Support: Nursing Care",
    "Long Term Support: Residential Care",
    "Long Term Support: Community",
    "Long Term Support: Community",
)
COLUMNS = (
    "LA Person Unique Identifier",
    "NHS Number",
    "Date of Birth",
    "Gender",
    "Date of Death",
    "Client Type",
    "Primary Support Reason",
    "Event Type",
    "Event Start Date",
    "Event End Date",
    "Event Outcome",
    "Service Type",
    "Service Component",
    "Delivery Mechanism",
    "Unit Cost",
    "Cost Frequency (Unit Type)",
    "Planned units per week",
    "Reporting Period Start Date",
    "Reporting Period End Date",
)


def release2(label: str) -> str:
    """Release 2 spelling: sentence case after each ':' part, '&' as 'and'."""
    parts = label.replace("&", "and").split(": ")
    text = ": ".join(p[:1].upper() + p[1:].lower() for p in parts)
    return text.replace("Cassr", "CASSR").replace("cassr", "CASSR").replace("St-max", "ST-Max")


@dataclass(frozen=True)
class SyntheticSpec:
    adults: int = 250_000  # a council's population aged 18+
    first_year: int = 2023  # first snapshot, 31 March
    years: int = 2  # years of quarterly files after the first snapshot
    population_years: int = 15  # population.csv years after first_year
    seed: int = 1
    moves: npt.NDArray[np.float64] = field(default_factory=lambda: MOVES.copy())
    messy: bool = True
    underscore_names: bool = False  # DHSC-style column names (Event_Start_Date)


@dataclass
class Synthetic:
    files: dict[str, bytes]  # cld_YYYY_Qn.csv -> CSV bytes
    population_csv: bytes
    population: npt.NDArray[np.float64]  # [year, band, sex] from first_year - 1
    true_moves: npt.NDArray[np.float64]  # [group, setting, to_state]
    true_states: npt.NDArray[np.int64]  # [person, snapshot]: setting, -1 none, -2 died
    true_band: npt.NDArray[np.int64]  # [person, snapshot]
    snapshots: list[int]
    people: int


def _population(spec: SyntheticSpec) -> tuple[bytes, npt.NDArray[np.float64]]:
    """Single-year population 0..90 (90 = 90+), growing; and its [year, band, sex] totals as read."""
    years = np.arange(spec.first_year - 1, spec.first_year + spec.years + spec.population_years + 1)
    ages = np.arange(0, 91)
    band = np.searchsorted(BAND_LOWER, ages, side="right") - 1
    per_age = np.zeros(len(ages))
    for b in range(NB - 1):  # spread each band's adults over its single years; 90 holds 90-94 and 95+
        in_band = (band == b) & (ages >= 18)
        per_age[in_band] = spec.adults * ADULT_SHARE[b] / max(in_band.sum() + (b == NB - 2) * 4, 1)
    per_age[90] = per_age[89] * 5 + spec.adults * ADULT_SHARE[NB - 1]
    per_age[ages < 18] = spec.adults * 0.27 / 18
    rows = ["year,sex,age,population"]
    out = np.zeros((len(years), NB, 2))
    for i, y in enumerate(years):  # a handful of years
        growth = (1 + np.where(ages >= 85, 0.025, np.where(ages >= 65, 0.012, 0.004))) ** i
        for x, sex in enumerate(("F", "M")):
            share = np.where(ages >= 75, 0.57 if x == 0 else 0.43, 0.5)
            pop = np.round(per_age * growth * share)
            rows.extend(f"{y},{sex},{a},{int(p)}" for a, p in zip(ages, pop, strict=True))
            adult = ages >= 18
            top = pop[90]
            vals = np.where(ages == 90, top * (1 - SHARE_95_OF_90_PLUS), pop)
            np.add.at(out[i, :, x], band[adult & (ages <= 90)], vals[adult & (ages <= 90)])
            out[i, NB - 1, x] += top * SHARE_95_OF_90_PLUS
    return ("\n".join(rows) + "\n").encode(), out


def generate(spec: SyntheticSpec = SyntheticSpec()) -> Synthetic:
    rng = np.random.default_rng(spec.seed)
    pop_csv, pop = _population(spec)
    snaps = [spec.first_year + k for k in range(spec.years + 1)]
    days = np.array([snapshot_day(y) for y in snaps])
    # Starting stock on the first snapshot: by band (ages uniform in the band), reason, setting.
    n0 = rng.poisson(STOCK_PER_1000 / 1000 * pop[1].sum(axis=1))
    band0 = np.repeat(np.arange(NB), n0)
    g0 = BAND_GROUP[band0]
    people: dict[str, list[npt.NDArray[np.int64]]] = {k: [] for k in ("birth", "sex", "reason")}

    def new_people(band: npt.NDArray[np.int64], at_day: int) -> npt.NDArray[np.int64]:
        """Birth (first of a month) so the person is in `band` on `at_day`; returns their ids."""
        n = len(band)
        upper = np.where(band < NB - 1, np.append(BAND_LOWER[1:], 105)[band], 104)
        # A margin inside the band: rounding the birth to the first of its month cannot cross it.
        age = BAND_LOWER[band] + 0.1 + rng.random(n) * (upper - BAND_LOWER[band] - 0.2)
        raw = at_day - np.floor(age * 365.25).astype(np.int64)
        birth = raw.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        group = BAND_GROUP[band]
        reason = (rng.random(n)[:, None] > np.cumsum(REASON_MIX[group], axis=1)).sum(axis=1)
        sex = (rng.random(n) < np.where(group == 1, 0.43, 0.5)).astype(np.int64)
        first = sum(len(a) for a in people["birth"])
        people["birth"].append(birth)
        people["sex"].append(sex)
        people["reason"].append(np.minimum(reason, NR - 1))
        return np.arange(first, first + n)

    def choose(p: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        choice: npt.NDArray[np.int64] = np.minimum(
            (rng.random(len(p))[:, None] > np.cumsum(p, axis=1)).sum(axis=1), p.shape[1] - 1
        )
        return choice

    services: dict[str, list[npt.NDArray[np.int64]]] = {
        k: [] for k in ("pid", "setting", "start", "end", "silent")
    }

    def add_services(
        pid: npt.NDArray[np.int64],
        setting: npt.NDArray[np.int64],
        start: npt.NDArray[np.int64],
        end: npt.NDArray[np.int64],
    ) -> npt.NDArray[np.int64]:
        first = sum(len(a) for a in services["pid"])
        for k, v in (("pid", pid), ("setting", setting), ("start", start), ("end", end)):
            services[k].append(np.asarray(v, dtype=np.int64))
        services["silent"].append(np.zeros(len(pid), dtype=bool))
        return np.arange(first, first + len(pid))

    pid0 = new_people(band0, int(days[0]))
    set0 = choose(SETTING_MIX[g0])
    start0 = days[0] - rng.integers(30, 5 * 365, len(pid0))
    cur = add_services(pid0, set0, start0, np.full(len(pid0), NO_DATE))
    setting = set0.copy()
    current = cur.copy()
    ids = pid0.copy()
    death_ids, death_days = [], []
    for k in range(spec.years):  # the years between snapshots
        d0, d1 = int(days[k]), int(days[k + 1])
        births = np.concatenate(people["birth"])
        active = setting >= 0
        a_ids, a_set, a_cur = ids[active], setting[active], current[active]
        grp = BAND_GROUP[np.maximum(band_of(age_at(births[a_ids], d0)), 0)]
        to = choose(spec.moves[grp, a_set])
        day = d0 + rng.integers(1, d1 - d0, len(a_ids))
        end = np.concatenate(services["end"])
        leave = to != a_set
        end[a_cur[leave]] = day[leave]
        services["end"] = [end]
        move = leave & (to < NS)
        new = add_services(a_ids[move], to[move], day[move] + 1, np.full(move.sum(), NO_DATE))
        new_setting = np.where(to < NS, to, np.where(to == NS, -1, -2))
        new_current = a_cur.copy()
        new_current[move] = new
        died = to == NS + 1
        death_ids.append(a_ids[died])
        death_days.append(day[died])
        # Entrants: Poisson by band x sex from the year's population (mid-year before d1).
        lam = ENTRIES_PER_1000[:, None] / 1000 * pop[k + 1]
        n_in = rng.poisson(lam)
        band_in = np.repeat(np.repeat(np.arange(NB), 2), n_in.ravel())
        e_ids = new_people(band_in, d1)
        e_set = choose(ENTRY_SETTING_MIX[BAND_GROUP[band_in]])
        e_start = d0 + rng.integers(1, d1 - d0, len(e_ids))
        e_cur = add_services(e_ids, e_set, e_start, np.full(len(e_ids), NO_DATE))
        # In and out within the year.
        n_t = rng.poisson(TRANSIENT_SHARE * n_in.sum())
        band_t = (
            band_in[rng.integers(0, max(len(band_in), 1), n_t)] if len(band_in) else np.zeros(0, np.int64)
        )
        t_ids = new_people(band_t, d1)
        t_start = d0 + rng.integers(1, d1 - d0 - 70, n_t)
        add_services(
            t_ids, choose(ENTRY_SETTING_MIX[BAND_GROUP[band_t]]), t_start, t_start + rng.integers(7, 60, n_t)
        )
        keep = new_setting >= 0
        ids = np.concatenate([a_ids[keep], e_ids])
        setting = np.concatenate([new_setting[keep], e_set])
        current = np.concatenate([new_current[keep], e_cur])
    births = np.concatenate(people["birth"])
    n_people = len(births)
    death = np.full(n_people, NO_DATE, dtype=np.int64)
    if death_ids:
        death[np.concatenate(death_ids)] = np.concatenate(death_days)
    svc = {k: np.concatenate(v) for k, v in services.items()}
    svc["end"] = np.concatenate(services["end"]) if len(services["end"]) > 1 else services["end"][0]
    # True states on each snapshot (before any messiness).
    true_states = np.full((n_people, len(snaps)), -1, dtype=np.int64)
    true_band = np.zeros((n_people, len(snaps)), dtype=np.int64)
    for t, d in enumerate(days):
        inforce = (svc["start"] <= d) & (svc["end"] >= d)
        true_states[svc["pid"][inforce], t] = svc["setting"][inforce]
        true_states[death <= d, t] = -2
        true_band[:, t] = band_of(age_at(births, int(d)))
    files = _files(
        spec, rng, svc, births, np.concatenate(people["sex"]), np.concatenate(people["reason"]), death, days
    )
    return Synthetic(files, pop_csv, pop, spec.moves, true_states, true_band, snaps, n_people)


def _text_dates(days: npt.NDArray[np.int64], iso: bool) -> npt.NDArray[np.object_]:
    """ISO dates, or dd/mm/yyyy (characters rearranged as arrays, not per row)."""
    d = np.asarray(days).astype("datetime64[D]").astype("U10")
    if iso or len(d) == 0:
        return d.astype(object)
    c = d.view("U1").reshape(-1, 10)
    out = np.empty_like(c)
    out[:, 0:2], out[:, 2], out[:, 3:5], out[:, 5], out[:, 6:10] = c[:, 8:10], "/", c[:, 5:7], "/", c[:, 0:4]
    return out.view("U10").ravel().astype(object)


def _files(
    spec: SyntheticSpec,
    rng: np.random.Generator,
    svc: dict[str, npt.NDArray[np.int64]],
    birth: npt.NDArray[np.int64],
    sex: npt.NDArray[np.int64],
    reason: npt.NDArray[np.int64],
    death: npt.NDArray[np.int64],
    days: npt.NDArray[np.int64],
) -> dict[str, bytes]:
    n_people, n_svc = len(birth), len(svc["pid"])
    messy = spec.messy
    nhs = np.array([f"{9000000000 + i * 7:010d}" for i in range(n_people)], dtype=object)
    no_nhs_ever = rng.random(n_people) < (0.03 if messy else 0.0)
    nhs[no_nhs_ever] = ""
    nhs_missing_early = rng.random(n_people) < (0.08 if messy else 0.0)
    dummy_early = rng.random(n_people) < (0.01 if messy else 0.0)
    la = np.array([f"P{i:07d}" for i in range(n_people)], dtype=object)
    # Ends never recorded (not in the January-March quarter, which would move a 31 March state).
    ended = svc["end"] < NO_DATE
    end_month = (
        np.where(ended, svc["end"], 0).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    )
    silent = ended & (end_month >= 3) & (rng.random(n_svc) < (0.3 if messy else 0.0))
    # Deaths inside open services: the service is never closed, it stops appearing.
    died_open = (death[svc["pid"]] <= svc["end"]) & (death[svc["pid"]] < NO_DATE)
    silent |= died_open & (rng.random(n_svc) < (0.5 if messy else 0.0))
    # Overlapping services: a lower service beside residential, nursing or direct payment care,
    # inside a year, not touching any 31 March; some of them with an unknown reason.
    g = rng.random(n_svc) < (0.08 if messy else 0.0)
    g &= (svc["setting"] <= 2) & (svc["start"] < days[0] - 150) & (svc["end"] > days[0] + 150)
    extra_start = np.where(g, days[0] + 20, 0)
    extra = {
        "pid": svc["pid"][g],
        "setting": np.where(svc["setting"][g] == 2, 3, 2),
        "start": extra_start[g],
        "end": extra_start[g] + 90,
        "silent": np.zeros(g.sum(), dtype=bool),
        "psr_unknown": rng.random(g.sum()) < 0.5,
    }
    allsvc = {
        k: np.concatenate([svc[k] if k != "silent" else silent, extra[k]])
        for k in ("pid", "setting", "start", "end", "silent")
    }
    psr_unknown = np.concatenate([np.zeros(n_svc, dtype=bool), extra["psr_unknown"]])
    n_all = len(allsvc["pid"])
    mech_pick = rng.random(n_all)
    mechanism = np.where(
        allsvc["setting"] == 2,
        np.where(mech_pick < 0.8, "Direct Payment", "CASSR Managed Personal Budget"),
        np.where(allsvc["setting"] == 3, np.where(mech_pick < 0.9, "CASSR Commissioned Support", ""), ""),
    ).astype(object)
    group = BAND_GROUP[np.maximum(band_of(age_at(birth[allsvc["pid"]], allsvc["start"])), 0)]
    median = WEEKLY_MEDIAN[allsvc["setting"], group]
    weekly = median * np.exp(rng.normal(0, 0.2, n_all))
    hourly = allsvc["setting"] == 3
    hours = np.round(np.maximum(weekly / 23.0, 1.0), 1)
    unit_cost = np.where(hourly, np.round(weekly / hours, 2), np.round(weekly, 2))
    freq = np.where(hourly, "Hourly", "Weekly").astype(object)
    planned = np.where(hourly, hours, 1.0)
    no_cost = rng.random(n_all) < (0.05 if messy else 0.0)
    psr_choice = rng.integers(0, 2, n_all)
    psr = np.array(
        [
            PSR_R1[r][c % len(PSR_R1[r])]
            for r, c in zip(reason[allsvc["pid"]].tolist(), psr_choice.tolist(), strict=True)
        ],
        dtype=object,
    )
    psr[psr_unknown] = "Unknown"
    files: dict[str, bytes] = {}
    start_day = int(days[0]) + 1
    quarters = []
    d = DAY0 + dt.timedelta(days=start_day)
    while (d - DAY0).days <= days[-1]:
        q_end = dt.date(d.year + (d.month + 2) // 12, (d.month + 2) % 12 + 1, 1) - dt.timedelta(days=1)
        quarters.append(((d - DAY0).days, (q_end - DAY0).days))
        d = q_end + dt.timedelta(days=1)
    header = [
        c.replace(" ", "_").replace("(", "").replace(")", "") if spec.underscore_names else c for c in COLUMNS
    ]
    for qi, (qs, qe) in enumerate(quarters):  # eight quarters for two years
        show = (allsvc["start"] <= qe) & (allsvc["end"] >= qs)
        idx = np.flatnonzero(show)
        if messy:  # a duplicate of some rows inside the same file
            idx = np.concatenate([idx, idx[rng.random(len(idx)) < 0.01]])
        p = allsvc["pid"][idx]
        end_known = (allsvc["end"][idx] <= qe) & ~allsvc["silent"][idx]
        r2 = messy and qi >= 4  # the second year in Release 2 spelling
        iso = not (messy and qi % 2 == 1)
        end_txt = np.where(end_known, _text_dates(np.where(end_known, allsvc["end"][idx], 0), iso), "")
        death_txt = np.where(death[p] <= qe, _text_dates(np.where(death[p] <= qe, death[p], 0), iso), "")
        birth_txt = _text_dates(birth[p] + (p % 27), iso)
        if messy:
            birth_txt = np.where(dummy_early[p] & (qi == 0), "1900-01-01" if iso else "01/01/1900", birth_txt)
        nhs_txt = np.where(nhs_missing_early[p] & (qi == 0), "", nhs[p])
        stype = np.array(SERVICE_R1, dtype=object)[allsvc["setting"][idx]]
        mech = mechanism[idx]
        psr_txt = psr[idx]
        if r2:
            stype = np.array([release2(s) for s in SERVICE_R1], dtype=object)[allsvc["setting"][idx]]
            mech = np.array([release2(m) if m else "" for m in mech], dtype=object)
            psr_txt = np.array([release2(v) for v in psr_txt], dtype=object)
        cost_txt = np.where(no_cost[idx], "", unit_cost[idx].astype(str))
        cols = [
            la[p],
            nhs_txt,
            birth_txt,
            np.where(sex[p] == 0, "Female", "Male"),
            death_txt,
            np.full(len(idx), "Service User" if not r2 else "Service user", dtype=object),
            psr_txt,
            np.full(len(idx), "Service", dtype=object),
            _text_dates(allsvc["start"][idx], iso),
            end_txt,
            np.where(end_known, "NFA: Support ended for other reason", "Continuation of support or services"),
            stype,
            np.full(len(idx), "", dtype=object),
            mech,
            cost_txt,
            freq[idx],
            planned[idx].astype(str),
            np.full(len(idx), _text_dates(np.array([qs]), iso)[0], dtype=object),
            np.full(len(idx), _text_dates(np.array([qe]), iso)[0], dtype=object),
        ]
        if messy:  # requests, carers and short-term services for some of the people
            k = max(len(idx) // 10, 1)
            who = rng.integers(0, n_people, k)
            kind = rng.integers(0, 3, k)
            extra_cols = [
                la[who],
                nhs[who],
                _text_dates(birth[who], iso),
                np.where(sex[who] == 0, "Female", "Male"),
                np.full(k, "", dtype=object),
                np.where(kind == 1, "Carer", "Service User"),
                np.full(k, "Unknown", dtype=object),
                np.where(kind == 0, "Request", "Service"),
                np.full(k, _text_dates(np.array([qs + 5]), iso)[0], dtype=object),
                np.full(k, _text_dates(np.array([qs + 20]), iso)[0], dtype=object),
                np.full(k, "NFA: Information and advice or signposting", dtype=object),
                np.where(
                    kind == 0,
                    "",
                    np.where(
                        kind == 1,
                        "Unpaid carer support: Direct to unpaid carer",
                        "Short Term Support: ST-Max",
                    ),
                ),
                np.full(k, "", dtype=object),
                np.full(k, "", dtype=object),
                np.full(k, "", dtype=object),
                np.full(k, "", dtype=object),
                np.full(k, "", dtype=object),
                np.full(k, cols[17][0] if len(idx) else "", dtype=object),
                np.full(k, cols[18][0] if len(idx) else "", dtype=object),
            ]
            cols = [
                np.concatenate([a.astype(object), b.astype(object)])
                for a, b in zip(cols, extra_cols, strict=True)
            ]
        table = pa.table(
            {h: pa.array(np.asarray(c).astype(str), pa.string()) for h, c in zip(header, cols, strict=True)}
        )
        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        y = (DAY0 + dt.timedelta(days=qe)).year
        files[f"cld_{qi + 1:02d}_{y}.csv"] = buf.getvalue()
    return files


# The demo's scenario: fewer residential entries (prevention), a quarter of the rest sent to community
# support commissioned by the council instead.
PREVENTION_SCENARIO = {
    "name": "prevention",
    "description": "10% fewer residential entries from the first projected year, and a quarter of the "
    "rest supported in the community instead",
    "entry_multipliers": [{"setting": "residential", "factor": 0.9}],
    "entry_redirects": [
        {"from_setting": "residential", "to_setting": "community-commissioned", "share": 0.25}
    ],
}


def write_synthetic(folder: str | Path, spec: SyntheticSpec = SyntheticSpec()) -> Path:
    """A demo inputs folder: the quarterly cld_*.csv files, population.csv and prevention.json."""
    import json

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    syn = generate(spec)
    for name, data in syn.files.items():
        (out / name).write_bytes(data)
    (out / "population.csv").write_bytes(syn.population_csv)
    (out / "prevention.json").write_text(json.dumps(PREVENTION_SCENARIO, indent=1) + "\n")
    return out
