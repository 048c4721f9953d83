"""Where the tests find witan.models.demography's Bristol inputs and R outputs (EPL data kept outside
the repository; the tests that read them skip when it is absent), and small helpers."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
from witan.models.demography.inputs import AGES, SEXES, DemographyInputs, normalise_header, read_inputs

PEERS = Path(os.environ.get("WITAN_PEERS", Path(__file__).resolve().parents[4] / "shared/peers"))
BRISTOL = PEERS / "witan-demography-bristol"
BRISTOL_INPUTS = BRISTOL / "inputs"
EXPECTED = BRISTOL / "expected"
HAVE_BRISTOL = (BRISTOL_INPUTS / "bristol_hist_popn_mye.csv").is_file()

# role -> the Bristol test file (the R reference's test inputs)
BRISTOL_FILES = {
    "population": "bristol_hist_popn_mye.csv",
    "births": "bristol_hist_births_mye.csv",
    "births_by_age_of_mother": "bristol_ons_proj_births_age_mother.csv",
    "deaths": "bristol_hist_deaths_mye.csv",
    "domestic_in": "bristol_hist_domestic_inmigrants.csv",
    "domestic_out": "bristol_hist_domestic_outmigrants.csv",
    "international_in": "bristol_hist_international_inmigrants.csv",
    "international_out": "bristol_hist_international_outmigrants.csv",
    "fertility_trend": "future_fertility_trend_assumption.csv",
    "mortality_trend": "death_improvement.csv",  # full precision: what R read
}


def bristol_files(mortality_trend: str = "death_improvement.csv") -> dict[str, tuple[str, bytes]]:
    files = {role: (name, (BRISTOL_INPUTS / name).read_bytes()) for role, name in BRISTOL_FILES.items()}
    files["mortality_trend"] = (mortality_trend, (BRISTOL_INPUTS / mortality_trend).read_bytes())
    return files


def bristol_inputs(mortality_trend: str = "death_improvement.csv") -> DemographyInputs:
    return read_inputs(bristol_files(mortality_trend))


def expected(name: str, folder: Path = EXPECTED) -> dict[int | None, np.ndarray]:
    """An R output file (one GSS code) as year -> [sex, age] values (year None when it has none)."""
    table = pacsv.read_csv(io.BytesIO((folder / name).read_bytes()))
    table = table.rename_columns([normalise_header(c) for c in table.column_names])
    value = next(c for c in table.column_names if c not in ("gss_code", "sex", "age", "year"))
    sex = np.array([SEXES.index(s) for s in table.column("sex").to_pylist()])
    age = np.asarray(table.column("age"))
    years = np.asarray(table.column("year")) if "year" in table.column_names else np.full(sex.size, -1)
    values = np.asarray(table.column(value), dtype=np.float64)
    out: dict[int | None, np.ndarray] = {}
    for y in np.unique(years):
        grid = np.full((2, AGES), np.nan)
        sel = years == y
        grid[sex[sel], age[sel]] = values[sel]
        out[None if y == -1 else int(y)] = grid
    return out


def max_diff(ours: np.ndarray, theirs: np.ndarray) -> float:
    assert not np.isnan(theirs).any(), "the R file lacks some (sex, age) rows"
    return float(np.abs(ours - theirs).max())


def only_councils(files: dict[str, tuple[str, bytes]], keep: list[str]) -> dict[str, tuple[str, bytes]]:
    """The same files with only the rows of `keep` (GSS codes) in the per-council ones."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = {}
    for role, (name, data) in files.items():
        if role.endswith("_trend"):
            out[role] = (name, data)
            continue
        table = pacsv.read_csv(io.BytesIO(data))
        table = table.filter(pc.is_in(table.column(0), pa.array(keep)))
        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        out[role] = (name, buf.getvalue())
    return out


def tiny_files() -> dict[str, tuple[str, bytes]]:
    """One council worked by hand in test_demography_model.py: every population cell 100 in
    2012-2014; births F 40, M 42; 10 births to women of 30 in 2013; 1 death in every cell;
    flows 3 domestic in, 1 out, 2 international in, 1 out in every cell, 2013-2014."""
    from witan.models.demography.synthetic import fertility_trend, mortality_trend

    def grid(value: str, years: range, ages: range = range(AGES), sexes: tuple[str, ...] = SEXES) -> str:
        rows = [f"E09000001,{s},{a},{y},{value}" for y in years for s in sexes for a in ages]
        return "\n".join(rows) + "\n"

    head = "GSS.Code,Sex,Age,Year,Value\n"
    files = {
        "population": head + grid("100", range(2012, 2015)),
        "births": head + "".join(f"E09000001,F,0,{y},40\nE09000001,M,0,{y},42\n" for y in (2013, 2014)),
        "births_by_age_of_mother": head + "E09000001,F,30,2013,10\n",
        "deaths": head + grid("1", range(2013, 2015)),
        "domestic_in": head + grid("3", range(2013, 2015)),
        "domestic_out": head + grid("1", range(2013, 2015)),
        "international_in": head + grid("2", range(2013, 2015)),
        "international_out": head + grid("1", range(2013, 2015)),
    }
    out = {role: (f"{role}.csv", text.encode()) for role, text in files.items()}
    out["fertility_trend"] = ("fertility_trend.csv", fertility_trend())
    out["mortality_trend"] = ("mortality_trend.csv", mortality_trend())
    return out
