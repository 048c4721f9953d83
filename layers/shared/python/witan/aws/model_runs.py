"""Model runs on AWS: run files in the data bucket (`models/{run_id}/`), the run record in the
model-runs table, inputs read from S3 keys.

Run record (docs/contracts.md): `pk=RUN#{run_id}`, `sk=META`; `status` RUNNING | SUCCEEDED | FAILED,
`progress` (0..1, chunks done / chunks), `chunks_total`, `chunks_done`, `output_prefix`,
`output_keys`, `error` ({code, message, ...}), `email` (whom to tell when it ends), times;
`gsi1pk=RUNS`, `gsi1sk={created_at}#{run_id}` lists runs newest last.
`projection_years` (how many calendar years after the seed year) and `years` (which) are set by the
plan step; the API stores the requested `projection_years` (null: every population year) first.
Runs started through the API (POST /model-runs) also carry `requested_by` (Cognito sub),
`organisation` (who may see the run), `inputs` (the S3 keys or prefix), `created_at` and
`execution_arn`; the API writes the record (RUNNING) before it starts the execution.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from itertools import islice
from typing import Any

import boto3
from botocore.exceptions import ClientError

from witan.aws.dynamo import DynamoTable, condition_failed
from witan.aws.table_shapes import GSI1
from witan.modelrun.definition import InputFile, ModelDefinition
from witan.modelrun.errors import ModelInputError
from witan.modelrun.records import RUNNING, RunRecord
from witan.modelrun.storage import run_prefix


class S3RunStorage:
    """`witan.modelrun.storage.RunStorage` on one run's prefix in a bucket."""

    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket, self.prefix = bucket, prefix
        self.client = client if client is not None else boto3.client("s3")

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, ContentType=content_type)

    def get_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"


def _get(client: Any, bucket: str, key: str, role: str) -> bytes:
    try:
        body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404", "AccessDenied"):
            raise ModelInputError(
                key, f"the {role} input is not in the data bucket", code="missing-input"
            ) from None
        raise
    return body


def _prefix_files(client: Any, bucket: str, prefix: str, definition: ModelDefinition) -> dict[str, list[str]]:
    """role -> keys in one folder (a dataset version holding every table), named as in an inputs folder."""
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    names = [
        obj["Key"][len(prefix) :]
        for obj in client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1000).get("Contents", [])
    ]
    found: dict[str, list[str]] = {}
    for role in definition.inputs:
        stems = {role.file, role.file.replace("-", "_"), role.file.replace("_", "-")}
        for name in sorted(names):
            stem, dot, ext = name.rpartition(".")
            if not dot or f".{ext}" not in role.formats:
                continue
            if stem in stems or (role.many and any(stem.startswith(s) for s in stems)):
                found.setdefault(role.role, []).append(prefix + name)
        if not role.many and role.role in found:
            found[role.role] = found[role.role][:1]
    return found


def _from_run(
    client: Any, bucket: str, role: str, ref: dict[str, Any], definition: ModelDefinition
) -> InputFile:
    """Another run's output as this model's input, through the chain adapter the model declares."""
    import io

    import pyarrow.parquet as pq

    chain = definition.chains.get(role)
    if chain is None:
        raise ModelInputError(
            "request",
            f"the {role} input cannot come from a model run",
            column="inputs",
            code="invalid-request",
        )
    run_id = str(ref.get("model_run"))
    data = _get(client, bucket, f"{run_prefix(run_id)}{chain.output}.parquet", role)
    options = {k: v for k, v in ref.items() if k not in ("model_run", "output")}
    return chain.convert(pq.read_table(io.BytesIO(data)), options)


def _folder_file(client: Any, bucket: str, role: str, folder: str) -> str:
    """The one file of a dataset version's folder (an earlier version than the catalog's latest)."""
    listed = client.list_objects_v2(Bucket=bucket, Prefix=folder, MaxKeys=2).get("Contents", [])
    if len(listed) != 1:
        raise ModelInputError(
            folder,
            f"the {role} input's dataset version holds {len(listed)} files, not one",
            code="missing-input",
        )
    return str(listed[0]["Key"])


def read_input_files(
    bucket: str, spec: Any, definition: ModelDefinition, client: Any = None
) -> dict[str, list[InputFile]]:
    """A run's inputs from the data bucket as {role: [InputFile]}. `spec`: {"prefix": folder}, or
    {role: key | [keys] | {"model_run": id, "output": name, ...options}} (the API resolved datasets
    to keys and checked the caller may read each)."""
    client = client if client is not None else boto3.client("s3")
    if not isinstance(spec, dict):
        raise ModelInputError("request", "inputs must be an object", column="inputs", code="invalid-request")
    roles = {r.role for r in definition.inputs}
    if "prefix" in spec:
        prefix = spec["prefix"]
        if not isinstance(prefix, str) or not prefix:
            raise ModelInputError(
                "request",
                "inputs.prefix must be a non-empty S3 prefix",
                column="inputs",
                code="invalid-request",
            )
        keys: dict[str, Any] = _prefix_files(client, bucket, prefix, definition)
    else:  # "valid-states" as well as "valid_states": table names as witan.send spells them
        spelled = {r.role.replace("_", "-"): r.role for r in definition.inputs}
        keys = {spelled.get(str(k), str(k)): v for k, v in spec.items()}
    unknown = sorted(set(keys) - roles)
    if unknown:
        raise ModelInputError(
            "request",
            f"inputs: unknown role(s) {', '.join(unknown)} for model {definition.name} "
            f"(roles: {', '.join(sorted(roles))})",
            column="inputs",
            code="unknown-input",
        )
    files: dict[str, list[InputFile]] = {}
    for role, where in keys.items():
        if isinstance(where, dict) and "folder" in where:
            where = _folder_file(client, bucket, role, str(where["folder"]))
        elif isinstance(where, dict):
            files[role] = [_from_run(client, bucket, role, where, definition)]
            continue
        listed = where if isinstance(where, list) else [where]
        if not listed or not all(isinstance(k, str) and k for k in listed):
            raise ModelInputError(
                "request", f"inputs.{role} must name S3 keys", column="inputs", code="invalid-request"
            )
        files[role] = [InputFile(k.rsplit("/", 1)[-1], _get(client, bucket, k, role)) for k in listed]
    return files


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _av(value: Any) -> dict[str, Any]:
    """A Python value as a DynamoDB attribute value (the few shapes the record uses)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [_av(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): _av(v) for k, v in value.items()}}
    return {"S": json.dumps(value, default=str)}


def _py(av: dict[str, Any]) -> Any:
    ((kind, value),) = av.items()
    if kind == "N":
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "L":
        return [_py(v) for v in value]
    if kind == "M":
        return {k: _py(v) for k, v in value.items()}
    if kind == "NULL":
        return None
    return value


STORAGE_ATTRIBUTES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})  # keys and index: never in a record


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _record(item: dict[str, Any]) -> RunRecord:
    """A stored run as its record. A run failed before anything else was written (a plan step that
    never started) has only its key, status and error: its id comes from the key."""
    v = {k: _py(a) for k, a in item.items() if k not in STORAGE_ATTRIBUTES}
    years, error, inputs = v.get("years"), v.get("error"), v.get("inputs")
    return RunRecord(
        run_id=str(v.get("run_id") or item["pk"]["S"].removeprefix("RUN#")),
        model=_str(v.get("model")),
        status=str(v.get("status") or RUNNING),
        progress=float(v.get("progress") or 0),
        chunks_done=_int(v.get("chunks_done")),
        chunks_total=_int(v.get("chunks_total")),
        simulations=_int(v.get("simulations")),
        seed=_int(v.get("seed")),
        projection_years=_int(v.get("projection_years")),
        years=tuple(int(y) for y in years) if isinstance(years, list) else None,
        scenarios=tuple(str(s) for s in v.get("scenarios") or []),
        requested_by=_str(v.get("requested_by")),
        organisation=_str(v.get("organisation")),
        inputs=inputs if isinstance(inputs, dict) else None,
        email=_str(v.get("email")),
        output_prefix=_str(v.get("output_prefix")),
        output_keys=tuple(str(k) for k in v.get("output_keys") or []),
        error=error if isinstance(error, dict) else None,
        execution_arn=_str(v.get("execution_arn")),
        created_at=_str(v.get("created_at")),
        updated_at=_str(v.get("updated_at")),
        finished_at=_str(v.get("finished_at")),
    )


def _running(
    run_id: str,
    model: str,
    simulations: int,
    seed: int,
    scenarios: list[str],
    output_prefix: str,
    email: str | None,
    now: str,
) -> dict[str, Any]:
    """The fields of a run record that says RUNNING, nothing done yet (listed newest first on gsi1)."""
    return {
        "run_id": run_id,
        "model": model,
        "simulations": simulations,
        "seed": seed,
        "scenarios": scenarios,
        "status": "RUNNING",
        "progress": 0,
        "chunks_done": 0,
        "output_prefix": output_prefix,
        "email": email,
        "updated_at": now,
        "gsi1pk": "RUNS",
        "gsi1sk": f"{now}#{run_id}",
    }


class ModelRunsTable(DynamoTable):
    """The run record of each model run (one item per run)."""

    REQUIRED_SETTING = "MODEL_RUNS_TABLE"

    @staticmethod
    def key(run_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "META"}}

    def _set(
        self,
        run_id: str,
        fields: dict[str, Any],
        condition: str | None = None,
        extra_values: dict[str, Any] | None = None,
    ) -> bool:
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": _av(v) for i, v in enumerate(fields.values())}
        values.update(extra_values or {})
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self.key(run_id),
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        try:
            self.client.update_item(**kwargs)
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def started(
        self,
        run_id: str,
        *,
        model: str,
        simulations: int,
        seed: int,
        scenarios: list[str],
        chunks_total: int,
        output_prefix: str,
        email: str | None,
        projection_years: int | None = None,
        years: list[int] | None = None,
    ) -> None:
        """Upsert: the API may have created the record when the run was requested. `projection_years`
        and `years` are what the plan decided to project (the request may have left it to the inputs)."""
        now = _now()
        projected: dict[str, Any] = {}
        if projection_years is not None:
            projected["projection_years"] = projection_years
        if years is not None:
            projected["years"] = years
        running = _running(run_id, model, simulations, seed, scenarios, output_prefix, email, now)
        self._set(run_id, {**projected, **running, "chunks_total": chunks_total})

    def chunk_done(self, run_id: str) -> float:
        """Count a finished chunk; returns the progress (retried chunks can only push it to 1)."""
        item: dict[str, Any] = self.client.update_item(
            TableName=self.table_name,
            Key=self.key(run_id),
            UpdateExpression="ADD chunks_done :one SET updated_at = :now",
            ExpressionAttributeValues={":one": {"N": "1"}, ":now": {"S": _now()}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
        done, total = _py(item["chunks_done"]), _py(item.get("chunks_total", {"N": "0"})) or 1
        progress = float(round(min(1.0, done / total), 4))
        self._set(
            run_id,
            {"progress": progress},
            "attribute_not_exists(progress) OR progress < :p",
            {":p": _av(progress)},
        )
        return progress

    def succeeded(self, run_id: str, output_keys: list[str]) -> None:
        self._set(
            run_id,
            {
                "status": "SUCCEEDED",
                "progress": 1,
                "output_keys": output_keys,
                "updated_at": _now(),
                "finished_at": _now(),
            },
        )

    def failed(self, run_id: str, error: dict[str, Any], email: str | None = None) -> None:
        """Mark the run failed. A specific error already recorded (e.g. by plan) is kept."""
        fields: dict[str, Any] = {"status": "FAILED", "updated_at": _now(), "finished_at": _now()}
        if email:
            fields["email"] = email
        # `_set` names the fields #f0.. in order, so `error`, added last, is #f{len(fields)}.
        if not self._set(run_id, {**fields, "error": error}, f"attribute_not_exists(#f{len(fields)})"):
            self._set(run_id, fields)

    def get(self, run_id: str) -> RunRecord | None:
        item = self.client.get_item(TableName=self.table_name, Key=self.key(run_id), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else _record(item)

    # --- used by the API (POST/GET /model-runs) -----------------------------------------------------

    def requested(
        self,
        run_id: str,
        *,
        model: str,
        simulations: int,
        seed: int,
        scenarios: list[str],
        requested_by: str,
        organisation: str,
        email: str | None,
        inputs: dict[str, Any],
        projection_years: int | None = None,
    ) -> str:
        """Create the run record (RUNNING, progress 0) before the execution starts; returns created_at.

        Same item and fields as `started` (which later upserts chunks_total), plus who asked and for
        which organisation, so the API can decide who may see the run.
        """
        now = _now()
        item = {
            **_running(run_id, model, simulations, seed, scenarios, run_prefix(run_id), email, now),
            "requested_by": requested_by,
            "organisation": organisation,
            "inputs": inputs,
            # None: every population year after the seed year; the plan step then records how many.
            "projection_years": projection_years,
            "created_at": now,
        }
        self.client.put_item(
            TableName=self.table_name,
            Item={**self.key(run_id), **{k: _av(v) for k, v in item.items()}},
            ConditionExpression="attribute_not_exists(pk)",
        )
        return now

    def set_execution(self, run_id: str, execution_arn: str) -> None:
        self._set(run_id, {"execution_arn": execution_arn})

    def list_runs(self, max_items: int = 5000) -> list[RunRecord]:
        """Every run record, newest first (gsi1 `RUNS`); callers filter by who may see them."""
        items = self.query(
            IndexName=GSI1,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": "RUNS"}},
            ScanIndexForward=False,
        )
        return [_record(item) for item in islice(items, max_items)]


class StepFunctionsStarter:
    """Starts one execution of the model-run state machine per run (the execution name is the run id)."""

    def __init__(self, state_machine_arn: str, client: Any = None) -> None:
        if not state_machine_arn:
            raise ValueError("the state machine ARN is required (STATE_MACHINE_ARN)")
        self.state_machine_arn = state_machine_arn
        self.client = client if client is not None else boto3.client("stepfunctions")

    def __call__(self, run_id: str, run_input: dict[str, Any]) -> str:
        return self.client.start_execution(
            stateMachineArn=self.state_machine_arn, name=run_id, input=json.dumps(run_input)
        )["executionArn"]
