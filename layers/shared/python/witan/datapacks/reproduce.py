"""Re-run every model run of a pack from the pack's own inputs, parameters and seed, and compare each
output with the sealed one.

CSV and Parquet outputs must be identical bytes, or hold the same values to 1e-12 where only a
library's float formatting (or Parquet writer) changed: named as such. Charts, the workbook and
metadata.json hold run times or renderer versions: compared, but a difference there is information,
not a failure. Inputs taken from another run are converted again by the receiving model's chain
adapter, and every input's hash is checked against the one the run recorded.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from witan.datapacks.bundle import read_zip, verify_files

TOLERANCE = 1e-12
STRICT_EXTENSIONS = (".csv", ".parquet")

IDENTICAL = "identical"
CLOSE = "equal to 1e-12 (float formatting differs)"
SAME_VALUES = "same values (Parquet bytes differ: writer)"
DIFFERENT = "different"
MISSING = "missing from the re-run"
INFORMATIONAL = "differs (holds run times or renderer versions; not compared)"
PARQUET_BYTES = "Parquet bytes differ (compare values with witan datapack reproduce on the export)"


@dataclass
class OutputComparison:
    path: str
    status: str

    @property
    def ok(self) -> bool:
        if self.path.endswith(STRICT_EXTENSIONS):
            return self.status in (IDENTICAL, CLOSE, SAME_VALUES)
        return self.status != MISSING


@dataclass
class RunReproduction:
    run_id: str
    model: str
    sealed_code_version: dict[str, Any]
    current_code_version: dict[str, Any]
    outputs: list[OutputComparison] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(o.ok for o in self.outputs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model": self.model,
            "ok": self.ok,
            "sealed_code_version": self.sealed_code_version,
            "current_code_version": self.current_code_version,
            "same_code": self.sealed_code_version == self.current_code_version,
            "outputs": [{"path": o.path, "status": o.status, "ok": o.ok} for o in self.outputs],
            "problems": self.problems,
        }


@dataclass
class ReproduceReport:
    runs: list[RunReproduction] = field(default_factory=list)
    verify_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.verify_problems and all(r.ok for r in self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "verify": self.verify_problems, "runs": [r.as_dict() for r in self.runs]}

    def lines(self) -> list[str]:
        out = [f"verify: {p}" for p in self.verify_problems]
        for run in self.runs:
            sealed = run.sealed_code_version.get("source_sha256", "?")
            now = run.current_code_version.get("source_sha256", "?")
            same = "same code" if sealed == now else "different code"
            out.append(
                f"run {run.run_id} ({run.model}): {'reproduced' if run.ok else 'NOT reproduced'}; "
                f"sealed code {run.sealed_code_version.get('package')} {str(sealed)[:12]}, "
                f"re-run code {run.current_code_version.get('package')} {str(now)[:12]} ({same})"
            )
            out += [f"  problem: {p}" for p in run.problems]
            counts: dict[str, int] = {}
            for o in run.outputs:
                counts[o.status] = counts.get(o.status, 0) + 1
                if not o.ok or o.status in (CLOSE, SAME_VALUES):
                    out.append(f"  {o.path}: {o.status}")
            out.append("  outputs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        if not self.runs:
            out.append("the pack holds no model run")
        out.append("ok" if self.ok else "not reproduced")
        return out


def _numeric_equal(a: Any, b: Any) -> bool:
    """Two pyarrow tables with the same columns: equal, numbers to TOLERANCE (relative and absolute)."""
    import numpy as np
    import pyarrow as pa

    if a.column_names != b.column_names or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a[name], b[name]
        numeric = pa.types.is_integer(x.type) or pa.types.is_floating(x.type)
        if numeric and (pa.types.is_integer(y.type) or pa.types.is_floating(y.type)):
            xs = x.to_numpy(zero_copy_only=False).astype(float)
            ys = y.to_numpy(zero_copy_only=False).astype(float)
            if not np.allclose(xs, ys, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True):
                return False
        elif not x.cast(pa.string()).equals(y.cast(pa.string())):
            return False
    return True


def compare_output(path: str, sealed: bytes, rerun: bytes | None) -> OutputComparison:
    if rerun is None:
        return OutputComparison(path, MISSING)
    if rerun == sealed:
        return OutputComparison(path, IDENTICAL)
    if path.endswith(".csv"):
        import pyarrow.csv as pacsv

        try:
            a = pacsv.read_csv(io.BytesIO(sealed))
            b = pacsv.read_csv(io.BytesIO(rerun))
        except Exception:  # unreadable either way: simply different
            return OutputComparison(path, DIFFERENT)
        return OutputComparison(path, CLOSE if _numeric_equal(a, b) else DIFFERENT)
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        a, b = pq.read_table(io.BytesIO(sealed)), pq.read_table(io.BytesIO(rerun))
        if a.equals(b):
            return OutputComparison(path, SAME_VALUES)
        return OutputComparison(path, CLOSE if _numeric_equal(a, b) else DIFFERENT)
    return OutputComparison(path, INFORMATIONAL)


def _plain_numbers_close(sealed: bytes, rerun: bytes) -> bool:
    """Two CSVs with the same header and shape whose cells are equal, numbers to TOLERANCE. Pure Python:
    the API compares a re-run without numpy or pyarrow (CSV outputs are small summaries)."""
    import csv
    import math

    a = list(csv.reader(io.StringIO(sealed.decode("utf-8", "replace"))))
    b = list(csv.reader(io.StringIO(rerun.decode("utf-8", "replace"))))
    if len(a) != len(b) or not a or a[0] != b[0] or any(len(x) != len(y) for x, y in zip(a, b, strict=True)):
        return False
    for row_a, row_b in zip(a[1:], b[1:], strict=True):
        for x, y in zip(row_a, row_b, strict=True):
            if x == y:
                continue
            try:
                fx, fy = float(x), float(y)
            except ValueError:
                return False
            if not math.isclose(fx, fy, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
                return False
    return True


def compare_output_plain(path: str, sealed: bytes, rerun: bytes | None) -> OutputComparison:
    """`compare_output` without pyarrow: Parquet whose bytes differ is named as such, not compared."""
    if rerun is None:
        return OutputComparison(path, MISSING)
    if rerun == sealed:
        return OutputComparison(path, IDENTICAL)
    if path.endswith(".csv"):
        return OutputComparison(path, CLOSE if _plain_numbers_close(sealed, rerun) else DIFFERENT)
    if path.endswith(".parquet"):
        return OutputComparison(path, PARQUET_BYTES)
    return OutputComparison(path, INFORMATIONAL)


def run_inputs(run: Mapping[str, Any], files: Mapping[str, bytes]) -> tuple[dict[str, list[Any]], list[str]]:
    """role -> [InputFile] as the model read them (converted again where taken from another run)."""
    from witan.modelrun.definition import InputFile
    from witan.modelrun.inputs import hashes

    problems: list[str] = []
    out: dict[str, list[InputFile]] = {}
    for role, spec in run["inputs"].items():
        given = []
        for path, name in zip(spec["files"], spec["names"], strict=True):
            data = files.get(path)
            if data is None:
                problems.append(f"input {path} is not in the pack (personal data withheld?): cannot re-run")
                continue
            given.append(InputFile(name, data))
        if given and spec.get("convert"):
            import pyarrow.parquet as pq

            from witan.modelrun.registry import get_model

            chain = get_model(run["model"]).chains.get(role)
            if chain is None:
                problems.append(f"input {role}: the {run['model']} model no longer takes it from a run")
                continue
            options = {k: v for k, v in spec["convert"].items() if k not in ("model_run", "output")}
            given = [chain.convert(pq.read_table(io.BytesIO(given[0].data)), options)]
        out[role] = given
    recorded = run.get("input_hashes") or {}
    for role, digest in hashes(out).items():
        if role in out and role in recorded and recorded[role] != digest:  # by role (file names too)
            problems.append(f"input {role} is not the file the run read (sha256 {digest[:12]}...)")
    return out, problems


def reproduce_run(run: Mapping[str, Any], files: Mapping[str, bytes], work_dir: Path) -> RunReproduction:
    from witan.modelrun.definition import BASELINE
    from witan.modelrun.local import run_local
    from witan.modelrun.pipeline import code_version

    result = RunReproduction(
        run_id=str(run["run_id"]),
        model=str(run["model"]),
        sealed_code_version=dict(run.get("code_version") or {}),
        current_code_version=code_version(),
    )
    inputs, problems = run_inputs(run, files)
    result.problems += problems
    if problems:
        return result
    out_dir = work_dir / str(run["run_id"])
    scenarios = [s["definition"] for s in run.get("scenarios") or [] if s.get("name") != BASELINE]
    try:
        run_local(
            str(run["model"]),
            inputs,
            out_dir,
            parameters=dict(run.get("parameters") or {}),
            scenarios=scenarios,
            simulations=int(run["simulations"]),
            seed=int(run["seed"]),
            chunk_size=int(run["chunk_size"]),
            run_id=str(run["run_id"]),
            inputs=run.get("input_sources"),
        )
    except Exception as exc:  # a model refusing its inputs is a finding, not a crash
        result.problems.append(f"the re-run failed: {type(exc).__name__}: {exc}")
        return result
    prefix = f"runs/{run['run_id']}/outputs/"
    for path in run["outputs"]:
        sealed = files.get(path)
        if sealed is None:
            result.problems.append(f"{path} is not in the pack")
            continue
        produced = out_dir / path[len(prefix) :]
        result.outputs.append(
            compare_output(path, sealed, produced.read_bytes() if produced.is_file() else None)
        )
    return result


def reproduce_files(
    manifest_data: bytes,
    seal: Mapping[str, Any] | None,
    files: Mapping[str, bytes],
    work_dir: Path | None = None,
) -> ReproduceReport:
    report = ReproduceReport()
    check = verify_files(manifest_data, seal, files)
    report.verify_problems = check.lines() if not check.ok else []
    manifest = json.loads(manifest_data)
    with tempfile.TemporaryDirectory(prefix="witan-reproduce-") as tmp:
        root = Path(work_dir) if work_dir is not None else Path(tmp)
        for run in manifest.get("runs") or []:
            report.runs.append(reproduce_run(run, files, root))
    return report


def reproduce_zip(source: bytes | str | Path, work_dir: Path | None = None) -> ReproduceReport:
    manifest, seal, files = read_zip(source)
    if manifest is None:
        return ReproduceReport(verify_problems=["manifest.json is missing"])
    return reproduce_files(manifest, seal, files, work_dir)
