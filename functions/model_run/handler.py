"""model_run: the Step Functions task for every registered model's runs (contract: docs/contracts.md).

`{"step": "plan" | "chunk" | "aggregate" | "fail", ...}`. Thin: parse the event, call
witan.modelrun.pipeline over the S3 run storage, keep the run record in the model-runs table.
- plan: state machine input -> fits, writes params and the manifest; returns the input plus
  `manifest_bucket`, `manifest_key` (the Map's ItemReader reads the JSON array there).
- chunk: one manifest item -> per-simulation Parquet; counts progress.
- aggregate: `{"run_id", "manifest_bucket", "manifest_key"}` -> summaries, charts, xlsx, metadata.
- fail: `{"run_id", "error"}` (a Catch's error) -> record FAILED with why; tell the requester.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from witan.aws.model_runs import ModelRunsTable, S3RunStorage, read_input_files, run_prefix
from witan.modelrun import pipeline
from witan.modelrun.errors import ModelInputError
from witan.modelrun.request import RunRequest
from witan.settings import Settings

SERVICE_NAME = "model_run"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace="Witan", service=SERVICE_NAME)


class BadEvent(ValueError):
    """The event does not follow the contract (a wiring bug, not bad model input)."""


def _run_id(event: dict[str, Any]) -> str:
    run_id = event.get("run_id")
    if not isinstance(run_id, str) or not run_id or "/" in run_id:
        raise BadEvent("event has no valid run_id")
    return run_id


def _notify(settings: Settings, email: str | None, subject: str, text: str) -> None:
    """Best effort: a run's outcome is recorded whether or not the email goes out."""
    if not email or not settings.ses_sender:
        return
    try:
        from witan.aws.ses import SesMailer
        from witan.collect.uploads.notify import Email

        html = "<p>" + text.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>") + "</p>"
        SesMailer(settings.ses_sender, configuration_set=settings.ses_configuration_set).send(
            Email(to=email, subject=subject, text=text, html=html)
        )
    except Exception:
        logger.exception("could not email the requester")


def plan(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    run_id = _run_id(event)
    runs = ModelRunsTable(settings.model_runs_table)
    try:
        request = RunRequest.from_event(event)
        if "inputs" not in event:
            raise ModelInputError(
                "request",
                "inputs (S3 keys per role or a prefix) are required",
                column="inputs",
                code="invalid-request",
            )
        files = read_input_files(settings.data_bucket, event["inputs"], request.definition)
        storage = S3RunStorage(settings.data_bucket, run_prefix(run_id))
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
        "manifest_bucket": settings.data_bucket,
        "manifest_key": run_prefix(run_id) + "manifest.json",
        "chunks": len(items),
    }


def chunk(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    run_id = _run_id(event)
    for field in ("scenario", "sim_start", "sim_count"):
        if field not in event:
            raise BadEvent(f"chunk item has no {field}")
    key = pipeline.run_chunk(S3RunStorage(settings.data_bucket, run_prefix(run_id)), event)
    progress = ModelRunsTable(settings.model_runs_table).chunk_done(run_id)
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


def aggregate(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    run_id = _run_id(event)
    bucket = event.get("manifest_bucket") or settings.data_bucket
    if (
        event.get("manifest_key", run_prefix(run_id) + "manifest.json")
        != run_prefix(run_id) + "manifest.json"
    ):
        raise BadEvent("manifest_key is not this run's manifest")
    storage = S3RunStorage(bucket, run_prefix(run_id))
    meta = pipeline.aggregate(storage)
    keys = [run_prefix(run_id) + k for k in meta["outputs"]]
    ModelRunsTable(settings.model_runs_table).succeeded(run_id, keys)
    metrics.add_metric(name="ModelRunsSucceeded", unit=MetricUnit.Count, value=1)
    plan_doc = json.loads(storage.get_bytes("plan.json"))
    _notify(
        settings,
        plan_doc.get("email"),
        f"Witan model run {run_id} finished",
        f"Your {meta['model']} model run {run_id} ({meta['simulations']} simulation(s), "
        f"{len(meta['scenarios'])} scenario(s) with the baseline) has finished.\n"
        f"Results: s3://{bucket}/{run_prefix(run_id)} (summaries.xlsx, the output tables, charts/).",
    )
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


def fail(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    run_id = _run_id(event)
    runs = ModelRunsTable(settings.model_runs_table)
    error = describe_error(event.get("error"))
    runs.failed(run_id, error)
    metrics.add_metric(name="ModelRunsFailed", unit=MetricUnit.Count, value=1)
    record = runs.get(run_id) or {}
    recorded = record.get("error") or error
    _notify(
        settings,
        record.get("email"),
        f"Witan model run {run_id} failed",
        f"Your {record.get('model', '')} model run {run_id} failed: {recorded.get('message', '')}",
    )
    logger.warning("model run failed", extra={"run_id": run_id, "error": recorded})
    return {"run_id": run_id, "status": "FAILED", "error": recorded}


STEPS = {"plan": plan, "chunk": chunk, "aggregate": aggregate, "fail": fail}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = event.get("step") if isinstance(event, dict) else None
    if step not in STEPS:
        raise BadEvent(f"unknown step {step!r} (expected one of {', '.join(STEPS)})")
    logger.append_keys(step=step, run_id=event.get("run_id"))
    return STEPS[step](event, Settings.from_env())
