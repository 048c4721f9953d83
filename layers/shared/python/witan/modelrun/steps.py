"""The model-run task's steps, over ports (contract: docs/contracts.md): the Step Functions state machine
calls the model_run function with `{"step": "plan" | "chunk" | "aggregate" | "fail", ...}`.

- plan: state machine input -> fits, writes params and the manifest; returns the input plus
  `manifest_bucket`, `manifest_key` (the Map's ItemReader reads the JSON array there).
- chunk: one manifest item -> per-simulation Parquet; counts progress.
- aggregate: `{"run_id", "manifest_bucket", "manifest_key"}` -> summaries, charts, xlsx, metadata.
- fail: `{"run_id", "error"}` (a Catch's error) -> record FAILED with why; tell the requester.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from witan.collect.uploads.notify import Email
from witan.collect.uploads.ports import Mailer
from witan.modelrun import notify, pipeline
from witan.modelrun.definition import InputFile, ModelDefinition
from witan.modelrun.errors import ModelInputError
from witan.modelrun.ports import RunRecords
from witan.modelrun.request import RunRequest
from witan.modelrun.storage import RunStorage, run_prefix

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunPorts:
    """What the steps need: run records, run storage, the input files, the requester's mailer."""

    data_bucket: str
    runs: RunRecords
    storage: Callable[[str, str], RunStorage]  # (bucket, run prefix) -> the run's files
    read_inputs: Callable[[Any, ModelDefinition], Mapping[str, list[InputFile]]]  # event inputs -> files
    mailer: Mailer | None  # None: no sender configured (outcomes are still recorded)


class BadEvent(ValueError):
    """The event does not follow the contract (a wiring bug, not bad model input)."""


def _run_id(event: dict[str, Any]) -> str:
    run_id = event.get("run_id")
    if not isinstance(run_id, str) or not run_id or "/" in run_id:
        raise BadEvent("event has no valid run_id")
    return run_id


def _notify(services: RunPorts, email: Email) -> None:
    """Best effort: a run's outcome is recorded whether or not the email goes out."""
    if services.mailer is None:
        return
    try:
        services.mailer.send(email)
    except Exception:
        logger.exception("could not email the requester")  # the outcome is recorded all the same


def plan(event: dict[str, Any], services: RunPorts) -> dict[str, Any]:
    run_id = _run_id(event)
    runs = services.runs
    try:
        request = RunRequest.from_event(event)
        if "inputs" not in event:
            raise ModelInputError(
                "request",
                "inputs (S3 keys per role or a prefix) are required",
                column="inputs",
                code="invalid-request",
            )
        files = services.read_inputs(event["inputs"], request.definition)
        storage = services.storage(services.data_bucket, run_prefix(run_id))
        items = pipeline.plan(storage, files, request)
        meta = pipeline.planned_meta(storage)
    except ModelInputError as exc:
        # Record the specific reason now; the Catch's `fail` step keeps it and does the rest.
        runs.failed(
            run_id, exc.to_dict(), event.get("email") if isinstance(event.get("email"), str) else None
        )
        logger.warning("model run rejected", extra={"run_id": run_id, "error": exc.to_dict()})
        raise
    runs.started(
        run_id,
        model=request.model,
        simulations=request.simulations,
        seed=request.seed,
        scenarios=[s["name"] for s in request.scenarios],
        chunks_total=len(items),
        output_prefix=run_prefix(run_id),
        email=request.email,
        projection_years=meta.get("projection_years"),
        years=meta.get("years"),
    )
    logger.info("model run planned", extra={"run_id": run_id, "model": request.model, "chunks": len(items)})
    return {
        **event,
        "manifest_bucket": services.data_bucket,
        "manifest_key": run_prefix(run_id) + "manifest.json",
        "chunks": len(items),
    }


def chunk(event: dict[str, Any], services: RunPorts) -> dict[str, Any]:
    run_id = _run_id(event)
    for field in ("scenario", "sim_start", "sim_count"):
        if field not in event:
            raise BadEvent(f"chunk item has no {field}")
    key = pipeline.run_chunk(services.storage(services.data_bucket, run_prefix(run_id)), event)
    progress = services.runs.chunk_done(run_id)
    logger.info(
        "chunk simulated",
        extra={
            "run_id": run_id,
            "scenario": event["scenario"],
            "sim_start": event["sim_start"],
            "progress": progress,
        },
    )
    return {"run_id": run_id, "key": run_prefix(run_id) + key}


def aggregate(event: dict[str, Any], services: RunPorts) -> dict[str, Any]:
    run_id = _run_id(event)
    bucket = event.get("manifest_bucket") or services.data_bucket
    if (
        event.get("manifest_key", run_prefix(run_id) + "manifest.json")
        != run_prefix(run_id) + "manifest.json"
    ):
        raise BadEvent("manifest_key is not this run's manifest")
    storage = services.storage(bucket, run_prefix(run_id))
    meta = pipeline.aggregate(storage)
    keys = [run_prefix(run_id) + k for k in meta["outputs"]]
    services.runs.succeeded(run_id, keys)
    email = json.loads(storage.get_bytes("plan.json")).get("email")
    if email:
        _notify(services, notify.run_finished(email, run_id, meta, f"s3://{bucket}/{run_prefix(run_id)}"))
    logger.info("model run aggregated", extra={"run_id": run_id, "outputs": len(keys)})
    return {
        "run_id": run_id,
        "status": "SUCCEEDED",
        "output_prefix": run_prefix(run_id),
        "outputs": len(keys),
    }


def describe_error(error: Any) -> dict[str, Any]:
    """A Catch's {"Error", "Cause"} (Cause: the Lambda error JSON) as {code, message}."""
    if isinstance(error, dict):
        code = str(error.get("Error") or error.get("errorType") or "Error")
        cause = error.get("Cause") or error.get("errorMessage") or ""
        if isinstance(cause, str):
            try:
                parsed = json.loads(cause)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                cause = parsed.get("errorMessage") or cause
                code = str(parsed.get("errorType") or code)
        return {"code": code, "message": str(cause)[:2000]}
    return {"code": "Error", "message": str(error)[:2000]}


def fail(event: dict[str, Any], services: RunPorts) -> dict[str, Any]:
    run_id = _run_id(event)
    error = describe_error(event.get("error"))
    services.runs.failed(run_id, error)
    record = services.runs.get(run_id)
    recorded = dict(record.error) if record is not None and record.error else error
    if record is not None and record.email:
        message = str(recorded.get("message", ""))
        _notify(services, notify.run_failed(record.email, run_id, record.model or "", message))
    logger.warning("model run failed", extra={"run_id": run_id, "error": recorded})
    return {"run_id": run_id, "status": "FAILED", "error": recorded}


STEPS: dict[str, Callable[[dict[str, Any], RunPorts], dict[str, Any]]] = {
    "plan": plan,
    "chunk": chunk,
    "aggregate": aggregate,
    "fail": fail,
}
