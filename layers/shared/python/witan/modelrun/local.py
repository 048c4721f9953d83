"""Running a model's plan/chunk/aggregate on this machine, chunks in a process pool."""

from __future__ import annotations

import multiprocessing
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from witan.modelrun.pipeline import RunRequest, aggregate, chunk_size_for, plan, run_chunk
from witan.modelrun.storage import LocalStorage
from witan.models.send.inputs import SendInputs
from witan.models.send.scenarios import Scenario


def _chunk_in_worker(root: str, item: dict[str, Any]) -> str:
    return run_chunk(LocalStorage(root), item)


def run_local(
    inputs: SendInputs,
    out_dir: str | Path,
    *,
    simulations: int = 1000,
    seed: int = 0,
    scenarios: list[Scenario] | None = None,
    workers: int = 1,
    chunk_size: int | None = None,
    run_id: str | None = None,
    projection_years: int | None = None,
) -> dict[str, Any]:
    """Plan, simulate every chunk (in `workers` processes), aggregate; returns the run metadata.

    `projection_years`: how many years after the seed year to project (default: every population year).
    """
    storage = LocalStorage(out_dir)
    request = RunRequest(
        run_id or f"local-{uuid.uuid4().hex[:12]}",
        simulations,
        seed,
        chunk_size or chunk_size_for(simulations, workers),
        list(scenarios or []),
        projection_years=projection_years,
    )
    items = plan(storage, inputs, request, max_work=None)  # this machine's memory is the limit
    run_chunks(out_dir, items, workers)
    return aggregate(storage)


def run_chunks(out_dir: str | Path, items: list[dict[str, Any]], workers: int) -> list[str]:
    """Run manifest items in this process (workers=1) or a pool of `workers` processes."""
    if workers <= 1:
        storage = LocalStorage(out_dir)
        return [run_chunk(storage, item) for item in items]
    # fork: workers inherit the imported modules instead of re-importing numpy/pyarrow each.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(_chunk_in_worker, [str(out_dir)] * len(items), items))
