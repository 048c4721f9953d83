"""Running any model's plan/chunk/aggregate on this machine, chunks in a process pool."""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from witan.modelrun.definition import InputFile
from witan.modelrun.pipeline import aggregate, chunk_size_for, plan, run_chunk
from witan.modelrun.request import RunRequest
from witan.modelrun.storage import LocalStorage


def _chunk_in_worker(root: str, item: dict[str, Any]) -> str:
    return run_chunk(LocalStorage(root), item)


def run_local(
    model: str,
    files: Mapping[str, Sequence[InputFile]],
    out_dir: str | Path,
    *,
    parameters: dict[str, Any] | None = None,
    scenarios: list[dict[str, Any]] | None = None,
    simulations: int = 1000,
    seed: int = 0,
    workers: int = 1,
    chunk_size: int | None = None,
    run_id: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check, plan, run every chunk (in `workers` processes), aggregate; returns the run metadata."""
    request = RunRequest.build(
        run_id or f"local-{uuid.uuid4().hex[:12]}",
        model,
        parameters=parameters,
        scenarios=scenarios,
        simulations=simulations,
        seed=seed,
        chunk_size=chunk_size or chunk_size_for(simulations, workers),
        inputs=inputs,
    )
    storage = LocalStorage(out_dir)
    items = plan(storage, {k: list(v) for k, v in files.items()}, request, max_work=None)
    run_chunks(out_dir, items, workers)
    return aggregate(storage)


def run_chunks(out_dir: str | Path, items: list[dict[str, Any]], workers: int) -> list[str]:
    """Run manifest items in this process (workers=1) or a pool of `workers` processes."""
    if workers <= 1 or len(items) <= 1:
        storage = LocalStorage(out_dir)
        return [run_chunk(storage, item) for item in items]
    # fork: workers inherit the imported modules instead of re-importing numpy/pyarrow each.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=min(workers, len(items)), mp_context=context) as pool:
        return list(pool.map(_chunk_in_worker, [str(out_dir)] * len(items), items))
