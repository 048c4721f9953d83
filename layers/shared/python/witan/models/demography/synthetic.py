"""Made-up but plausible inputs for tests and the benchmark: a few councils (or hundreds), their
history 2001-2014 and national trends, as CSV bytes by role with witan's R-style headers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

from witan.models.demography.inputs import AGES, SEXES

FIRST_YEAR, LAST_YEAR = 2001, 2014


def council_codes(n: int) -> list[str]:
    """Made-up GSS-like codes (E09 series numbers beyond any real one)."""
    return [f"E0990{i:04d}" for i in range(n)]


def _csv(columns: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(columns), buf, pacsv.WriteOptions(quoting_style="none"))
    return buf.getvalue()


def _grid(
    codes: list[str], years: npt.NDArray[np.int64], ages: npt.NDArray[np.int64]
) -> dict[str, npt.NDArray[np.generic]]:
    """Key columns of every (council, year, sex, age), council slowest."""
    shape = (len(codes), len(years), 2, len(ages))
    idx = np.indices(shape).reshape(4, -1)
    return {
        "GSS.Code": np.asarray(codes, dtype=object)[idx[0]],
        "Sex": np.asarray(SEXES, dtype=object)[idx[2]],
        "Age": ages[idx[3]],
        "Year": years[idx[1]],
    }


def synthetic_files(
    councils: int = 3, seed: int = 7, duplicate_domestic: bool = False
) -> dict[str, tuple[str, bytes]]:
    """{role: (file name, CSV bytes)} for `councils` made-up councils."""
    rng = np.random.default_rng(seed)
    codes = council_codes(councils)
    years = np.arange(FIRST_YEAR, LAST_YEAR + 1)
    ages = np.arange(AGES)
    c, y = len(codes), len(years)
    size = rng.uniform(60_000, 600_000, c)
    growth = rng.uniform(0.0, 0.012, c)
    profile = np.exp(-ages / 55.0) * (1 + 0.3 * np.exp(-(((ages - 25) / 8.0) ** 2)))
    profile[-1] = profile[-2] * 4  # 90+ gathers many ages
    profile /= profile.sum() * 2
    scale = size[:, None] * (1 + growth[:, None]) ** (years - FIRST_YEAR)[None, :]
    population = np.round(scale[:, :, None, None] * profile * rng.uniform(0.95, 1.05, (c, y, 2, AGES)))
    qx = np.minimum(0.0004 * np.exp(0.085 * (ages - 40.0)) + 0.0001, 0.5)
    qx[0] = 0.004
    deaths = rng.poisson(population * qx * np.array([0.9, 1.1])[:, None]).astype(np.float64)
    births_total = scale * 0.012 * rng.uniform(0.95, 1.05, (c, y))
    births = np.round(births_total[:, :, None] * np.array([100 / 205, 105 / 205]))
    flows = {}
    for i, (role, rate) in enumerate(
        (
            ("domestic_in", 0.05),
            ("domestic_out", 0.05),
            ("international_in", 0.01),
            ("international_out", 0.006),
        )
    ):
        young = 1 + 2 * np.exp(-(((ages - 21 - i) / 6.0) ** 2))
        flows[role] = rng.poisson(population * rate * young / young.mean()).astype(np.float64)

    keys = _grid(codes, years, ages)
    files = {"population": ("population.csv", _csv({**keys, "Popn": population.ravel()}))}
    files["deaths"] = ("deaths.csv", _csv({**keys, "Deaths": deaths.ravel()}))
    names = {
        "domestic_in": "DomIn",
        "domestic_out": "DomOut",
        "international_in": "IntIn",
        "international_out": "IntOut",
    }
    for role, values in flows.items():
        table = {**keys, names[role]: values.ravel()}
        if duplicate_domestic and role.startswith("domestic"):
            table = {k: np.concatenate([v, v]) for k, v in table.items()}  # as the R reference's files
        files[role] = (f"{role}.csv", _csv(table))
    bkeys = _grid(codes, years, np.array([0]))
    files["births"] = ("births.csv", _csv({**bkeys, "Births": births[:, :, :, None].ravel()}))
    # Births by age of mother: one year (the latest but one), women 15-44.
    mother_ages = np.arange(15, 45)
    asfr = 0.11 * np.exp(-(((mother_ages - 31) / 6.5) ** 2))
    women = population[:, -2, 0, 15:45]
    by_mother = women * asfr * rng.uniform(0.9, 1.1, women.shape)
    n = c * mother_ages.size
    files["births_by_age_of_mother"] = (
        "births_by_age_of_mother.csv",
        _csv(
            {
                "GSS.Code": np.repeat(np.asarray(codes, dtype=object), mother_ages.size),
                "Sex": np.full(n, "F", dtype=object),
                "Age": np.tile(mother_ages, c),
                "Year": np.full(n, LAST_YEAR - 1),
                "Births": by_mother.ravel(),
            }
        ),
    )
    files["fertility_trend"] = ("fertility_trend.csv", fertility_trend())
    files["mortality_trend"] = ("mortality_trend.csv", mortality_trend())
    return files


def fertility_trend(last_year: int = 2114) -> bytes:
    """National ASFR per 1000 women, ages 15-49, slowly falling; low and high drift 0.4% a year apart."""
    ages = np.arange(15, 50)
    years = np.arange(FIRST_YEAR, last_year + 1)
    a, y = np.meshgrid(ages, years, indexing="ij")
    base = 110 * np.exp(-(((a - 30) / 6.5) ** 2)) * (1 - 0.001 * (y - FIRST_YEAR)) + 0.5
    old = base * (1 + 0.0005 * (y - FIRST_YEAR))
    spread = np.minimum(0.004 * (y - FIRST_YEAR), 0.3)  # only ratios matter: variants drift apart
    return _csv(
        {
            "Age": a.ravel(),
            "Year": y.ravel(),
            "Principal": base.ravel(),
            "Low": (base * (1 - spread)).ravel(),
            "High": (base * (1 + spread)).ravel(),
            "Principal.2012": old.ravel(),
            "Low.2012": (old * (1 - spread)).ravel(),
            "High.2012": (old * (1 + spread)).ravel(),
        }
    )


def mortality_trend(last_year: int = 2050) -> bytes:
    """National qx per 100,000 by sex, ages -1..125, improving about 1.5% a year."""
    ages = np.arange(-1, 126)
    years = np.arange(FIRST_YEAR, last_year + 1)
    s, a, y = np.meshgrid(np.arange(2), ages, years, indexing="ij")
    qx = 100_000 * np.minimum(0.0004 * np.exp(0.085 * (a - 40.0)) + 0.0001, 0.6) * (1 + 0.15 * s)
    qx = qx * 0.985 ** (y - FIRST_YEAR)
    return _csv(
        {
            "Sex": np.asarray(SEXES, dtype=object)[s.ravel()],
            "Age": a.ravel(),
            "Year": y.ravel(),
            "Principal": qx.ravel(),
            "Low": (qx * 0.99 ** (y - FIRST_YEAR)).ravel(),
            "High": (qx * 1.005 ** (y - FIRST_YEAR)).ravel(),
        }
    )


def write_files(folder: str | Path, files: dict[str, tuple[str, bytes]]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for role, (_, data) in files.items():
        (folder / f"{role}.csv").write_bytes(data)
    return folder


def write_synthetic(folder: str | Path, councils: int = 3, seed: int = 7) -> Path:
    return write_files(folder, synthetic_files(councils, seed))
