"""Demography speed: every English council (326) projected 2015-2040, read inputs -> fit -> project ->
write outputs (CSV and Parquet), timed as a whole fresh process; also fit + project alone in-process.

Inputs: Bristol's history (the shared peers folder) copied under 326 made-up GSS codes when present,
else generated data of the same shape (and says so). Target: the whole process under 5 s on one core,
judged on its CPU time (user + system; Arrow held to one thread), as the machine may be shared; wall
time is printed beside it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

COUNCILS = 326
FIRST, LAST = 2015, 2040
TARGET_SECONDS = 5.0
PEER = (
    Path(os.environ.get("WITAN_PEERS", Path(__file__).resolve().parents[2] / "shared/peers"))
    / "witan-demography-bristol/inputs"
)
BRISTOL = {
    "population": "bristol_hist_popn_mye.csv",
    "births": "bristol_hist_births_mye.csv",
    "births_by_age_of_mother": "bristol_ons_proj_births_age_mother.csv",
    "deaths": "bristol_hist_deaths_mye.csv",
    "domestic_in": "bristol_hist_domestic_inmigrants.csv",
    "domestic_out": "bristol_hist_domestic_outmigrants.csv",
    "international_in": "bristol_hist_international_inmigrants.csv",
    "international_out": "bristol_hist_international_outmigrants.csv",
    "fertility_trend": "future_fertility_trend_assumption.csv",
    "mortality_trend": "death_improvement.csv",
}

# The whole job in a fresh interpreter (imports included), one thread for Arrow as on one core.
_PROCESS = """
import sys, pyarrow
pyarrow.set_cpu_count(1); pyarrow.set_io_thread_count(1)
from witan.models.demography.inputs import read_inputs_dir
from witan.models.demography.projection import output_tables, run, write_outputs
inputs = read_inputs_dir(sys.argv[1])
tables = output_tables(inputs, run(inputs, {"first_year": 2015, "last_year": 2040}))
write_outputs(tables, sys.argv[2])
print(sum(t.num_rows for t in tables.values()))
"""


def _copies(data: bytes, codes: list[str]) -> bytes:
    """A one-council CSV repeated under each code (the first column is the GSS code)."""
    table = pacsv.read_csv(io.BytesIO(data))
    n = table.num_rows
    columns = {name: np.tile(np.asarray(table.column(name)), len(codes)) for name in table.column_names[1:]}
    out = pa.table({table.column_names[0]: np.repeat(np.asarray(codes, dtype=object), n), **columns})
    buf = io.BytesIO()
    pacsv.write_csv(out, buf, pacsv.WriteOptions(quoting_style="none"))
    return buf.getvalue()


def write_inputs(folder: Path) -> str:
    from witan.models.demography.synthetic import council_codes, synthetic_files

    folder.mkdir(parents=True, exist_ok=True)
    codes = council_codes(COUNCILS)
    if (PEER / BRISTOL["population"]).is_file():
        for role, name in BRISTOL.items():
            data = (PEER / name).read_bytes()
            (folder / f"{role}.csv").write_bytes(data if role.endswith("_trend") else _copies(data, codes))
        return f"Bristol's history under {COUNCILS} made-up codes"
    for role, (_, data) in synthetic_files(COUNCILS, seed=1).items():
        (folder / f"{role}.csv").write_bytes(data)
    return f"GENERATED data for {COUNCILS} councils (peer folder absent)"


def main() -> int:
    from witan.models.demography.inputs import read_inputs_dir
    from witan.models.demography.projection import fit, project, settings_for

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        label = write_inputs(tmp / "inputs")
        size = sum(p.stat().st_size for p in (tmp / "inputs").iterdir()) / 1e6
        print(f"inputs: {label}, {size:.0f} MB of CSV")

        best, wall, rows = float("inf"), 0.0, 0
        for _ in range(3):  # best of 3: other work on a shared machine only ever adds time
            before = os.times()
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", _PROCESS, str(tmp / "inputs"), str(tmp / "out")],
                capture_output=True,
                text=True,
                check=True,
            )
            elapsed = time.perf_counter() - start
            after = os.times()
            cpu = (after.children_user - before.children_user) + (
                after.children_system - before.children_system
            )
            if cpu < best:
                best, wall, rows = cpu, elapsed, int(done.stdout.strip().splitlines()[-1])

        # The same run through the platform, as `witan model run demography` does it: inputs checked
        # against their Table Schemas, chunk results stored and read back, comparisons, charts and
        # the workbook too. Shown for what the platform adds; the target is the model's.
        before, start = os.times(), time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "witan.cli",
                "model",
                "run",
                "demography",
                "--inputs",
                str(tmp / "inputs"),
                "--out",
                str(tmp / "platform"),
                "--first-year",
                str(FIRST),
                "--last-year",
                str(LAST),
            ],
            capture_output=True,
            check=True,
        )
        platform_wall, after = time.perf_counter() - start, os.times()
        platform_cpu = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )

        inputs = read_inputs_dir(tmp / "inputs")
        fit_project = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            project(fit(inputs, settings_for(inputs, {"first_year": FIRST, "last_year": LAST})))
            fit_project = min(fit_project, time.perf_counter() - start)
        load = os.getloadavg()[0]

    ok = best < TARGET_SECONDS
    print(f"{'measure':<58} {'time':>22} {'figure':>18}  target")
    print(
        f"{f'{COUNCILS} councils {FIRST}-{LAST}, whole process (best of 3)':<58} "
        f"{f'{best:.2f} s CPU ({wall:.2f} s wall)':>22} {f'{rows / best:,.0f} rows/s':>18}  "
        f"{'met' if ok else 'MISSED'} (< {TARGET_SECONDS:.0f} s)"
    )
    print(f"{'  read CSV -> fit -> project -> write CSV and Parquet':<58} {'':>22} {f'{rows:,} rows':>18}")
    print(f"{'fit + project in-process (best of 3)':<58} {f'{fit_project:.3f} s':>22}")
    print(
        f"{'witan model run demography (platform: checks, charts, xlsx)':<58} "
        f"{f'{platform_cpu:.2f} s CPU ({platform_wall:.2f} s wall)':>22}"
    )
    print(f"(load average during the run: {load:.1f} on {os.cpu_count()} cores)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
