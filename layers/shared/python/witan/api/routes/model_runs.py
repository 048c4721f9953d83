"""Model runs: start a SEND model run on the state machine, list runs, read one run's status and outputs.

Who may see a run: whoever asked for it, members of the organisation it was run for, platform admins.
Inputs are catalog datasets the caller may `file-read` (one per table), or the prefix of one dataset
version (`datasets/{id}/{version}/`) holding all four tables; either way the sharing policy decides,
as for a download. The plan step reads the files and records any problem with them on the run;
so a scenario window outside the projected years (known only from the inputs) fails the run there with
code `scenario-outside-projection`, while a window holding no year at all is a 422 here.
Each route's `operation_id` is its audit action; the app records exactly one audit event per request.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from witan.access.model import Activity, Principal
from witan.api.current import Current, current
from witan.api.deps import DOWNLOAD_EXPIRY_SECONDS
from witan.api.errors import ApiError
from witan.api.models import STRICT, Body, DatasetId, OrgGroup, error_responses, with_success
from witan.modelrun.limits import MAX_PROJECTION_YEARS, MAX_SIMULATION_YEARS, run_work
from witan.settings import DATASETS_PREFIX, Settings

logger = logging.getLogger(__name__)
router = Router()
TAGS = ["model-runs"]
ERRORS: dict[int, Any] = error_responses(
    {
        400: "bad input (code: invalid-json, malformed-id, invalid-query)",
        401: "no identity (code: unauthenticated)",
        403: "an input dataset or organisation you may not use (code: forbidden)",
        404: "no such run or input dataset, or not visible to you (code: not-found)",
        409: "an input dataset has no usable file (code: no-file, unsupported-input)",
        410: "an input dataset was deleted (code: dataset-deleted)",
        422: "body fails validation (code: unknown-field, missing-field, invalid-value, invalid-scenario, "
        "organisation-required, run-too-large, ...)",
        503: "the audit trail or the model service is unavailable (code: audit-unavailable, "
        "model-runs-unavailable)",
    }
)

MAX_SIMULATIONS = 5000
MAX_SCENARIOS = 20  # besides the baseline (witan.modelrun.pipeline.MAX_SCENARIOS)
CHUNK_SIZE = 100  # simulations per Map item: at most 50 chunks x 21 scenarios per run
INPUT_EXTENSIONS = (".csv", ".parquet")
RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
# A dataset version's folder: datasets/{id}/{version}/.
_PREFIX = re.compile(
    rf"^{re.escape(DATASETS_PREFIX)}(?P<dataset_id>[0-9a-f]{{32}})/(?P<version>[1-9][0-9]{{0,5}})/$"
)
OUTPUT_KINDS = {".csv": "summary", ".png": "chart", ".xlsx": "workbook"}

RunId = Annotated[str, Field(pattern=RUN_ID_PATTERN)]
PathRunId = Annotated[RunId, Path(description="model run id")]


# --- bodies -------------------------------------------------------------------------------------------


class DatasetInputs(BaseModel):
    """One catalog dataset per input table; its latest file (CSV or Parquet) is used."""

    model_config = STRICT
    transitions: DatasetId
    population: DatasetId
    costs: DatasetId
    valid_states: DatasetId = Field(description="the valid-states table")


class ModelRunInputs(BaseModel):
    """Exactly one of `datasets` or `prefix`."""

    model_config = STRICT
    datasets: DatasetInputs | None = None
    prefix: Annotated[str, Field(max_length=200)] | None = Field(
        None,
        description="datasets/{dataset_id}/{version}/ of a dataset you may file-read, holding "
        "transitions, population, costs and valid-states (.csv or .parquet)",
    )


class CreateModelRunRequest(BaseModel):
    model_config = STRICT
    model: Literal["send"] = "send"
    inputs: ModelRunInputs
    scenarios: Annotated[list[dict[str, Any]], Field(max_length=MAX_SCENARIOS)] = Field(
        default_factory=list,
        description="policy scenarios (the JSON format of witan.models.send.scenarios), each compared "
        "with the baseline",
    )
    simulations: Annotated[int, Field(ge=1, le=MAX_SIMULATIONS)] = 1000
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    projection_years: Annotated[int, Field(ge=1, le=MAX_PROJECTION_YEARS)] | None = Field(
        None,
        description="calendar years to project after the seed year (the last transitions year + 1); "
        "default: every population year after it. Each needs population rows, or the run fails with "
        "code missing-population naming the missing years.",
    )
    organisation: OrgGroup | None = Field(None, description="whose run it is; needed if you are in several")
    notify: bool = Field(True, description="email you when the run ends")


class ModelRunStarted(Body):
    id: str
    status: str
    location: str


class OutputLink(Body):
    name: str = Field(description="path inside the run, e.g. count.csv, scenarios/x/comparison.csv")
    kind: str = Field(description="summary, chart or workbook")
    key: str
    url: str = Field(description="presigned GET, valid at most 5 minutes")
    expires_at: str


class ModelRunView(Body):
    id: str
    model: str
    status: str = Field(description="RUNNING, SUCCEEDED or FAILED")
    progress: float = Field(description="0..1: chunks simulated / chunks")
    chunks_done: int | None = None
    chunks_total: int | None = None
    simulations: int | None = None
    seed: int | None = None
    projection_years: int | None = Field(
        None,
        description="calendar years projected after the seed year (null until planned if not requested)",
    )
    years: list[int] | None = Field(None, description="the projected calendar years, once planned")
    scenarios: list[str] = Field(default_factory=list)
    requested_by: str | None = None
    organisation: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    finished_at: str | None = None
    error: dict[str, Any] | None = None
    outputs: list[OutputLink] = Field(default_factory=list)


class ModelRunList(Body):
    items: list[ModelRunView]


# --- adapters -----------------------------------------------------------------------------------------


@dataclass
class ModelRunPorts:
    """What these routes need besides `Services`: the run records and a way to start an execution."""

    runs: Any  # witan.aws.model_runs.ModelRunsTable
    start: Callable[[str, dict[str, Any]], str]  # (run_id, state machine input) -> execution ARN
    requested: Callable[..., str]
    set_execution: Callable[[Any, str, str], None]
    list_runs: Callable[[Any], list[dict[str, Any]]]


_ports: dict[Settings, ModelRunPorts] = {}


def ports(cur: Current) -> ModelRunPorts:
    """Injected through `Services.model_runs` when present; otherwise wired once per configuration."""
    injected = getattr(cur.services, "model_runs", None)
    if isinstance(injected, ModelRunPorts):
        return injected
    settings = Settings.from_env()
    if settings not in _ports:
        from witan.aws import model_runs as aws

        if not settings.model_runs_table or not settings.state_machine_arn:
            raise ApiError(503, "model-runs-unavailable", "model runs are not configured on this stack")
        _ports[settings] = ModelRunPorts(
            runs=aws.ModelRunsTable(settings.model_runs_table),
            start=aws.StepFunctionsStarter(settings.state_machine_arn),
            requested=aws.requested,
            set_execution=aws.set_execution,
            list_runs=aws.list_runs,
        )
    return _ports[settings]


# --- helpers ------------------------------------------------------------------------------------------


def _cur() -> Current:
    return current(router.context)


def visibility(principal: Principal, run: dict[str, Any]) -> str | None:
    """Why the caller may see a run (the audit reason), or None."""
    if run.get("requested_by") and run.get("requested_by") == principal.sub:
        return "requester"
    org = run.get("organisation")
    if org and org in principal.organisations:
        return f"member:{org}"
    if principal.is_admin:
        return "admin:platform-admin"
    return None


def _organisation(cur: Current, wanted: str | None) -> tuple[str, str]:
    """The organisation the run is for, and the audit reason for it."""
    principal = cur.principal
    if wanted is None:
        if len(principal.organisations) != 1:
            cur.record.deny("organisation-required")
            raise ApiError(422, "organisation-required", "say which of your organisations the run is for")
        wanted = principal.organisations[0]
    if wanted in principal.organisations:
        return wanted, f"member:{wanted}"
    if principal.is_admin:
        return wanted, f"admin:{wanted}"
    cur.record.deny(f"not-member:{wanted}")
    raise ApiError(403, "forbidden", f"you are not a member of {wanted}")


def _dataset_file(cur: Current, table: str, dataset_id: str) -> tuple[str, str]:
    """The S3 key of a dataset's latest file, if the caller may read it; and the policy's reason."""
    dataset, _ = cur.dataset(dataset_id, Activity.FILE_READ)
    cur.require_live(dataset)
    reason = cur.record.reason or ""
    if dataset.file is None or not dataset.file.key.startswith(DATASETS_PREFIX):
        raise ApiError(409, "no-file", f"dataset {dataset_id} ({table}) has no file yet")
    if not dataset.file.file_name.lower().endswith(INPUT_EXTENSIONS):
        raise ApiError(
            409,
            "unsupported-input",
            f"dataset {dataset_id} ({table}) is {dataset.file.file_name}: model inputs are .csv or .parquet",
        )
    return dataset.file.key, reason


def _resolve_inputs(cur: Current, inputs: ModelRunInputs) -> tuple[dict[str, Any], dict[str, Any]]:
    """State machine `inputs` and what to record in the audit event about them."""
    if (inputs.datasets is None) == (inputs.prefix is None):
        raise ApiError(422, "invalid-value", "inputs: give exactly one of datasets or prefix")
    if inputs.datasets is not None:
        keys: dict[str, str] = {}
        audit: dict[str, Any] = {}
        for field_name, dataset_id in inputs.datasets.model_dump().items():
            table = field_name.replace("_", "-")
            key, reason = _dataset_file(cur, table, dataset_id)
            keys[table] = key
            audit[table] = {"dataset": dataset_id, "key": key, "reason": reason}
        return keys, audit
    prefix = inputs.prefix or ""
    matched = _PREFIX.match(prefix)
    if matched is None:
        raise ApiError(
            422,
            "invalid-value",
            f"inputs.prefix must be {DATASETS_PREFIX}{{dataset_id}}/{{version}}/",
        )
    dataset, _ = cur.dataset(matched["dataset_id"], Activity.FILE_READ)
    cur.require_live(dataset)
    return {"prefix": prefix}, {"prefix": prefix, "dataset": dataset.id, "reason": cur.record.reason or ""}


def _scenarios(raw: list[dict[str, Any]]) -> list[str]:
    """Check scenarios here so a bad one is a 422 now, not a failed run later."""
    from witan.models.send.inputs import ModelInputError
    from witan.models.send.scenarios import parse_scenarios

    try:
        parsed = parse_scenarios(raw, "scenarios") if raw else []
    except ModelInputError as exc:
        raise ApiError(422, exc.code, str(exc), column=exc.column) from None
    names = [s.name for s in parsed]
    if len(set(names)) != len(names):
        raise ApiError(422, "invalid-scenario", "scenario names must be unique", column="name")
    return names


def _view(cur: Current, run: dict[str, Any], with_outputs: bool) -> ModelRunView:
    outputs: list[OutputLink] = []
    prefix = str(run.get("output_prefix") or "")
    if with_outputs and run.get("status") == "SUCCEEDED":
        for key in run.get("output_keys") or []:
            kind = OUTPUT_KINDS.get("." + str(key).rsplit(".", 1)[-1])
            if kind is None or not prefix or not str(key).startswith(prefix):
                continue
            name = str(key)[len(prefix) :]
            signed = cur.services.files.presign_get(key, name.replace("/", "_"), DOWNLOAD_EXPIRY_SECONDS)
            outputs.append(
                OutputLink(
                    name=name, kind=kind, key=key, url=signed.url, expires_at=signed.expires_at.isoformat()
                )
            )
    error = run.get("error")
    return ModelRunView(
        id=str(run["run_id"]),
        model=str(run.get("model", "send")),
        status=str(run.get("status", "RUNNING")),
        progress=float(run.get("progress") or 0),
        chunks_done=run.get("chunks_done"),
        chunks_total=run.get("chunks_total"),
        simulations=run.get("simulations"),
        seed=run.get("seed"),
        projection_years=run.get("projection_years"),
        years=run.get("years"),
        scenarios=list(run.get("scenarios") or []),
        requested_by=run.get("requested_by"),
        organisation=run.get("organisation"),
        created_at=run.get("created_at"),
        updated_at=run.get("updated_at"),
        finished_at=run.get("finished_at"),
        error=error if isinstance(error, dict) else None,
        outputs=outputs,
    )


# --- routes -------------------------------------------------------------------------------------------


@router.post(
    "/model-runs",
    operation_id="model-run.create",
    tags=TAGS,
    status_code=202,
    summary="Start a SEND model run (baseline plus scenarios) on the state machine",
    responses=with_success(ERRORS, 202, "Accepted: the run is recorded and its execution started"),
)
def create_model_run(body: CreateModelRunRequest) -> ModelRunStarted:
    cur = _cur()
    organisation, org_reason = _organisation(cur, body.organisation)
    scenario_names = _scenarios(body.scenarios)
    if body.projection_years is not None:
        # Known now only when asked for; otherwise the plan step checks it once it has the population.
        work = run_work(body.simulations, len(scenario_names), body.projection_years)
        if work > MAX_SIMULATION_YEARS:
            raise ApiError(
                422,
                "run-too-large",
                f"simulations x (1 + scenarios) x (1 + projection_years) = {work:,} is more than one run "
                f"may aggregate ({MAX_SIMULATION_YEARS:,}); ask for fewer",
                column="projection_years",
            )
    state_inputs, input_audit = _resolve_inputs(cur, body.inputs)
    run_id = uuid.uuid4().hex
    chunk_size = min(body.simulations, CHUNK_SIZE)
    run_input: dict[str, Any] = {
        "run_id": run_id,
        "model": body.model,
        "inputs": state_inputs,
        "scenarios": body.scenarios,
        "simulations": body.simulations,
        "chunk_size": chunk_size,
        "seed": body.seed,
    }
    if body.projection_years is not None:
        run_input["projection_years"] = body.projection_years
    email = cur.principal.email if body.notify else None
    if email:
        run_input["email"] = email
    cur.record.resource = f"model-run/{run_id}"
    cur.record.allow(f"{org_reason}; inputs file-read")
    cur.record.detail.update(
        {
            "inputs": input_audit,
            "organisation": organisation,
            "scenarios": scenario_names,
            "simulations": body.simulations,
            "seed": body.seed,
            "projection_years": body.projection_years,
            "chunks": math.ceil(body.simulations / chunk_size) * (1 + len(scenario_names)),
        }
    )
    p = ports(cur)
    cur.write_ahead(202)
    p.requested(
        p.runs,
        run_id,
        model=body.model,
        simulations=body.simulations,
        seed=body.seed,
        scenarios=scenario_names,
        requested_by=cur.sub,
        organisation=organisation,
        email=email,
        inputs=state_inputs,
        projection_years=body.projection_years,
    )
    try:
        execution_arn = p.start(run_id, run_input)
    except Exception as exc:
        # The record says why, so GET /model-runs/{id} explains the failed start.
        logger.error("could not start model run %s: %s", run_id, type(exc).__name__)
        p.runs.failed(run_id, {"code": "start-failed", "message": type(exc).__name__})
        raise ApiError(
            503, "model-runs-unavailable", "the run could not be started; try again later"
        ) from exc
    p.set_execution(p.runs, run_id, execution_arn)
    return ModelRunStarted(id=run_id, status="RUNNING", location=f"/model-runs/{run_id}")


@router.get(
    "/model-runs",
    operation_id="model-run.list",
    tags=TAGS,
    summary="Your runs and your organisations' runs (admins: every run), newest first",
    responses=with_success(ERRORS),
)
def list_model_runs(
    status: Annotated[Literal["RUNNING", "SUCCEEDED", "FAILED"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ModelRunList:
    cur = _cur()
    principal = cur.principal
    p = ports(cur)
    items = [
        run
        for run in p.list_runs(p.runs)
        if visibility(principal, run) is not None and (status is None or run.get("status") == status)
    ][:limit]
    cur.record.allow("admin:platform-admin" if principal.is_admin else "policy-filtered")
    cur.record.detail.update({"returned": len(items), "status": status})
    return ModelRunList(items=[_view(cur, run, with_outputs=False) for run in items])


@router.get(
    "/model-runs/<run_id>",
    operation_id="model-run.read",
    tags=TAGS,
    summary="A run's status, progress and (once it succeeded) presigned links to its outputs",
    responses=with_success(ERRORS),
)
def get_model_run(run_id: PathRunId) -> ModelRunView:
    cur = _cur()
    cur.record.resource = f"model-run/{run_id}"
    p = ports(cur)
    run = p.runs.get(run_id)
    reason = visibility(cur.principal, run) if run else None
    if run is None or reason is None:
        # Do not reveal that a run exists to someone who may not see it.
        cur.record.deny("no-such-run" if run is None else "not-visible")
        raise ApiError(404, "not-found", f"no model run {run_id}")
    cur.record.allow(reason)
    view = _view(cur, run, with_outputs=True)
    cur.record.detail.update({"status": view.status, "outputs": len(view.outputs)})
    return view
