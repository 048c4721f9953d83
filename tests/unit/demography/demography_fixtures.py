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
