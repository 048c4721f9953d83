"""Fit and project: every council at once, arrays [council, year, sex, age], a loop over years only
(method note section 5), and the output tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from witan.modelrun.errors import ModelInputError
from witan.models.demography import fertility, migration, mortality
from witan.models.demography.inputs import AGES, MAX_AGE, SEXES, DemographyInputs
from witan.models.demography.scenarios import Settings, apply_scenario, resolve
from witan.models.demography.years import need_year

MALE_SHARE = 105 / 205  # share of newborns who are boys (the R reference's p)
AGE_GROUPS = ((0, 15, "0-15"), (16, 64, "16-64"), (65, MAX_AGE, "65+"))  # children, working age, older


@dataclass
class Fitted:
    """What a projection needs: rates and net migration for each projected year, and the start."""

    settings: Settings
    councils: tuple[str, ...]
    start: npt.NDArray[np.float64]  # [council, sex, age]: population of the year before the first
    historic_asfr: npt.NDArray[np.float64]  # [council, sex, age], labelled the fertility base year
    fertility_rates: npt.NDArray[np.float64]  # [council, year, sex, age]
    initial_mortality: npt.NDArray[np.float64]  # [council, sex, age]
    mortality_rates: npt.NDArray[np.float64]  # [council, year, sex, age]
    migration_means: dict[str, npt.NDArray[np.float64]]  # flow -> [council, sex, age]
    net_migration: npt.NDArray[np.float64]  # [council, year, sex, age]


@dataclass
class Projection:
    fitted: Fitted
    population: npt.NDArray[np.float64]  # [council, year, sex, age], projected years
    births: npt.NDArray[np.float64]  # [council, year, sex]
    deaths: npt.NDArray[np.float64]  # [council, year, sex, age]


def settings_for(inputs: DemographyInputs, parameters: dict[str, Any]) -> Settings:
    """The baseline settings, data-dependent defaults taken from the files as a whole."""
    t = inputs.tables
    flows = [t[f] for f in migration.FLOWS]
    return resolve(
        parameters,
        latest_population_year=int(t["population"].years[-1]),
        latest_births_year=int(t["births"].years[-1]),
        latest_deaths_year=int(t["deaths"].years[-1]),
        # the first year with deaths, births and the population of the year before
        earliest_mortality_year=max(
            int(t["deaths"].years[0]), int(t["births"].years[0]), int(t["population"].years[0]) + 1
        ),
        migration_span=(max(int(f.years[0]) for f in flows), min(int(f.years[-1]) for f in flows)),
    )


def fit(inputs: DemographyInputs, settings: Settings) -> Fitted:
    t, councils = inputs.tables, inputs.councils
    years = settings.years
    need_year(t["population"], settings.first_year - 1, councils, why="the start of the projection")
    if settings.fertility_base_year >= settings.first_year:
        raise ModelInputError(
            "parameters",
            f"the fertility base year {settings.fertility_base_year} must be before the first projected year",
            column="fertility_base_year",
            code="invalid-parameter",
        )
    if (
        settings.mortality_years[1] >= settings.first_year
        or settings.migration_years[1] >= settings.first_year
    ):
        raise ModelInputError(
            "parameters",
            "the mortality and migration windows must end before the first projected year",
            column="mortality_years"
            if settings.mortality_years[1] >= settings.first_year
            else "migration_years",
            code="invalid-parameter",
        )
    fert_trend = _trend(inputs, "fertility_trend", settings.fertility_variant == "applynationaltrend")
    mort_method, mort_variant = settings.mortality_variant.split("-")
    mort_trend = _trend(inputs, "mortality_trend", mort_variant == "applynationaltrend")
    asfr = fertility.historic_asfr(
        t["population"], t["births"], t["births_by_age_of_mother"], settings.fertility_base_year, councils
    )
    fert = fertility.projected_asfr(
        asfr, settings.fertility_variant, years, fert_trend, settings.fertility_scenario
    )
    initial = mortality.initial_asmr(
        t["population"], t["births"], t["deaths"], settings.mortality_years, mort_method, councils
    )
    mort = mortality.projected_asmr(initial, mort_variant, years, mort_trend, settings.mortality_scenario)
    means = migration.averages(t, settings.migration_years, councils)
    multipliers = {settings.multiplier(y) for y in years}
    nets = {m: migration.net(means, m) for m in multipliers}
    net = np.stack([nets[settings.multiplier(y)] for y in years], axis=1)
    return Fitted(
        settings,
        councils,
        t["population"].at(settings.first_year - 1).copy(),
        asfr,
        fert,
        initial,
        mort,
        means,
        net,
    )


def _trend(inputs: DemographyInputs, role: str, needed: bool) -> Any:
    table = inputs.fertility_trend if role == "fertility_trend" else inputs.mortality_trend
    if needed and table is None:
        raise ModelInputError(
            f"{role}.csv",
            f"the {role} input is missing (the chosen variant applies the national trend)",
            code="missing-input",
        )
    return table


def project_arrays(
    start: npt.NDArray[np.float64],
    fertility_rates: npt.NDArray[np.float64],
    mortality_rates: npt.NDArray[np.float64],
    net_migration: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The cohort-component loop, every council at once: (population, births, deaths) of each
    projected year from the start population [council, sex, age] and rates [council, year, sex, age]."""
    n_years = fertility_rates.shape[1]
    population = np.empty((start.shape[0], n_years, 2, AGES))
    births = np.empty((start.shape[0], n_years, 2))
    deaths = np.empty_like(population)
    at_risk = start
    for i in range(n_years):
        total = (fertility_rates[:, i] * at_risk).sum(axis=(1, 2))  # births to every mother
        births[:, i, 1] = MALE_SHARE * total
        births[:, i, 0] = (1 - MALE_SHARE) * total
        aged = np.empty_like(at_risk)
        aged[:, :, 0] = births[:, i]
        aged[:, :, 1:MAX_AGE] = at_risk[:, :, : MAX_AGE - 1]
        aged[:, :, MAX_AGE] = at_risk[:, :, MAX_AGE - 1] + at_risk[:, :, MAX_AGE]
        # Deaths use the unaged population at the same age label (the R reference's choice).
        deaths[:, i] = mortality_rates[:, i] * at_risk
        population[:, i] = (aged - deaths[:, i]) + net_migration[:, i]
        at_risk = population[:, i]
    return population, births, deaths


def project(fitted: Fitted) -> Projection:
    population, births, deaths = project_arrays(
        fitted.start, fitted.fertility_rates, fitted.mortality_rates, fitted.net_migration
    )
    return Projection(fitted, population, births, deaths)


def run(
    inputs: DemographyInputs, parameters: dict[str, Any], scenario: dict[str, Any] | None = None
) -> Projection:
    """Read inputs -> settings -> fit -> project, for the baseline or one scenario."""
    settings = apply_scenario(settings_for(inputs, parameters), scenario)
    return project(fit(inputs, settings))


# ---------------------------------------------------------------- tables


def long_table(
    values: npt.NDArray[np.float64],
    councils: tuple[str, ...],
    years: npt.NDArray[np.int64],
    value_name: str,
    keep: npt.NDArray[np.bool_] | None = None,
) -> pa.Table:
    """[council, year, sex, age] (or [council, year, sex] at age 0) -> gss_code, sex, age, year, value;
    `keep` [council, year] selects council-years (historic years a council lacks)."""
    c, y = values.shape[:2]
    ages = values.shape[3] if values.ndim == 4 else 1
    shape = (c, y, 2, ages)
    council = np.broadcast_to(np.arange(c, dtype=np.int32)[:, None, None, None], shape).ravel()
    year = np.broadcast_to(np.asarray(years, dtype=np.int32)[None, :, None, None], shape).ravel()
    sex = np.broadcast_to(np.arange(2, dtype=np.int32)[None, None, :, None], shape).ravel()
    age = np.broadcast_to(np.arange(ages, dtype=np.int32)[None, None, None, :], shape).ravel()
    flat = values.reshape(-1)
    if keep is not None and not keep.all():
        mask = np.broadcast_to(keep[:, :, None, None], shape).ravel()
        council, year, sex, age, flat = council[mask], year[mask], sex[mask], age[mask], flat[mask]
    return pa.table(
        {
            "gss_code": pa.DictionaryArray.from_arrays(pa.array(council), pa.array(councils, pa.string())),
            "sex": pa.DictionaryArray.from_arrays(pa.array(sex), pa.array(SEXES, pa.string())),
            "age": pa.array(age),
            "year": pa.array(year),
            value_name: pa.array(flat, pa.float64()),
        }
    )


def output_tables(inputs: DemographyInputs, projection: Projection) -> dict[str, pa.Table]:
    """population, births (historic years before the first, then projected), deaths, net_migration,
    fertility_rates, mortality_rates (projected years)."""
    fitted, s = projection.fitted, projection.fitted.settings
    councils, years = fitted.councils, np.asarray(s.years)
    pop, births = inputs.tables["population"], inputs.tables["births"]
    hp = pop.years < s.first_year
    hb = births.years < s.first_year
    population = np.concatenate([pop.values[:, hp], projection.population], axis=1)
    pop_keep = np.concatenate([pop.present[:, hp], np.ones((len(councils), len(years)), bool)], axis=1)
    born = np.concatenate([births.values[:, hb][..., 0], projection.births], axis=1)
    born_keep = np.concatenate([births.present[:, hb], np.ones((len(councils), len(years)), bool)], axis=1)
    return {
        "population": long_table(
            population, councils, np.concatenate([pop.years[hp], years]), "population", pop_keep
        ),
        "births": long_table(born, councils, np.concatenate([births.years[hb], years]), "births", born_keep),
        "deaths": long_table(projection.deaths, councils, years, "deaths"),
        "net_migration": long_table(fitted.net_migration, councils, years, "net_migration"),
        "fertility_rates": long_table(fitted.fertility_rates, councils, years, "rate"),
        "mortality_rates": long_table(fitted.mortality_rates, councils, years, "rate"),
    }


def _codes(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """Integer codes and their labels of a (dictionary or text) key column."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    return np.asarray(array.indices), array.dictionary


def _grouped_sum(
    population: pa.Table, group: npt.NDArray[np.int64], n_groups: int
) -> tuple[
    npt.NDArray[np.int64], pa.Array, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]
]:
    """Population summed by (gss_code, year, group): codes, labels, years, groups, sums, sorted."""
    codes, labels = _codes(population.column("gss_code"))
    year = np.asarray(population.column("year"), dtype=np.int64)
    value = np.asarray(population.column("population"), dtype=np.float64)
    y0 = int(year.min()) if year.size else 0
    ny = int(year.max()) - y0 + 1 if year.size else 1
    flat = (codes.astype(np.int64) * ny + (year - y0)) * n_groups + group
    size = len(labels) * ny * n_groups  # dense over (code, year, group): small, no sort needed
    sums = np.asarray(np.bincount(flat, weights=value, minlength=size), dtype=np.float64)  # (stubs: ints)
    cells = np.flatnonzero(np.bincount(flat, minlength=size))
    code, rest = np.divmod(cells, ny * n_groups)
    years, groups = np.divmod(rest, n_groups)
    order = np.lexsort((groups, years, np.argsort(np.argsort(labels.to_pylist()))[code]))
    return code[order], labels, (years + y0)[order], groups[order], sums[cells][order]


def total_population(population: pa.Table) -> pa.Table:
    """gss_code, year, population (both sexes, all ages)."""
    code, labels, years, _, sums = _grouped_sum(population, np.zeros(population.num_rows, np.int64), 1)
    return pa.table(
        {
            "gss_code": pa.DictionaryArray.from_arrays(pa.array(code.astype(np.int32)), labels),
            "year": pa.array(years.astype(np.int32)),
            "population": pa.array(sums),
        }
    )


def population_by_age_group(population: pa.Table) -> pa.Table:
    """gss_code, year, age_group (0-15, 16-64, 65+), population."""
    age = np.asarray(population.column("age"))
    group = np.zeros(age.shape, np.int64)
    for i, (lo, hi, _) in enumerate(AGE_GROUPS):
        group[(age >= lo) & (age <= hi)] = i
    code, labels, years, groups, sums = _grouped_sum(population, group, len(AGE_GROUPS))
    names = pa.array([g[2] for g in AGE_GROUPS], pa.string())
    return pa.table(
        {
            "gss_code": pa.DictionaryArray.from_arrays(pa.array(code.astype(np.int32)), labels),
            "year": pa.array(years.astype(np.int32)),
            "age_group": pa.DictionaryArray.from_arrays(pa.array(groups.astype(np.int32)), names),
            "population": pa.array(sums),
        }
    )


def fitted_tables(fitted: Fitted) -> dict[str, pa.Table]:
    """The fitted parameters as long tables (historic ASFR and ASMR, projected rates, migration means)."""
    s, councils = fitted.settings, fitted.councils
    years = np.asarray(s.years)
    out = {
        "historic_asfr": long_table(
            fitted.historic_asfr[:, None], councils, np.array([s.fertility_base_year]), "rate"
        ),
        "fertility_rates": long_table(fitted.fertility_rates, councils, years, "rate"),
        "initial_mortality_rates": long_table(fitted.initial_mortality[:, None], councils, years[:1], "rate"),
        "mortality_rates": long_table(fitted.mortality_rates, councils, years, "rate"),
        "net_migration": long_table(fitted.net_migration, councils, years, "net_migration"),
    }
    for flow, mean in fitted.migration_means.items():
        table = long_table(mean[:, None], councils, years[:1], flow)
        out[f"{flow}_mean"] = table.drop_columns(["year"])
    return out


def historic_asmr_table(inputs: DemographyInputs) -> pa.Table:
    t = inputs.tables
    years, rates, valid = mortality.historic_asmr(t["population"], t["births"], t["deaths"])
    return long_table(rates, inputs.councils, years, "rate", valid)


def write_outputs(tables: dict[str, pa.Table], folder: str | Path, *, csv: bool = True) -> list[Path]:
    """Each table as Parquet (and CSV) in `folder`."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
        written.append(folder / f"{name}.parquet")
        if csv:
            plain = table.cast(
                pa.schema(
                    [
                        pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                        for f in table.schema
                    ]
                )
            )
            pacsv.write_csv(plain, folder / f"{name}.csv")
            written.append(folder / f"{name}.csv")
    return written
