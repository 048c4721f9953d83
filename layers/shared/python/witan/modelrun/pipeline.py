"""Plan -> chunk -> aggregate for every registered model, over a `RunStorage`.

Layout of a run (keys relative to its root):
  plan.json, manifest.json, metadata.json, summaries.xlsx
  params/...                                    what the model's plan stored for its chunks
  chunks/{scenario}/{sim_start:07d}.parquet     one chunk's results
  {output}.csv|.parquet                         the baseline's output tables (the model's measures)
  scenarios/{name}/{output}.csv|.parquet        each scenario's
  scenarios/{name}/comparison.csv|.parquet      scenario - baseline of the compared measures
  charts/...                                    the model's charts
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
from collections.abc import Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from witan.modelrun.definition import BASELINE, InputFile, Measure, ModelDefinition
from witan.modelrun.errors import ModelInputError
from witan.modelrun.inputs import check_inputs, hashes
from witan.modelrun.limits import MAX_SIMULATION_YEARS, run_work
from witan.modelrun.request import RunRequest
from witan.modelrun.storage import RunStorage
from witan.modelrun.summaries import compare, measure_table

__all__ = ["RunRequest", "aggregate", "chunk_key", "plan", "run_chunk", "table_csv"]


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


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def read_parquet(storage: RunStorage, key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(storage.get_bytes(key)))


def table_csv(table: pa.Table) -> bytes:
    """CSV as Python's csv module writes it (quoted only where needed, floats as repr: 2153.0,
    4.5e-05), built column by column in Arrow: a demography run of every council writes millions of
    rows, which row by row takes tens of seconds. Tables with text needing quotes, or types Arrow
    cannot turn into the same text, take the row-by-row path."""
    if table.num_columns == 1:  # csv writes an empty one-field row as "", not as an empty line
        return _rows_csv(table)
    columns = {}
    for name in table.column_names:
        text = _csv_text(table[name].combine_chunks())
        if text is None:
            return _rows_csv(table)
        columns[name] = text
    if any(pc.match_substring_regex(pa.array(table.column_names), _QUOTED).to_pylist()):
        return _rows_csv(table)
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(columns), buf, pacsv.WriteOptions(quoting_style="none", quoting_header="none"))
    return buf.getvalue()


_QUOTED = r'[",\r\n]'


def _needs_quotes(text: pa.Array) -> bool:
    """Whether a value would be quoted; checked on the distinct values (keys repeat millions of times)."""
    distinct = pc.unique(text.drop_null())
    return len(distinct) > 0 and bool(pc.any(pc.match_substring_regex(distinct, _QUOTED)).as_py())


def _csv_text(column: pa.Array) -> pa.Array | None:
    """A column as the text Python's str() gives each value (None: left to the row-by-row path)."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return None if _needs_quotes(column) else column
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "True", "False")
    if pa.types.is_integer(kind):
        return pc.cast(column, pa.string())
    if kind != pa.float64() or column.null_count:
        return None
    values = column.to_numpy(zero_copy_only=False).astype(np.float64)
    text = pc.cast(column, pa.string())  # shortest round-trip digits, as repr, but 2153 for 2153.0
    # repr switches to an exponent below 1e-4 and from 1e16, Arrow elsewhere (1.2e+14): those differ,
    # and are formatted one by one; the rest only lack repr's ".0" on whole numbers.
    exponent = pc.match_substring(text, "e").to_numpy(zero_copy_only=False)
    odd = np.flatnonzero(
        exponent | ~np.isfinite(values) | (np.abs(values) >= 1e16) | ((values != 0) & (np.abs(values) < 1e-4))
    )
    integral = np.isfinite(values) & (np.floor(values) == values)
    text = pc.if_else(pa.array(integral), pc.binary_join_element_wise(text, ".0", ""), text)
    if len(odd):
        out = text.to_numpy(zero_copy_only=False).astype(object)
        out[odd] = [repr(v) for v in values[odd].tolist()]
        text = pa.array(out, pa.string())
    return text


def _rows_csv(table: pa.Table) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.column_names)
    writer.writerows(zip(*(table[c].to_pylist() for c in table.column_names), strict=True))
    return buf.getvalue().encode("utf-8")


def _json(storage: RunStorage, key: str) -> Any:
    return json.loads(storage.get_bytes(key))


def chunk_key(scenario: str, sim_start: int) -> str:
    return f"chunks/{scenario}/{sim_start:07d}.parquet"


# --- plan ------------------------------------------------------------------------------------------


class StagedStorage:
    """Writes held in memory until `flush`: a plan refused after fitting leaves nothing behind."""

    def __init__(self, storage: RunStorage) -> None:
        self.storage = storage
        self.pending: dict[str, tuple[bytes, str]] = {}

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.pending[key] = (data, content_type)

    def get_bytes(self, key: str) -> bytes:
        return self.pending[key][0] if key in self.pending else self.storage.get_bytes(key)

    def exists(self, key: str) -> bool:
        return key in self.pending or self.storage.exists(key)

    def location(self, key: str) -> str:
        return self.storage.location(key)

    def flush(self) -> None:
        for key, (data, content_type) in self.pending.items():
            self.storage.put_bytes(key, data, content_type)
        self.pending.clear()


def plan(
    storage: RunStorage,
    files: Mapping[str, list[InputFile]],
    request: RunRequest,
    max_work: int | None = MAX_SIMULATION_YEARS,
) -> list[dict[str, Any]]:
    """Check the inputs, fit once (the model's plan), write plan.json and the manifest's chunk items.

    `max_work` bounds simulations x scenarios x steps (the model's meta["steps"], e.g. years) so that
    Aggregate fits one Lambda call; local runs (`witan model run`) pass None: their limit is memory."""
    definition = request.definition
    check_inputs(definition, files)
    staged = StagedStorage(storage)  # nothing is written unless the plan is accepted
    planned = definition.plan(
        files,
        request.parameters,
        request.scenarios,
        staged,
        simulations=request.simulations,
        seed=request.seed,
    )
    steps = int(planned.meta.get("steps", 1))
    work = run_work(request.simulations, len(request.scenarios), steps - 1)
    if max_work is not None and work > max_work:
        raise ModelInputError(
            "request",
            f"{request.simulations} simulations x {1 + len(request.scenarios)} scenario(s) x "
            f"{steps} {planned.meta.get('step_unit', 'steps')} = {work:,} simulation-years is more than "
            f"one run may aggregate ({max_work:,}); ask for fewer simulations, scenarios or years",
            column="projection_years" if "projection_years" in request.parameters else "simulations",
            code="run-too-large",
        )
    staged.flush()
    plan_doc = {
        "run_id": request.run_id,
        "model": definition.name,
        "model_version": definition.version,
        "seed": request.seed,
        "simulations": request.simulations,
        "stochastic": definition.is_stochastic(request.parameters),
        "chunk_size": request.chunk_size,
        "email": request.email,
        "parameters": request.parameters,
        "scenarios": [{"name": BASELINE, "definition": None}]
        + [{"name": s["name"], "definition": s} for s in request.scenarios],
        "inputs": request.inputs,
        "input_hashes": {**hashes(files), **planned.input_hashes},
        "warnings": [w.to_dict() for w in planned.warnings],
        "code_version": code_version(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "meta": planned.meta,
        "model_plan": planned.plan,
    }
    storage.put_bytes("plan.json", json.dumps(plan_doc, indent=1).encode(), "application/json")
    items = [
        {
            "step": "chunk",
            "run_id": request.run_id,
            "scenario": name,
            "sim_start": start_at,
            "sim_count": min(request.chunk_size, request.simulations - start_at),
        }
        for name in request.scenario_names
        for start_at in range(0, request.simulations, request.chunk_size)
    ]
    storage.put_bytes("manifest.json", json.dumps(items).encode(), "application/json")
    return items


def planned_meta(storage: RunStorage) -> dict[str, Any]:
    """The model's run facts from plan.json (years, ...): what the run record shows once planned."""
    meta: dict[str, Any] = _json(storage, "plan.json")["meta"]
    return meta


# --- chunk -----------------------------------------------------------------------------------------


def run_chunk(storage: RunStorage, item: dict[str, Any]) -> str:
    """Run one manifest item's simulations and write their results as Parquet."""
    from witan.modelrun.registry import get_model

    plan_doc = _json(storage, "plan.json")
    scenario, first, count = item["scenario"], int(item["sim_start"]), int(item["sim_count"])
    if scenario not in {s["name"] for s in plan_doc["scenarios"]}:
        raise ModelInputError(
            "manifest",
            f"scenario {scenario!r} is not in the plan",
            column="scenario",
            code="unknown-scenario",
        )
    definition = get_model(plan_doc["model"])
    table = definition.simulate(
        storage, plan_doc["model_plan"], scenario, range(first, first + count), int(plan_doc["seed"])
    )
    key = chunk_key(scenario, first)
    storage.put_bytes(key, parquet_bytes(table))
    return key


# --- aggregate -------------------------------------------------------------------------------------


def scenario_results(
    storage: RunStorage, plan_doc: dict[str, Any], items: list[dict[str, Any]], scenario: str
) -> pa.Table:
    """Every chunk result of one scenario, in simulation order; each simulation exactly once."""
    sims = int(plan_doc["simulations"])
    covered = [False] * sims
    tables = []
    for item in sorted((i for i in items if i["scenario"] == scenario), key=lambda i: int(i["sim_start"])):
        key = chunk_key(scenario, int(item["sim_start"]))
        if not storage.exists(key):
            raise RuntimeError(f"chunk result {key} is missing: its chunk task did not finish")
        tables.append(read_parquet(storage, key))
        covered[item["sim_start"] : item["sim_start"] + item["sim_count"]] = [True] * item["sim_count"]
    if not all(covered):
        missing = [i for i, c in enumerate(covered) if not c][:5]
        raise RuntimeError(f"scenario {scenario}: simulations {missing}... have no chunk")
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _write_table(storage: RunStorage, key_stem: str, table: pa.Table, written: list[str]) -> None:
    storage.put_bytes(f"{key_stem}.csv", table_csv(table), "text/csv")
    storage.put_bytes(f"{key_stem}.parquet", parquet_bytes(table))
    written += [f"{key_stem}.csv", f"{key_stem}.parquet"]


def _with_column(table: pa.Table, name: str, value: str) -> pa.Table:
    return table.add_column(0, name, pa.array([value] * table.num_rows, pa.string()))


def aggregate(storage: RunStorage) -> dict[str, Any]:
    """Output tables per scenario, comparisons with the baseline, charts, workbook, metadata."""
    from witan.modelrun.registry import get_model
    from witan.modelrun.xlsx import summaries_workbook

    plan_doc = _json(storage, "plan.json")
    items = _json(storage, "manifest.json")
    definition: ModelDefinition = get_model(plan_doc["model"])
    model_plan = plan_doc["model_plan"]
    stochastic = bool(plan_doc["stochastic"])
    written: list[str] = []
    sheets: dict[str, list[pa.Table]] = {}
    kept: dict[str, dict[str, Measure]] = {}
    for entry in plan_doc["scenarios"]:
        name = entry["name"]
        results = scenario_results(storage, plan_doc, items, name)
        measures = definition.measures(storage, model_plan, name, results)
        del results
        prefix = "" if name == BASELINE else f"scenarios/{name}/"
        for output, measure in measures.items():
            table = measure_table(measure, stochastic)
            _write_table(storage, f"{prefix}{output}", table, written)
            if measure.workbook:
                sheets.setdefault(output, []).append(_with_column(table, "scenario", name))
        # Only what comparisons and charts need stays in memory (SEND's by_state would not fit twice).
        kept[name] = {k: m for k, m in measures.items() if m.compare or m.chart}
        del measures
    base = kept[BASELINE]
    for name, measures in kept.items():
        if name == BASELINE:
            continue
        parts = [
            _with_column(compare(m, base[k], stochastic), "measure", k)
            for k, m in measures.items()
            if m.compare
        ]
        if not parts:
            continue
        table = pa.concat_tables(parts, promote_options="default")
        _write_table(storage, f"scenarios/{name}/comparison", table, written)
        sheets.setdefault("comparison", []).append(_with_column(table, "scenario", name))
    for key, png in definition.charts(model_plan, kept).items():
        storage.put_bytes(f"charts/{key}", png, "image/png")
        written.append(f"charts/{key}")
    meta = {
        k: plan_doc[k]
        for k in (
            "run_id",
            "model",
            "model_version",
            "seed",
            "simulations",
            "stochastic",
            "chunk_size",
            "parameters",
            "inputs",
            "input_hashes",
            "code_version",
            "warnings",
            "created_at",
        )
    }
    meta.update(plan_doc["meta"])
    meta["scenarios"] = plan_doc["scenarios"]
    meta["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    storage.put_bytes(
        "summaries.xlsx",
        summaries_workbook(
            {k: pa.concat_tables(v, promote_options="default") for k, v in sheets.items()}, meta
        ),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    written.append("summaries.xlsx")
    meta["outputs"] = [*written, "metadata.json"]
    storage.put_bytes("metadata.json", json.dumps(meta, indent=1).encode(), "application/json")
    return meta


def chunk_size_for(simulations: int, workers: int) -> int:
    """Local runs: one chunk per worker and scenario keeps per-chunk overhead (reading params) small."""
    return max(1, math.ceil(simulations / max(1, workers)))
