"""SEND on the model platform: plan (fit every scenario once), simulate a chunk, measures, charts.

Stored by plan (keys relative to the run): params/{scenario}/{phase}/{table}.parquet (fitted
parameters; phase: base, modified0, ...) and starting_population.csv.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from witan.modelrun.definition import BASELINE, Measure, Planned
from witan.modelrun.pipeline import parquet_bytes, read_parquet, table_csv
from witan.modelrun.storage import RunStorage
from witan.models.send.costs import cost_vector
from witan.models.send.fit import StateSpace, fit, parameter_tables, parameters_from_tables, start_population
from witan.models.send.inputs import ModelInputError, SendInputs, check_population, load_inputs
from witan.models.send.scenarios import Scenario, check_windows, parse_scenarios, prepare
from witan.models.send.simulate import Projection, simulate
from witan.models.send.summarise import group_totals

if TYPE_CHECKING:
    from witan.modelrun.definition import InputFile, InputFiles, Parameters, PlanDoc, Scenarios

PARAM_TABLES = (
    "leaver_beta",
    "mover_beta",
    "mover_dirichlet",
    "joiner_beta",
    "joiner_dirichlet",
    "valid_states",
)
# Role (API and platform) -> the table name witan.send uses.
TABLE_OF_ROLE = {
    "transitions": "transitions",
    "population": "population",
    "costs": "costs",
    "valid_states": "valid-states",
}


def read_inputs(files: Mapping[str, Sequence[InputFile]]) -> SendInputs:
    return load_inputs(
        {TABLE_OF_ROLE[role]: (given[0].name, given[0].data) for role, given in files.items() if given}
    )


def scenarios_of(raw: list[dict[str, Any]]) -> list[Scenario]:
    return parse_scenarios(raw, "scenarios") if raw else []


def plan(
    files: InputFiles, parameters: Parameters, raw: Scenarios, store: RunStorage, simulations: int
) -> Planned:
    inputs = read_inputs(files)
    years = inputs.projection_years(parameters.get("projection_years"))
    scenarios = scenarios_of(raw)
    check_windows(scenarios, years)  # before any fitting: a scenario that changes nothing
    space = StateSpace.from_inputs(inputs)
    baseline = prepare(inputs, None, years)
    join_ays = [int(a) for a in space.academic_years[baseline.param_sets["base"].joins]]
    check_population(inputs, years, join_ays, "joiners in projected years")
    prepared = [baseline] + [prepare(inputs, s, years) for s in scenarios]
    for prep in prepared:
        for phase, params in prep.param_sets.items():
            for name, table in parameter_tables(params, valid_only=False).items():
                store.put_bytes(f"params/{prep.name}/{phase}/{name}.parquet", parquet_bytes(table))
    start = start_population(inputs, space)
    names = space.state_names()
    a_idx, k_idx = np.nonzero(start)
    start_rows = [
        [int(space.ay_min + a), names[k], int(start[a, k])] for a, k in zip(a_idx, k_idx, strict=True)
    ]
    store.put_bytes(
        "starting_population.csv",
        table_csv(
            pa.table(
                {
                    "academic_year": [r[0] for r in start_rows],
                    "state": [r[1] for r in start_rows],
                    "count": [r[2] for r in start_rows],
                }
            )
        ),
        "text/csv",
    )
    population = [[inputs.population.get((y, int(a)), 0) for a in space.academic_years] for y in years]
    model_plan = {
        "space": space.to_dict(),
        "seed_year": inputs.seed_year,
        "years": years,
        "population": population,
        "start": start_rows,
        "costs": cost_vector(inputs.costs, space).tolist(),
        "phases": {p.name: {"phases": sorted(p.param_sets), "year_phase": p.year_phase} for p in prepared},
        "simulations": simulations,
    }
    meta = {
        "seed_year": inputs.seed_year,
        "years": years,
        "projection_years": len(years),
        "projection_years_requested": parameters.get("projection_years"),
        "steps": 1 + len(years),
        "step_unit": "calendar years",
        "summary": f"{len(years)} projected year(s) after {inputs.seed_year}",
    }
    return Planned(plan=model_plan, input_hashes={}, warnings=list(inputs.warnings), meta=meta)


def start_array(model_plan: dict[str, Any], space: StateSpace) -> npt.NDArray[np.int64]:
    start = np.zeros((space.n_ay, space.n_states), dtype=np.int64)
    index = {n: i for i, n in enumerate(space.state_names())}
    for ay, state, count in model_plan["start"]:
        start[ay - space.ay_min, index[state]] = count
    return start


def projection(
    storage: RunStorage, model_plan: dict[str, Any], scenario: str
) -> tuple[StateSpace, Projection]:
    space = StateSpace.from_dict(model_plan["space"])
    entry = model_plan["phases"].get(scenario)
    if entry is None:
        raise ModelInputError(
            "manifest",
            f"scenario {scenario!r} is not in the plan",
            column="scenario",
            code="unknown-scenario",
        )

    def table(phase: str, name: str) -> pa.Table:
        return read_parquet(storage, f"params/{scenario}/{phase}/{name}.parquet")

    sets = {
        phase: parameters_from_tables(space, {t: table(phase, t) for t in PARAM_TABLES})
        for phase in entry["phases"]
    }
    return space, Projection(
        start_array(model_plan, space),
        model_plan["years"],
        np.asarray(model_plan["population"], dtype=np.int64),
        [sets[ph] for ph in entry["year_phase"]],
    )


def simulate_chunk(
    storage: RunStorage, model_plan: dict[str, Any], scenario: str, simulations: range, seed: int
) -> pa.Table:
    """Per-simulation counts of one chunk (non-zero cells only)."""
    space, proj = projection(storage, model_plan, scenario)
    first = simulations.start
    counts = simulate(proj, seed, scenario, simulations)
    s, t, a, k = np.nonzero(counts)
    return pa.table(
        {
            "simulation": pa.array(s + first, pa.int32()),
            "calendar_year": pa.array(np.asarray(model_plan["years"], dtype=np.int16)[t]),
            "academic_year": pa.array((a + space.ay_min).astype(np.int16)),
            "state": pa.DictionaryArray.from_arrays(
                pa.array(k.astype(np.int16)), pa.array(space.state_names())
            ),
            "count": pa.array(counts[s, t, a, k], pa.int32()),
        }
    )


def dense_counts(model_plan: dict[str, Any], results: pa.Table, simulations: int) -> npt.NDArray[np.int32]:
    """Dense counts [simulation, year (seed year first), a, k] from a scenario's chunk results."""
    space = StateSpace.from_dict(model_plan["space"])
    years = model_plan["years"]
    counts = np.zeros((simulations, len(years) + 1, space.n_ay, space.n_states), dtype=np.int32)
    counts[:, 0] = start_array(model_plan, space)
    year_index = np.zeros(max(years) - min(years) + 1, dtype=np.int64)
    year_index[np.asarray(years) - min(years)] = np.arange(1, len(years) + 1)
    state = results["state"].combine_chunks()
    if isinstance(state, pa.DictionaryArray):
        k = state.indices.to_numpy().astype(np.int64)
    else:  # chunks' dictionaries unified by concat: decode by name
        index = {n: i for i, n in enumerate(space.state_names())}
        k = np.asarray([index[n] for n in state.to_pylist()], dtype=np.int64)
    yi = year_index[results["calendar_year"].to_numpy().astype(np.int64) - min(years)]
    counts[
        results["simulation"].to_numpy(),
        yi,
        results["academic_year"].to_numpy().astype(np.int64) - space.ay_min,
        k,
    ] = results["count"].to_numpy()
    return counts


def grid(keys: dict[str, Sequence[Any]]) -> dict[str, npt.NDArray[Any]]:
    """Key columns of a [year, ...] array flattened in C order."""
    grids = np.meshgrid(*[np.asarray(k) for k in keys.values()], indexing="ij")
    return {name: g.ravel() for name, g in zip(keys, grids, strict=True)}


def measures(
    storage: RunStorage, model_plan: PlanDoc, scenario: str, results: pa.Table
) -> dict[str, Measure]:
    space = StateSpace.from_dict(model_plan["space"])
    counts = dense_counts(model_plan, results, int(model_plan["simulations"]))
    years = [model_plan["seed_year"], *model_plan["years"]]
    groups = group_totals(counts, space, np.asarray(model_plan["costs"], dtype=np.float64))
    out = {}
    for name, (values, keys) in groups.items():
        out[name] = Measure(
            keys=grid({"calendar_year": years, **keys}),
            values=values.reshape(values.shape[0], -1),
            compare=name in ("count", "cost"),
            chart=name == "by_setting",
            workbook=name != "by_state",  # tens of thousands of rows: CSV/Parquet only
            drop_all_zero=name == "by_state",
            decimals=4,
        )
    return out


def charts(model_plan: dict[str, Any], by_scenario: Mapping[str, Mapping[str, Measure]]) -> dict[str, bytes]:
    from witan.modelrun.charts import fan_chart, setting_fan_charts

    space = StateSpace.from_dict(model_plan["space"])
    years = [model_plan["seed_year"], *model_plan["years"]]
    out = {}
    for name, ms in by_scenario.items():
        for measure, unit in (("count", "children"), ("cost", "cost per year")):
            out[f"{name}/{measure}.png"] = fan_chart(
                years, ms[measure].values, f"{name}: total {measure}", unit
            )
        by_setting = ms["by_setting"].values.reshape(-1, len(years), len(space.settings))
        out[f"{name}/by_setting.png"] = setting_fan_charts(years, by_setting, list(space.settings), name)
    return out


def fitted_tables(files: InputFiles, parameters: Parameters) -> dict[str, pa.Table]:
    return parameter_tables(fit(read_inputs(files)), valid_only=True)


__all__ = ["BASELINE", "charts", "fitted_tables", "measures", "plan", "read_inputs", "simulate_chunk"]
