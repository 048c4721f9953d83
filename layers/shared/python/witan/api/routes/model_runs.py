"""Models and model runs: describe the registered models; start a run of any of them on the state
machine, list runs, read one run's status and outputs.

Who may see a run: whoever asked for it, members of the organisation it was run for, platform admins.
Inputs, by the model's input roles: a catalog dataset the caller may `file-read` (its latest file or a
given version), or another run's output the caller may see (runs that feed runs: the receiving model
declares how it converts it); SEND also takes its legacy forms (`datasets` by table, or the `prefix`
of one dataset version holding all four tables). Either way the sharing policy decides, as for a
download, and the run record keeps where every input came from. The plan step reads the files, checks
them against their Table Schemas and records any problem on the run; so a scenario window outside the
projected years (known only from the inputs) fails the run there with code
`scenario-outside-projection`, while a window holding no year at all is a 422 here.
Each route's `operation_id` is its audit action; the app records exactly one audit event per request.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from witan.access.records import Activity, Principal
from witan.api.bodies import STRICT, Body, DatasetId, OrgGroup, with_success
from witan.api.current import Current, current
from witan.api.deps import DOWNLOAD_EXPIRY_SECONDS, ModelRunPorts
from witan.api.errors import refusals
from witan.errors import (
    DatasetDeletedError,
    ForbiddenError,
    InvalidInputError,
    InvalidValueError,
    MissingInputError,
    ModelRunsUnavailableError,
    NoFileError,
    NotFoundError,
    OrganisationRequiredError,
    RunNotFinishedError,
    RunTooLargeError,
    UnknownInputError,
    UnsupportedInputError,
)
from witan.modelrun.limits import MAX_PROJECTION_YEARS, MAX_SIMULATION_YEARS, run_work
from witan.modelrun.records import RunRecord
from witan.settings import DATASETS_PREFIX

logger = logging.getLogger(__name__)
router = Router()
TAGS = ["model-runs"]

MAX_SIMULATIONS = 5000
MAX_SCENARIOS = 20  # besides the baseline (witan.modelrun.pipeline.MAX_SCENARIOS)
CHUNK_SIZE = 100  # simulations per Map item: at most 50 chunks x 21 scenarios per run
INPUT_EXTENSIONS = (".csv", ".parquet", ".xlsx")
MODEL_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
ROLE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
# A dataset version's folder: datasets/{id}/{version}/.
_PREFIX = re.compile(
    rf"^{re.escape(DATASETS_PREFIX)}(?P<dataset_id>[0-9a-f]{{32}})/(?P<version>[1-9][0-9]{{0,5}})/$"
)
OUTPUT_KINDS = {".csv": "summary", ".png": "chart", ".xlsx": "workbook"}

RunId = Annotated[str, Field(pattern=RUN_ID_PATTERN)]
PathRunId = Annotated[RunId, Path(description="model run id")]
ModelName = Annotated[str, Field(pattern=MODEL_NAME_PATTERN)]
Role = Annotated[str, Field(pattern=ROLE_PATTERN)]


# --- bodies -------------------------------------------------------------------------------------------


class DatasetInput(BaseModel):
    """A catalog dataset's file: the latest, or a given file version."""

    model_config = STRICT
    dataset: DatasetId
    version: Annotated[int, Field(ge=1, le=999_999)] | None = Field(None, description="default: the latest")


class RunOutputInput(BaseModel):
    """Another run's output table (runs that feed runs), converted as the receiving model declares
    (`GET /models/{name}`: its input's `from_model_run`)."""

    model_config = STRICT
    model_run: RunId
    output: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    gss_code: Annotated[str, Field(pattern=r"^[ENSW][0-9]{8}$")] | None = Field(
        None, description="which council of a demography run (needed when it projected several)"
    )


class DatasetInputs(BaseModel):
    """SEND's legacy form: one catalog dataset per input table; its latest file (CSV or Parquet)."""

    model_config = STRICT
    transitions: DatasetId
    population: DatasetId
    costs: DatasetId
    valid_states: DatasetId = Field(description="the valid-states table")


class ModelRunInputs(BaseModel):
    """SEND's legacy form: exactly one of `datasets` or `prefix`."""

    model_config = STRICT
    datasets: DatasetInputs | None = None
    prefix: Annotated[str, Field(max_length=200)] | None = Field(
        None,
        description="datasets/{dataset_id}/{version}/ of a dataset you may file-read, holding "
        "transitions, population, costs and valid-states (.csv or .parquet)",
    )


class CreateModelRunRequest(BaseModel):
    model_config = STRICT
    model: ModelName = Field("send", description="a registered model (GET /models)")
    inputs: (
        ModelRunInputs
        | dict[
            Role,
            DatasetInput | RunOutputInput | Annotated[list[DatasetInput], Field(min_length=1, max_length=40)],
        ]
    ) = Field(
        description="input role -> a dataset (and version), several datasets (roles taking several files, "
        "such as quarterly CLD), or another run's output; roles and their Table Schemas: GET /models/{name}"
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="the model's parameters (JSON Schema: GET /models/{name})"
    )
    scenarios: Annotated[list[dict[str, Any]], Field(max_length=MAX_SCENARIOS)] = Field(
        default_factory=list,
        description="policy scenarios, each compared with the baseline (JSON Schema: GET /models/{name})",
    )
    simulations: Annotated[int, Field(ge=1, le=MAX_SIMULATIONS)] = 1000
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    projection_years: Annotated[int, Field(ge=1, le=MAX_PROJECTION_YEARS)] | None = Field(
        None,
        description="SEND only, kept for earlier clients: parameters.projection_years",
        deprecated=True,
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
    inputs: dict[str, Any] | None = Field(
        None, description="where each input came from (dataset keys, or another run's id and output)"
    )
    outputs: list[OutputLink] = Field(default_factory=list)


class ModelRunList(Body):
    items: list[ModelRunView]


class ModelSummary(Body):
    name: str
    title: str
    version: str
    description: str
    stochastic: bool = Field(description="simulations (true) or one path per scenario (false)")


class ModelList(Body):
    items: list[ModelSummary]


class ModelDescription(ModelSummary):
    inputs: list[dict[str, Any]] = Field(
        description="input roles: file, formats, required, description, Table Schema, and which other "
        "model's output it can take (from_model_run)"
    )
    parameters: dict[str, Any] = Field(description="JSON Schema of `parameters`, with defaults")
    scenario: dict[str, Any] = Field(description="JSON Schema of one scenario")
    outputs: list[dict[str, str]]


# --- adapters -----------------------------------------------------------------------------------------


def ports(cur: Current) -> ModelRunPorts:
    if cur.services.model_runs is None:
        raise ModelRunsUnavailableError("model runs are not configured on this stack")
    return cur.services.model_runs()


# --- helpers ------------------------------------------------------------------------------------------


def _cur() -> Current:
    return current(router.context)


def visibility(principal: Principal, run: RunRecord) -> str | None:
    """Why the caller may see a run (the audit reason), or None."""
    if run.requested_by and run.requested_by == principal.sub:
        return "requester"
    org = run.organisation
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
            raise OrganisationRequiredError(purpose="the run is for")
        wanted = principal.organisations[0]
    if wanted in principal.organisations:
        return wanted, f"member:{wanted}"
    if principal.is_admin:
        return wanted, f"admin:{wanted}"
    cur.record.deny(f"not-member:{wanted}")
    raise ForbiddenError(f"you are not a member of {wanted}")


def _dataset_file(cur: Current, role: str, dataset_id: str, version: int | None = None) -> tuple[Any, str]:
    """Where a dataset's file is (an S3 key, or for an earlier version its folder), if the caller may
    read it; and the policy's reason."""
    dataset, _ = cur.dataset(dataset_id, Activity.FILE_READ)
    cur.require_live(dataset)
    reason = cur.record.reason or ""
    if dataset.file is None or not dataset.file.key.startswith(DATASETS_PREFIX):
        raise NoFileError(f"dataset {dataset_id} ({role}) has no file yet")
    if version is not None and version != dataset.file.version:
        if version > dataset.file.version:
            raise NotFoundError(
                f"dataset {dataset_id} ({role}) has no version {version} (latest: {dataset.file.version})",
            )
        return {"folder": f"{DATASETS_PREFIX}{dataset_id}/{version}/"}, reason
    if not dataset.file.file_name.lower().endswith(INPUT_EXTENSIONS):
        raise UnsupportedInputError(
            f"dataset {dataset_id} ({role}) is {dataset.file.file_name}: model inputs are "
            f"{', '.join(INPUT_EXTENSIONS)}",
        )
    return dataset.file.key, reason


def _run_output(cur: Current, role: str, ref: RunOutputInput, chain: Any) -> tuple[dict[str, Any], str]:
    """Another run's output as an input: the caller must be allowed to see that run, as for GET."""
    if chain is None:
        raise InvalidValueError(f"inputs.{role}: this model cannot take it from a model run")
    p = ports(cur)
    run = p.runs.get(ref.model_run)
    reason = visibility(cur.principal, run) if run else None
    if run is None or reason is None:
        cur.record.deny(f"input-run-not-visible:{ref.model_run}")
        raise NotFoundError(f"inputs.{role}: no model run {ref.model_run}")
    if run.model != chain.model or ref.output != chain.output:
        raise InvalidValueError(
            f"inputs.{role}: takes the {chain.output!r} output of a {chain.model} run "
            f"(run {ref.model_run} is a {run.model} run)",
        )
    if not run.succeeded:
        raise RunNotFinishedError(f"inputs.{role}: run {ref.model_run} is {run.status}")
    return ref.model_dump(exclude_none=True), reason


def _resolve_inputs(cur: Current, model: Any, inputs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """State machine `inputs` (role -> where) and what to record in the audit event about them."""
    if isinstance(inputs, ModelRunInputs):
        if model.name != "send":
            raise InvalidValueError("inputs: give each input role (datasets/prefix are SEND's)")
        return _legacy_inputs(cur, inputs)
    roles = {r.role: r for r in model.inputs}
    unknown = sorted(set(inputs) - set(roles))
    if unknown:
        raise UnknownInputError(f"inputs: unknown role(s) {', '.join(unknown)} (roles: {', '.join(roles)})")
    missing = [r for r, role in roles.items() if role.required and r not in inputs]
    if missing:
        raise MissingInputError(f"inputs: {', '.join(missing)} required", extra={"column": missing[0]})
    where: dict[str, Any] = {}
    audit: dict[str, Any] = {}
    for role, given in inputs.items():
        if isinstance(given, RunOutputInput):
            where[role], reason = _run_output(cur, role, given, model.chains.get(role))
            audit[role] = {**where[role], "reason": reason}
        elif isinstance(given, list):
            if not roles[role].many:
                raise InvalidValueError(f"inputs.{role} takes one dataset", extra={"column": role})
            found = [_dataset_file(cur, role, g.dataset, g.version) for g in given]
            if any(not isinstance(key, str) for key, _ in found):
                raise InvalidValueError(f"inputs.{role}: earlier versions only one at a time")
            where[role] = [key for key, _ in found]
            audit[role] = [
                {"dataset": g.dataset, "version": g.version, "key": key, "reason": reason}
                for g, (key, reason) in zip(given, found, strict=True)
            ]
        else:
            where[role], reason = _dataset_file(cur, role, given.dataset, given.version)
            audit[role] = {
                "dataset": given.dataset,
                "version": given.version,
                "key": where[role],
                "reason": reason,
            }
    return where, audit


def _legacy_inputs(cur: Current, inputs: ModelRunInputs) -> tuple[dict[str, Any], dict[str, Any]]:
    if (inputs.datasets is None) == (inputs.prefix is None):
        raise InvalidValueError("inputs: give exactly one of datasets or prefix")
    if inputs.datasets is not None:
        keys: dict[str, Any] = {}
        audit: dict[str, Any] = {}
        for role, dataset_id in inputs.datasets.model_dump().items():
            key, reason = _dataset_file(cur, role, dataset_id)
            keys[role] = key
            audit[role] = {"dataset": dataset_id, "key": key, "reason": reason}
        return keys, audit
    prefix = inputs.prefix or ""
    matched = _PREFIX.match(prefix)
    if matched is None:
        raise InvalidValueError(
            f"inputs.prefix must be {DATASETS_PREFIX}{{dataset_id}}/{{version}}/",
        )
    dataset, _ = cur.dataset(matched["dataset_id"], Activity.FILE_READ)
    cur.require_live(dataset)
    return {"prefix": prefix}, {"prefix": prefix, "dataset": dataset.id, "reason": cur.record.reason or ""}


def _checked_request(body: CreateModelRunRequest) -> tuple[Any, dict[str, Any], list[str]]:
    """The model, its parameters with defaults and the scenario names: a bad one is a 422 now, not a
    failed run later (checks that need no input data; the plan step checks the rest)."""
    from witan.modelrun.registry import get_model
    from witan.modelrun.request import checked_parameters, checked_scenarios

    # A ModelInputError is answered 422 with its own code and column (witan.modelrun.errors).
    model = get_model(body.model)
    raw = dict(body.parameters)
    if body.projection_years is not None:
        if body.model != "send":
            raise InvalidValueError("projection_years is SEND's; use parameters")
        raw["projection_years"] = body.projection_years
    parameters = checked_parameters(model, raw)
    scenarios = checked_scenarios(model, body.scenarios)
    model.check_request(parameters, scenarios)
    return model, parameters, [s["name"] for s in scenarios]


def _view(cur: Current, run: RunRecord, with_outputs: bool) -> ModelRunView:
    """The run's answer, field by field (the JSON shape is the API's, not the store's)."""
    outputs: list[OutputLink] = []
    prefix = run.output_prefix or ""
    if with_outputs and run.succeeded:
        for key in run.output_keys:
            kind = OUTPUT_KINDS.get("." + key.rsplit(".", 1)[-1])
            if kind is None or not prefix or not key.startswith(prefix):
                continue
            name = key[len(prefix) :]
            signed = cur.services.files.presign_get(key, name.replace("/", "_"), DOWNLOAD_EXPIRY_SECONDS)
            outputs.append(
                OutputLink(
                    name=name, kind=kind, key=key, url=signed.url, expires_at=signed.expires_at.isoformat()
                )
            )
    return ModelRunView(
        id=run.run_id,
        model="send" if run.model is None else run.model,  # runs from before the registry: SEND
        status=run.status,
        progress=run.progress,
        chunks_done=run.chunks_done,
        chunks_total=run.chunks_total,
        simulations=run.simulations,
        seed=run.seed,
        projection_years=run.projection_years,
        years=None if run.years is None else list(run.years),
        scenarios=list(run.scenarios),
        requested_by=run.requested_by,
        organisation=run.organisation,
        created_at=run.created_at,
        updated_at=run.updated_at,
        finished_at=run.finished_at,
        error=None if run.error is None else dict(run.error),
        inputs=None if run.inputs is None else dict(run.inputs),
        outputs=outputs,
    )


# --- routes -------------------------------------------------------------------------------------------


@router.get(
    "/models",
    operation_id="model.list",
    tags=TAGS,
    summary="The models Witan can run",
    responses=with_success(refusals()),
)
def list_models() -> ModelList:
    from witan.modelrun.registry import get_model, model_names

    cur = _cur()
    cur.record.allow("signed-in")
    items = []
    for name in model_names():
        m = get_model(name)
        items.append(
            ModelSummary(
                name=m.name,
                title=m.title,
                version=m.version,
                description=m.description,
                stochastic=m.stochastic,
            )
        )
    return ModelList(items=items)


@router.get(
    "/models/<name>",
    operation_id="model.read",
    tags=TAGS,
    summary="A model's inputs (with their Table Schemas), parameters, scenario format and outputs",
    responses=with_success(refusals()),
)
def get_model_description(name: Annotated[ModelName, Path(description="model name")]) -> ModelDescription:
    from witan.modelrun.registry import model_names
    from witan.models.cli import describe

    cur = _cur()
    cur.record.resource = f"model/{name}"
    if name not in model_names():
        cur.record.deny("no-such-model")
        raise NotFoundError(f"no model {name} (models: {', '.join(model_names())})")
    cur.record.allow("signed-in")
    return ModelDescription(**describe(name))


@router.post(
    "/model-runs",
    operation_id="model-run.create",
    tags=TAGS,
    status_code=202,
    summary="Start a model run (baseline plus scenarios) on the state machine",
    responses=with_success(
        refusals(
            ForbiddenError,
            OrganisationRequiredError,
            ModelRunsUnavailableError,
            NoFileError,
            UnsupportedInputError,
            RunNotFinishedError,
            DatasetDeletedError,
            MissingInputError,
            UnknownInputError,
            RunTooLargeError,
            InvalidInputError,
        ),
        202,
        "Accepted: the run is recorded and its execution started",
    ),
)
def create_model_run(body: CreateModelRunRequest) -> ModelRunStarted:
    cur = _cur()
    organisation, org_reason = _organisation(cur, body.organisation)
    model, parameters, scenario_names = _checked_request(body)
    stochastic = model.is_stochastic(parameters)
    simulations = body.simulations if stochastic else 1
    years = parameters.get("projection_years") or parameters.get("years")
    if stochastic and isinstance(years, int):
        # Known now only when asked for; otherwise the plan step checks it once it has the inputs.
        work = run_work(simulations, len(scenario_names), years)
        if work > MAX_SIMULATION_YEARS:
            raise RunTooLargeError(
                f"simulations x (1 + scenarios) x (1 + years) = {work:,} is more than one run "
                f"may aggregate ({MAX_SIMULATION_YEARS:,}); ask for fewer",
                extra={"column": "projection_years" if "projection_years" in parameters else "years"},
            )
    state_inputs, input_audit = _resolve_inputs(cur, model, body.inputs)
    run_id = uuid.uuid4().hex
    chunk_size = min(simulations, CHUNK_SIZE)
    run_input: dict[str, Any] = {
        "run_id": run_id,
        "model": model.name,
        "inputs": state_inputs,
        "parameters": parameters,
        "scenarios": body.scenarios,
        "simulations": simulations,
        "chunk_size": chunk_size,
        "seed": body.seed,
    }
    email = cur.principal.verified_email if body.notify else None
    if email:
        run_input["email"] = email
    cur.record.resource = f"model-run/{run_id}"
    cur.record.allow(f"{org_reason}; inputs readable")
    cur.record.detail.update(
        {
            "model": model.name,
            "inputs": input_audit,
            "organisation": organisation,
            "parameters": parameters,
            "scenarios": scenario_names,
            "simulations": simulations,
            "seed": body.seed,
            "chunks": math.ceil(simulations / chunk_size) * (1 + len(scenario_names)),
        }
    )
    p = ports(cur)
    with cur.changing(202):  # a start that fails is recorded as failed, not only as allowed
        p.runs.requested(
            run_id,
            model=model.name,
            simulations=simulations,
            seed=body.seed,
            scenarios=scenario_names,
            requested_by=cur.sub,
            organisation=organisation,
            email=email,
            inputs=state_inputs,
            projection_years=parameters.get("projection_years"),
        )
        try:
            execution_arn = p.start(run_id, run_input)
        except Exception as exc:
            # The record says why, so GET /model-runs/{id} explains the failed start.
            logger.error("could not start model run %s: %s", run_id, type(exc).__name__)
            p.runs.failed(run_id, {"code": "start-failed", "message": type(exc).__name__})
            raise ModelRunsUnavailableError("the run could not be started; try again later") from exc
        p.runs.set_execution(run_id, execution_arn)
    return ModelRunStarted(id=run_id, status="RUNNING", location=f"/model-runs/{run_id}")


@router.get(
    "/model-runs",
    operation_id="model-run.list",
    tags=TAGS,
    summary="Your runs and your organisations' runs (admins: every run), newest first",
    responses=with_success(refusals(ModelRunsUnavailableError)),
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
        for run in p.runs.list_runs()
        if visibility(principal, run) is not None and (status is None or run.status == status)
    ][:limit]
    cur.record.allow("admin:platform-admin" if principal.is_admin else "policy-filtered")
    cur.record.detail.update({"returned": len(items), "status": status})
    return ModelRunList(items=[_view(cur, run, with_outputs=False) for run in items])


@router.get(
    "/model-runs/<run_id>",
    operation_id="model-run.read",
    tags=TAGS,
    summary="A run's status, progress and (once it succeeded) presigned links to its outputs",
    responses=with_success(refusals(ModelRunsUnavailableError)),
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
        raise NotFoundError(f"no model run {run_id}")
    cur.record.allow(reason)
    view = _view(cur, run, with_outputs=True)
    cur.record.detail.update({"status": view.status, "outputs": len(view.outputs)})
    return view
