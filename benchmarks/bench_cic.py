"""Children looked after model at England's scale, side by side with Social Finance's own code.

Input: Social Finance's sample (shared peers folder cs-demand-model-samples) with its children copied
under 200 councils (about 750,000 episodes; CHILD ids made distinct per copy), or, when the sample is
absent, our steady-state generator at that scale (and says so). Both models run with their defaults
(reference = all the data, start = the data's end, 24 months), each as a whole process in a
subprocess (start-up, reading CSV, cleaning, rates, projection): wall time.

Social Finance's model: PyPI's `cs-demand-model` (0.5.1, 2023) is an earlier version (residential = K2
and R1 only, supported = H5 and P2, no splitting of episodes at age-band birthdays, no merging of
status-only episodes; pandas < 2 and numpy < 2, which this environment's numpy 2 excludes) and
`demand-model` (0.2.0) only its predictor, so neither reproduces the regional method. The comparison
runs the regional repository's own `ssda903` package (SocialFinanceDigitalLabs/cs-demand-model-regional)
when WITAN_SF_SOURCE names a folder holding it and WITAN_SF_PYTHON a Python with pandas, python-dateutil
and django (its imports need them); otherwise it is skipped and said so.

Targets: ours at least 5x faster; the projected in-care totals equal to 1e-6 relative.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("WITAN_PEERS", ROOT.parent / "shared/peers"))
SAMPLE = PEERS / "cs-demand-model-samples"
COUNCILS = 200
SPEEDUP_TARGET = 5.0
TOTALS_TOLERANCE = 1e-6

OURS = """
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from witan.models.cic.inputs import read_returns_dir
from witan.models.cic.run import project
out = project(read_returns_dir(Path(sys.argv[1])), {})
rows = out["baseline"]["in_care"].to_pylist()
totals = {r["date"]: r["mean"] for r in rows if r["placement"] == "all"}
print(json.dumps({"seconds": time.perf_counter() - t0, "totals": totals}))
"""

# Drives Social Finance's package through its public classes (nothing of it is copied here).
SOCIAL_FINANCE = """
import json, sys, time, io, contextlib
t0 = time.perf_counter()
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import pandas as pd
from ssda903.datastore import DataFile, Metadata
from ssda903.datacontainer import DemandModellingDataContainer
from ssda903.population_stats import PopulationStats
from ssda903.predictor import predict

class Folder:
    def __init__(self, folder):
        self.paths = sorted(Path(folder).glob("*.csv"))
    @property
    def files(self):
        return [DataFile(p.name, Metadata(p.name, p.stat().st_size, path=str(p))) for p in self.paths]
    def to_dataframe(self, f):
        return pd.read_csv(f.metadata.path)

dc = DemandModellingDataContainer(Folder(sys.argv[1]))
stats = PopulationStats(dc.enriched_view, dc.data_start_date, dc.data_end_date)
with contextlib.redirect_stdout(io.StringIO()):
    prediction = predict(stats, dc.data_start_date, dc.data_end_date, dc.data_end_date)
population = prediction.population
in_care = [c for c in population.columns if "Not in care" not in str(c)]
totals = {str(d)[:10]: float(v) for d, v in population[in_care].sum(axis=1).items()}
print(json.dumps({"seconds": time.perf_counter() - t0, "totals": totals}))
"""


def _copy_sample(folder: Path) -> int:
    """The sample's three tables with their children copied under COUNCILS councils."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    episodes = 0
    for name in ("episodes", "header", "uasc"):
        table = pacsv.read_csv(
            SAMPLE / f"{name}.csv", convert_options=pacsv.ConvertOptions(strings_can_be_null=True)
        )
        child = pc.cast(table["CHILD"], pa.int64()).to_numpy()
        la = table["LA"].to_numpy(zero_copy_only=False).astype(str)
        copies = []
        for k in range(COUNCILS):  # 200 copies, each a vectorised table operation
            copy = table.set_column(
                table.column_names.index("CHILD"), "CHILD", pa.array(child + k * 10_000_000)
            )
            copy = copy.set_column(
                copy.column_names.index("LA"), "LA", pa.array(np.char.add(la, f"-{k:03d}"))
            )
            copies.append(copy)
        big = pa.concat_tables(copies)
        pacsv.write_csv(big, folder / f"{name}.csv", pacsv.WriteOptions(quoting_style="needed"))
        episodes = big.num_rows if name == "episodes" else episodes
    return episodes


def _generate(folder: Path) -> int:
    """Our generator at England's scale (200 councils of about 165 starts a year), ISO dates so
    Social Finance's reader takes them too."""
    import numpy as np
    from witan.models.cic.synthetic import csv_bytes, generate

    parts = [
        generate(165, first_year=2017, last_year=2022, la=f"C{k:03d}", seed=k, child_offset=k * 10_000_000)
        for k in range(COUNCILS)
    ]

    total = 0
    for name in ("episodes", "header", "uasc"):
        tables = [getattr(p, name) for p in parts]
        merged = {c: np.concatenate([t[c] for t in tables]) for c in tables[0]}
        for c in ("DECOM", "DEC", "DOB", "DUC", "MC_DOB"):
            if c in merged:
                merged[c] = _dmy_to_iso(merged[c])
        (folder / f"{name}.csv").write_bytes(csv_bytes(merged))
        total = len(merged["CHILD"]) if name == "episodes" else total
    return total


def _dmy_to_iso(values):  # type: ignore[no-untyped-def]
    import numpy as np

    text = values.astype(str)
    blank = text == ""
    parts = np.char.split(np.where(blank, "01/01/1970", text), "/")
    out = np.array(["-".join(reversed(p)) for p in parts])  # once per benchmark: a plain list pass
    return np.where(blank, "", out)


def _run(code: str, python: str, *args: str) -> tuple[float, float, dict]:
    """Wall and CPU seconds of a whole subprocess, and what it printed (JSON on its last line)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "layers/shared/python") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return wall, cpu, json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp_name:
        folder = Path(tmp_name)
        if (SAMPLE / "episodes.csv").is_file():
            episodes = _copy_sample(folder)
            label = f"Social Finance's sample, children copied under {COUNCILS} councils"
        else:
            episodes = _generate(folder)
            label = f"GENERATED steady-state returns of {COUNCILS} councils (sample folder absent)"
        print(f"inputs: {label}: {episodes:,} episodes")
        ours_wall, ours_cpu, ours = _run(OURS, sys.executable, str(folder))
        print(f"ours (witan cic, exact, whole process):  {ours_wall:7.2f} s wall, {ours_cpu:7.2f} s CPU")
        sf_source, sf_python = os.environ.get("WITAN_SF_SOURCE"), os.environ.get("WITAN_SF_PYTHON")
        if not sf_source or not sf_python:
            print(
                "Social Finance's model: not run (set WITAN_SF_SOURCE to a folder holding the regional "
                "repository's ssda903 package and WITAN_SF_PYTHON to a Python with pandas, python-dateutil "
                "and django)"
            )
            return 0
        sf_wall, sf_cpu, sf = _run(SOCIAL_FINANCE, sf_python, str(folder), sf_source)
        print(f"Social Finance (ssda903, whole process): {sf_wall:7.2f} s wall, {sf_cpu:7.2f} s CPU")
        common = sorted(set(ours["totals"]) & set(sf["totals"]))
        worst = max(
            abs(ours["totals"][d] - sf["totals"][d]) / max(abs(sf["totals"][d]), 1e-12) for d in common
        )
        speedup = sf_wall / ours_wall
        only_one = len(set(ours["totals"]) ^ set(sf["totals"]))
        cpu_ratio = sf_cpu / ours_cpu
        print(f"speed-up: {speedup:.1f}x wall, {cpu_ratio:.1f}x CPU (target >= {SPEEDUP_TARGET:g}x wall)")
        print(
            f"in-care totals: {len(common)} projected days compared, largest relative difference {worst:.2e} "
            f"(target <= {TOTALS_TOLERANCE:g}); days only in one: {only_one}"
        )
        return 0 if speedup >= SPEEDUP_TARGET and worst <= TOTALS_TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
