"""Demography on the model platform: plan (read, check, fit every scenario once), simulate (project one
scenario), measures, charts.

Stored by plan (keys relative to the run):
  params/start_population.parquet        the population of the year before the first projected year
  params/historic_population.parquet     historic years before the first, with a `present` column
  params/historic_births.parquet         the same for births
  params/{scenario}/rates.parquet        fertility_rate, mortality_rate, net_migration by projected year
All in council-major order (gss_code, year, sex, age), so arrays come back by reshaping.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from witan.modelrun.definition import BASELINE, Measure, Planned
from witan.modelrun.pipeline import parquet_bytes, read_parquet
from witan.modelrun.storage import RunStorage
from witan.models.demography import projection
from witan.models.demography.inputs import AGES, SEXES, DemographyInputs, read_inputs
from witan.models.demography.projection import (
    AGE_GROUPS,
    fit,
    historic_asmr_table,
    long_table,
    population_by_age_group,
    project_arrays,
    settings_for,
    total_population,
)
from witan.models.demography.scenarios import Settings, apply_scenario

if TYPE_CHECKING:
    from witan.modelrun.definition import InputFile, InputFiles, Parameters, PlanDoc, Scenarios

# Output tables of a run, in order, with their value column.
OUTPUTS: dict[str, str] = {
    "population": "population",
    "births": "births",
    "deaths": "deaths",
    "net_migration": "net_migration",
    "fertility_rates": "rate",
    "mortality_rates": "rate",
}
WORKBOOK_ROWS = 100_000  # larger tables are written as CSV and Parquet only


def inputs_from_files(files: Mapping[str, Sequence[InputFile]]) -> DemographyInputs:
    return read_inputs({role: (given[0].name, given[0].data) for role, given in files.items() if given})


def scenario_settings(
    inputs: DemographyInputs, parameters: dict[str, Any], scenarios: list[dict[str, Any]]
) -> dict[str, Settings]:
    base = settings_for(inputs, parameters)
    return {BASELINE: base, **{s["name"]: apply_scenario(base, s) for s in scenarios}}


def plan(
    files: InputFiles, parameters: Parameters, scenarios: Scenarios, store: RunStorage, simulations: int
) -> Planned:
    inputs = inputs_from_files(files)
    settings = scenario_settings(inputs, parameters, scenarios)
    base = settings[BASELINE]
    councils = inputs.councils
    fitted = {name: fit(inputs, s) for name, s in settings.items()}  # every error before any write
    years = np.asarray(base.years)
    store.put_bytes(
        "params/start_population.parquet",
        parquet_bytes(long_table(fitted[BASELINE].start[:, None], councils, years[:1] - 1, "population")),
    )
    for role, key in (("population", "historic_population"), ("births", "historic_births")):
        table = inputs.tables[role]
        before = table.years < base.first_year
        values = table.values[:, before] if role == "population" else table.values[:, before][..., :1]
        history = long_table(values, councils, table.years[before], role)
        present = np.broadcast_to(table.present[:, before][:, :, None, None], values.shape).ravel()
        store.put_bytes(
            f"params/{key}.parquet", parquet_bytes(history.append_column("present", pa.array(present)))
        )
    for name, f in fitted.items():
        rates = long_table(f.fertility_rates, councils, years, "fertility_rate")
        rates = rates.append_column("mortality_rate", pa.array(f.mortality_rates.ravel()))
        rates = rates.append_column("net_migration", pa.array(f.net_migration.ravel()))
        store.put_bytes(f"params/{name}/rates.parquet", parquet_bytes(rates))
    model_plan = {
        "first_year": base.first_year,
        "last_year": base.last_year,
        "years": base.years,
        "gss_codes": list(councils),
        "settings": {name: s.to_dict() for name, s in settings.items()},
        "scenarios": [BASELINE, *(s["name"] for s in scenarios)],
    }
    return Planned(
        plan=model_plan,
        input_hashes={},  # the platform hashes every input file (witan.modelrun.inputs.hashes)
        meta={
            "years": base.years,
            "gss_codes": len(councils),
            "steps": len(base.years),
            "step_unit": "years",
            "summary": f"{len(councils)} council(s), {base.first_year}-{base.last_year}",
        },
    )


def _grid(table: pa.Table, column: str, councils: int, shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
    return np.asarray(table.column(column), dtype=np.float64).reshape(councils, *shape)


def simulate_chunk(
    store: RunStorage, model_plan: PlanDoc, scenario: str, simulations: range, seed: int
) -> pa.Table:
    """The scenario's projection as one long table: output, gss_code, sex, age, year, value, simulation
    (deterministic: simulation 0 only, whatever the range; no seed)."""
    councils = tuple(model_plan["gss_codes"])
    c = len(councils)
    years = np.asarray(model_plan["years"])
    ny = years.size
    rates = read_parquet(store, f"params/{scenario}/rates.parquet")
    start = _grid(read_parquet(store, "params/start_population.parquet"), "population", c, (2, AGES))
    fert = _grid(rates, "fertility_rate", c, (ny, 2, AGES))
    mort = _grid(rates, "mortality_rate", c, (ny, 2, AGES))
    net = _grid(rates, "net_migration", c, (ny, 2, AGES))
    population, births, deaths = project_arrays(start, fert, mort, net)
    tables = {}
    for role, projected in (("population", population), ("births", births)):
        history = read_parquet(store, f"params/historic_{role}.parquet")
        hist_years = np.unique(np.asarray(history.column("year")))
        per_council = (hist_years.size, 2, AGES) if role == "population" else (hist_years.size, 2, 1)
        values = _grid(history, role, c, per_council)
        present = np.asarray(history.column("present")).reshape(c, *per_council)[:, :, 0, 0]
        if role == "births":
            values = values[..., 0]
        whole = np.concatenate([values, projected], axis=1)
        keep = np.concatenate([present, np.ones((c, ny), bool)], axis=1)
        tables[role] = long_table(whole, councils, np.concatenate([hist_years, years]), "value", keep)
    tables["deaths"] = long_table(deaths, councils, years, "value")
    tables["net_migration"] = long_table(net, councils, years, "value")
    tables["fertility_rates"] = long_table(fert, councils, years, "value")
    tables["mortality_rates"] = long_table(mort, councils, years, "value")
    names = pa.array(list(OUTPUTS), pa.string())
    parts = []
    for i, (name, table) in enumerate(tables.items()):
        assert name == list(OUTPUTS)[i]
        output = pa.DictionaryArray.from_arrays(pa.array(np.full(table.num_rows, i, np.int32)), names)
        parts.append(table.add_column(0, "output", output))
    out = pa.concat_tables(parts)
    return out.append_column("simulation", pa.array(np.zeros(out.num_rows, np.int32)))


def _plain(column: pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks()
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _rows_of(results: pa.Table, codes: npt.NDArray[np.int64], code: int) -> pa.Table:
    """The rows of one output: a zero-copy slice when they are one block (as simulate writes them)."""
    at = np.flatnonzero(codes == code)
    if at.size and at[-1] - at[0] + 1 == at.size:
        return results.slice(int(at[0]), int(at.size))
    return results.take(pa.array(at))


def measures(store: RunStorage, model_plan: PlanDoc, scenario: str, results: pa.Table) -> dict[str, Measure]:
    """Every output table (one 'simulation'), total population by year and by age group (compared
    with the baseline), and the population pyramid of the first and last projected years."""
    if results.num_rows and pc.max(results.column("simulation")).as_py() != 0:
        results = results.filter(pc.equal(results.column("simulation"), 0))  # deterministic: one path
    output = results.column("output").combine_chunks()
    codes = np.asarray(output.indices)
    labels = output.dictionary.to_pylist()
    out: dict[str, Measure] = {}
    population: pa.Table | None = None
    for name, value_name in OUTPUTS.items():
        rows = _rows_of(results, codes, labels.index(name)) if name in labels else results.slice(0, 0)
        keys = {k: _plain(rows.column(k)) for k in ("gss_code", "sex", "age", "year")}
        values = np.asarray(rows.column("value"), dtype=np.float64)
        out[name] = Measure(
            keys=keys,
            values=values[None, :],
            value_name=value_name,
            workbook=rows.num_rows <= WORKBOOK_ROWS,
        )
        if name == "population":
            population = rows.select(["gss_code", "sex", "age", "year"]).append_column(
                "population", rows.column("value")
            )
    assert population is not None
    total = total_population(population)
    out["total_population"] = Measure(
        keys={"gss_code": _plain(total.column("gss_code")), "year": _plain(total.column("year"))},
        values=np.asarray(total.column("population"))[None, :],
        value_name="population",
        compare=True,
        chart=True,
    )
    groups = population_by_age_group(population)
    out["population_by_age_group"] = Measure(
        keys={k: _plain(groups.column(k)) for k in ("gss_code", "year", "age_group")},
        values=np.asarray(groups.column("population"))[None, :],
        value_name="population",
        compare=True,
        chart=True,
    )
    out["population_pyramid"] = _pyramid(model_plan, population)
    return out


def _pyramid(model_plan: dict[str, Any], population: pa.Table) -> Measure:
    """Population by sex and age, summed over councils, in the first and last projected years."""
    ends = (int(model_plan["first_year"]), int(model_plan["last_year"]))
    year = np.asarray(population.column("year"))
    sex = np.asarray(population.column("sex").combine_chunks().indices)
    sex_labels = population.column("sex").combine_chunks().dictionary.to_pylist()
    sex = np.array([SEXES.index(s) for s in sex_labels])[sex]
    age = np.asarray(population.column("age"))
    value = np.asarray(population.column("population"), dtype=np.float64)
    grid = np.zeros((2, 2, AGES))
    for i, y in enumerate(ends):
        sel = year == y
        np.add.at(grid[i], (sex[sel], age[sel]), value[sel])
    shape = grid.shape
    idx = np.indices(shape).reshape(3, -1)
    return Measure(
        keys={
            "year": pa.array(np.asarray(ends)[idx[0]]),
            "sex": pa.array(np.asarray(SEXES)[idx[1]].tolist()),
            "age": pa.array(idx[2]),
        },
        values=grid.reshape(1, -1),
        value_name="population",
        chart=True,
    )


def charts(model_plan: dict[str, Any], by_scenario: Mapping[str, Mapping[str, Measure]]) -> dict[str, bytes]:
    """population_pyramid.png (baseline, every council summed; first and last projected year) and
    total_population.png (every council summed, every scenario)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    import witan.modelrun.charts  # noqa: F401  (the Agg backend and a writable config folder)

    def _people(n: float) -> str:
        return f"{n / 1e6:g}M" if n >= 1e6 else f"{n / 1e3:g}k" if n >= 1e4 else f"{n:,.0f}"

    def _png(fig: Any) -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        return buf.getvalue()

    out: dict[str, bytes] = {}
    pyramid = by_scenario[BASELINE]["population_pyramid"]
    grid = pyramid.values.reshape(2, 2, AGES)
    first, last = int(model_plan["first_year"]), int(model_plan["last_year"])
    fig, ax = plt.subplots(figsize=(7, 6))
    ages = np.arange(AGES)
    ax.barh(ages, -grid[1, 1], height=1.0, color="tab:blue", alpha=0.6, label=f"men {last}")
    ax.barh(ages, grid[1, 0], height=1.0, color="tab:red", alpha=0.6, label=f"women {last}")
    ax.step(-grid[0, 1], ages, where="mid", color="navy", linewidth=1, label=f"men {first}")
    ax.step(grid[0, 0], ages, where="mid", color="darkred", linewidth=1, label=f"women {first}")
    ax.axvline(0, color="black", linewidth=0.5)
    # Both sides count people: unsigned labels, compact where a pyramid sums many councils.
    ax.xaxis.set_major_locator(MaxNLocator(7, symmetric=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _: _people(abs(t))))
    ax.set_ylabel("age (90 = 90 and over)")
    ax.set_xlabel("people")
    n = len(model_plan["gss_codes"])
    where = model_plan["gss_codes"][0] if n == 1 else f"{n} councils summed"
    ax.set_title(f"Population by age and sex, {first} and {last} ({where}, baseline)")
    ax.legend(loc="upper right", fontsize="small")
    out["population_pyramid.png"] = _png(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.12, top=0.9)
    for name, ms in by_scenario.items():
        total = ms["total_population"]
        years = np.asarray(total.keys["year"])
        values = total.values[0]
        uniq = np.unique(years)
        sums = np.zeros(uniq.size)
        np.add.at(sums, np.searchsorted(uniq, years), values)
        ax.plot(uniq, sums, linewidth=2 if name == BASELINE else 1.2, label=name)
    ax.axvline(first - 0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.set_title(f"Total population ({where}); projected from {first}")
    ax.set_xlabel("year (mid-year)")
    ax.set_ylabel("people")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.legend(loc="best", fontsize="small")
    out["total_population.png"] = _png(fig)
    return out


def fitted_tables(files: InputFiles, parameters: Parameters) -> dict[str, pa.Table]:
    inputs = inputs_from_files(files)
    tables = projection.fitted_tables(fit(inputs, settings_for(inputs, parameters)))
    return {"historic_asmr": historic_asmr_table(inputs), **tables}


__all__ = ["AGE_GROUPS", "charts", "fitted_tables", "measures", "plan", "simulate_chunk"]
