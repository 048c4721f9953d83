"""Plan -> chunk -> aggregate for the SEND model, over a `RunStorage`.

Layout of a run (keys relative to its root):
  plan.json, manifest.json, metadata.json, summaries.xlsx, starting_population.csv
  params/{scenario}/{phase}/{table}.parquet         fitted parameters (phase: base, modified0, ...)
  chunks/{scenario}/{sim_start:07d}.parquet         per-simulation counts (non-zero cells only)
  {grouping}.csv|.parquet                           baseline summaries (count, by_*, cost)
  scenarios/{name}/{grouping}.csv|.parquet          each scenario's summaries
  scenarios/{name}/comparison.csv|.parquet          scenario - baseline, paired by simulation
  charts/{scenario}/count.png, cost.png, by_setting.png
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from witan.modelrun.limits import MAX_PROJECTION_YEARS, MAX_SIMULATION_YEARS, run_work
from witan.modelrun.storage import RunStorage
from witan.models.send.costs import cost_vector
from witan.models.send.fit import StateSpace, parameter_tables, parameters_from_tables, start_population
from witan.models.send.inputs import ModelInputError, SendInputs, check_population
from witan.models.send.scenarios import BASELINE, Scenario, check_windows, parse_scenarios, prepare
from witan.models.send.simulate import Projection, simulate
from witan.models.send.summarise import GROUPINGS, compare, group_totals, summary_table

MAX_SIMULATIONS = 100_000
DEFAULT_CHUNK_SIZE = 100
MAX_SCENARIOS = 20
MAX_ITEMS = 10_000  # chunk tasks per run (one Map item each)
PARAM_TABLES = (
    "leaver_beta",
    "mover_beta",
    "mover_dirichlet",
    "joiner_beta",
    "joiner_dirichlet",
    "valid_states",
)


@dataclass
class RunRequest:
    """What to run: validated by `from_event` so a bad request fails before any work is done."""

    run_id: str
    simulations: int = 1000
    seed: int = 0
    chunk_size: int = DEFAULT_CHUNK_SIZE
    scenarios: list[Scenario] = field(default_factory=list)
    email: str | None = None
    model: str = "send"
    projection_years: int | None = None  # None: every population year after the seed year

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> RunRequest:
        def positive(name: str, default: int, upper: int) -> int:
            value = event.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
                raise ModelInputError(
                    "request",
                    f"{name} must be a whole number from 1 to {upper}",
                    column=name,
                    code="invalid-request",
                )
            return value

        run_id = event.get("run_id")
        if not isinstance(run_id, str) or not run_id or "/" in run_id or len(run_id) > 128:
            raise ModelInputError(
                "request",
                "run_id must be a non-empty string without '/'",
                column="run_id",
                code="invalid-request",
            )
        if event.get("model", "send") != "send":
            raise ModelInputError(
                "request",
                f"unknown model {event.get('model')!r} (known: send)",
                column="model",
                code="invalid-request",
            )
        seed = event.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ModelInputError(
                "request", "seed must be a non-negative whole number", column="seed", code="invalid-request"
            )
        scenarios = parse_scenarios(event.get("scenarios") or [], "request.scenarios")
        names = [s.name for s in scenarios]
        if len(set(names)) != len(names):
            raise ModelInputError(
                "request", "scenario names must be unique", column="scenarios", code="invalid-request"
            )
        email = event.get("email")
        projection_years = (
            None
            if event.get("projection_years") is None
            else positive("projection_years", 0, MAX_PROJECTION_YEARS)
        )
        simulations = positive("simulations", 1000, MAX_SIMULATIONS)
        chunk_size = positive("chunk_size", DEFAULT_CHUNK_SIZE, MAX_SIMULATIONS)
        items = math.ceil(simulations / chunk_size) * (1 + len(scenarios))
        if len(scenarios) > MAX_SCENARIOS or items > MAX_ITEMS:
            raise ModelInputError(
                "request",
                f"{1 + len(scenarios)} scenarios x {math.ceil(simulations / chunk_size)} chunks is too many "
                f"(at most {MAX_SCENARIOS} scenarios besides the baseline and {MAX_ITEMS} chunks)",
                column="chunk_size",
                code="invalid-request",
            )
        return cls(
            run_id,
            simulations,
            seed,
            chunk_size,
            scenarios,
            email if isinstance(email, str) and "@" in email else None,
            projection_years=projection_years,
        )


def code_version() -> dict[str, str]:
    """Package version plus a hash of the model and orchestration sources actually running."""
    try:
        version = importlib_metadata.version("witan")
    except importlib_metadata.PackageNotFoundError:
        version = "unknown"
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for path in sorted([*root.joinpath("models").rglob("*.py"), *root.joinpath("modelrun").rglob("*.py")]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return {"package": version, "source_sha256": digest.hexdigest()}


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def table_csv(table: pa.Table) -> bytes:
    """CSV quoted only where needed (like witan.send's outputs; pyarrow always quotes headers)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.column_names)
    writer.writerows(zip(*(table[c].to_pylist() for c in table.column_names), strict=True))
    return buf.getvalue().encode("utf-8")


def _read_parquet(storage: RunStorage, key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(storage.get_bytes(key)))


def _json(storage: RunStorage, key: str) -> Any:
    return json.loads(storage.get_bytes(key))


def chunk_key(scenario: str, sim_start: int) -> str:
    return f"chunks/{scenario}/{sim_start:07d}.parquet"


# --- plan ------------------------------------------------------------------------------------------


def plan(
    storage: RunStorage, inputs: SendInputs, request: RunRequest, max_work: int | None = MAX_SIMULATION_YEARS
) -> list[dict[str, Any]]:
    """Fit every scenario once, write parameters and the plan, and return the manifest's chunk items.

    `max_work` bounds simulations x scenarios x years so that Aggregate fits one Lambda call; local
    runs (`witan model run`) pass None: their limit is the machine's memory.
    """
    years = inputs.projection_years(request.projection_years)
    check_windows(request.scenarios, years)  # before any fitting: a scenario that changes nothing
    work = run_work(request.simulations, len(request.scenarios), len(years))
    if max_work is not None and work > max_work:
        raise ModelInputError(
            "request",
            f"{request.simulations} simulations x {1 + len(request.scenarios)} scenario(s) x "
            f"{1 + len(years)} calendar years = {work:,} simulation-years is more than one run may "
            f"aggregate ({max_work:,}); ask for fewer simulations, scenarios or projection_years",
            column="projection_years",
            code="run-too-large",
        )
    space = StateSpace.from_inputs(inputs)
    baseline = prepare(inputs, None, years)
    join_ays = [int(a) for a in space.academic_years[baseline.param_sets["base"].joins]]
    check_population(inputs, years, join_ays, "joiners in projected years")
    prepared = [baseline] + [prepare(inputs, s, years) for s in request.scenarios]
    for prep in prepared:
        for phase, params in prep.param_sets.items():
            for name, table in parameter_tables(params, valid_only=False).items():
                storage.put_bytes(f"params/{prep.name}/{phase}/{name}.parquet", _parquet(table))
    start = start_population(inputs, space)
    names = space.state_names()
    a_idx, k_idx = np.nonzero(start)
    start_rows = [
        [int(space.ay_min + a), names[k], int(start[a, k])] for a, k in zip(a_idx, k_idx, strict=True)
    ]
    storage.put_bytes(
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
    plan_doc = {
        "run_id": request.run_id,
        "model": request.model,
        "seed": request.seed,
        "simulations": request.simulations,
        "chunk_size": request.chunk_size,
        "email": request.email,
        "space": space.to_dict(),
        "seed_year": inputs.seed_year,
        "projection_years": len(years),
        "projection_years_requested": request.projection_years,
        "years": years,
        "population": population,
        "start": start_rows,
        "costs": cost_vector(inputs.costs, space).tolist(),
        "scenarios": [
            {
                "name": p.name,
                "phases": sorted(p.param_sets),
                "year_phase": p.year_phase,
                "definition": None if p.name == BASELINE else s.to_dict(),
            }
            for p, s in zip(prepared, [None, *request.scenarios], strict=True)
        ],
        "input_hashes": inputs.hashes,
        "warnings": [w.to_dict() for w in inputs.warnings],
        "code_version": code_version(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    storage.put_bytes("plan.json", json.dumps(plan_doc, indent=1).encode(), "application/json")
    items = [
        {
            "step": "chunk",
            "run_id": request.run_id,
            "scenario": p.name,
            "sim_start": start_at,
            "sim_count": min(request.chunk_size, request.simulations - start_at),
        }
        for p in prepared
        for start_at in range(0, request.simulations, request.chunk_size)
    ]
    storage.put_bytes("manifest.json", json.dumps(items).encode(), "application/json")
    return items


# --- chunk -----------------------------------------------------------------------------------------


def _projection(
    storage: RunStorage, plan_doc: dict[str, Any], scenario: str
) -> tuple[StateSpace, Projection]:
    space = StateSpace.from_dict(plan_doc["space"])
    entry = next((s for s in plan_doc["scenarios"] if s["name"] == scenario), None)
    if entry is None:
        raise ModelInputError(
            "manifest",
            f"scenario {scenario!r} is not in the plan",
            column="scenario",
            code="unknown-scenario",
        )
    sets = {
        phase: parameters_from_tables(
            space, {t: _read_parquet(storage, f"params/{scenario}/{phase}/{t}.parquet") for t in PARAM_TABLES}
        )
        for phase in entry["phases"]
    }
    return space, Projection(
        start_array(plan_doc, space),
        plan_doc["years"],
        np.asarray(plan_doc["population"], dtype=np.int64),
        [sets[ph] for ph in entry["year_phase"]],
    )


def start_array(plan_doc: dict[str, Any], space: StateSpace) -> np.ndarray:
    start = np.zeros((space.n_ay, space.n_states), dtype=np.int64)
    index = {n: i for i, n in enumerate(space.state_names())}
    for ay, state, count in plan_doc["start"]:
        start[ay - space.ay_min, index[state]] = count
    return start


def run_chunk(storage: RunStorage, item: dict[str, Any]) -> str:
    """Simulate one manifest item's simulations and write their non-zero counts as Parquet."""
    plan_doc = _json(storage, "plan.json")
    scenario, first, count = item["scenario"], int(item["sim_start"]), int(item["sim_count"])
    space, projection = _projection(storage, plan_doc, scenario)
    counts = simulate(projection, int(plan_doc["seed"]), scenario, range(first, first + count))
    s, t, a, k = np.nonzero(counts)
    table = pa.table(
        {
            "simulation": pa.array(s + first, pa.int32()),
            "calendar_year": pa.array(np.asarray(plan_doc["years"], dtype=np.int16)[t]),
            "academic_year": pa.array((a + space.ay_min).astype(np.int16)),
            "state": pa.DictionaryArray.from_arrays(
                pa.array(k.astype(np.int16)), pa.array(space.state_names())
            ),
            "count": pa.array(counts[s, t, a, k], pa.int32()),
        }
    )
    key = chunk_key(scenario, first)
    storage.put_bytes(key, _parquet(table))
    return key


# --- aggregate -------------------------------------------------------------------------------------


def load_counts(
    storage: RunStorage,
    plan_doc: dict[str, Any],
    items: list[dict[str, Any]],
    scenario: str,
    space: StateSpace,
) -> np.ndarray:
    """Dense counts [simulation, year (seed year first), a, k] from a scenario's chunk files."""
    sims, years = int(plan_doc["simulations"]), plan_doc["years"]
    counts = np.zeros((sims, len(years) + 1, space.n_ay, space.n_states), dtype=np.int32)
    counts[:, 0] = start_array(plan_doc, space)
    year_index = np.zeros(max(years) - min(years) + 1, dtype=np.int64)
    year_index[np.asarray(years) - min(years)] = np.arange(1, len(years) + 1)
    seen = np.zeros(sims, dtype=bool)
    for item in items:
        if item["scenario"] != scenario:
            continue
        key = chunk_key(scenario, int(item["sim_start"]))
        if not storage.exists(key):
            raise RuntimeError(f"chunk result {key} is missing: its chunk task did not finish")
        t = _read_parquet(storage, key)
        state = t["state"].combine_chunks()
        k = state.indices.to_numpy().astype(np.int64)
        yi = year_index[t["calendar_year"].to_numpy().astype(np.int64) - min(years)]
        counts[
            t["simulation"].to_numpy(), yi, t["academic_year"].to_numpy().astype(np.int64) - space.ay_min, k
        ] = t["count"].to_numpy()
        seen[item["sim_start"] : item["sim_start"] + item["sim_count"]] = True
    if not seen.all():
        raise RuntimeError(
            f"scenario {scenario}: simulations {np.flatnonzero(~seen)[:5].tolist()}... have no chunk"
        )
    return counts


def _write_table(storage: RunStorage, key_stem: str, table: pa.Table, written: list[str]) -> None:
    storage.put_bytes(f"{key_stem}.csv", table_csv(table), "text/csv")
    storage.put_bytes(f"{key_stem}.parquet", _parquet(table))
    written += [f"{key_stem}.csv", f"{key_stem}.parquet"]


def aggregate(storage: RunStorage) -> dict[str, Any]:
    """Summaries per scenario and grouping, comparisons with the baseline, charts, xlsx, metadata."""
    from witan.modelrun.charts import fan_chart, setting_fan_charts
    from witan.modelrun.xlsx import summaries_workbook

    plan_doc = _json(storage, "plan.json")
    items = _json(storage, "manifest.json")
    space = StateSpace.from_dict(plan_doc["space"])
    cost = np.asarray(plan_doc["costs"], dtype=np.float64)
    years = [plan_doc["seed_year"], *plan_doc["years"]]
    written: list[str] = []
    sheets: dict[str, list[pa.Table]] = {}
    totals: dict[str, dict[str, np.ndarray]] = {}
    for entry in plan_doc["scenarios"]:
        name = entry["name"]
        counts = load_counts(storage, plan_doc, items, name, space)
        groups = group_totals(counts, space, cost)
        prefix = "" if name == BASELINE else f"scenarios/{name}/"
        for grouping in GROUPINGS:
            values, keys = groups[grouping]
            table = summary_table(
                values, {"calendar_year": years, **keys}, drop_all_zero=grouping == "by_state"
            )
            _write_table(storage, f"{prefix}{grouping}", table, written)
            if grouping == "by_state":  # tens of thousands of rows: CSV/Parquet only, not the workbook
                continue
            sheets.setdefault(grouping, []).append(
                table.add_column(0, "scenario", pa.array([name] * table.num_rows, pa.string()))
            )
        totals[name] = {
            "count": groups["count"][0],
            "cost": groups["cost"][0],
            "by_setting": groups["by_setting"][0],
        }
        del counts, groups
        for measure, unit in (("count", "children"), ("cost", "cost per year")):
            key = f"charts/{name}/{measure}.png"
            storage.put_bytes(
                key, fan_chart(years, totals[name][measure], f"{name}: total {measure}", unit), "image/png"
            )
            written.append(key)
        key = f"charts/{name}/by_setting.png"
        storage.put_bytes(
            key,
            setting_fan_charts(years, totals[name]["by_setting"], list(space.settings), name),
            "image/png",
        )
        written.append(key)
    base = totals[BASELINE]
    for name, tot in totals.items():
        if name == BASELINE:
            continue
        parts = []
        for measure in ("count", "cost"):
            t = compare(tot[measure], base[measure], years)
            parts.append(t.add_column(0, "measure", pa.array([measure] * t.num_rows, pa.string())))
        table = pa.concat_tables(parts)
        _write_table(storage, f"scenarios/{name}/comparison", table, written)
        sheets.setdefault("comparison", []).append(
            table.add_column(0, "scenario", pa.array([name] * table.num_rows, pa.string()))
        )
    meta = {
        k: plan_doc[k]
        for k in (
            "run_id",
            "model",
            "seed",
            "simulations",
            "chunk_size",
            "seed_year",
            "years",
            "input_hashes",
            "code_version",
            "warnings",
            "created_at",
        )
    }
    # How many years were projected, and what was asked (None: all the population years).
    meta["projection_years"] = len(plan_doc["years"])
    meta["projection_years_requested"] = plan_doc.get("projection_years_requested")
    meta["scenarios"] = [
        {"name": s["name"], "definition": s["definition"], "year_phase": s["year_phase"]}
        for s in plan_doc["scenarios"]
    ]
    meta["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    storage.put_bytes(
        "summaries.xlsx",
        summaries_workbook({k: pa.concat_tables(v) for k, v in sheets.items()}, meta),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    written.append("summaries.xlsx")
    meta["outputs"] = [*written, "metadata.json"]
    storage.put_bytes("metadata.json", json.dumps(meta, indent=1).encode(), "application/json")
    return meta


def chunk_size_for(simulations: int, workers: int) -> int:
    """Local runs: one chunk per worker and scenario keeps per-chunk overhead (reading params) small."""
    return max(1, math.ceil(simulations / max(1, workers)))
