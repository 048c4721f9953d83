"""One moto world per module (bucket, state machine, handler); fresh tables per test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from mr_harness import (
    BUCKET,
    DEFINITION,
    MAX_UPLOAD,
    REGION,
    ROLE_ARN,
    Api,
    create_pk_sk_table,
    load_handler,
)
from witan.aws.audit_table import create_audit_table
from witan.aws.model_runs import create_model_runs_table


@dataclass
class World:
    api: Api
    sfn: Any
    state_machine_arn: str
    runs_table: str


@pytest.fixture(scope="module")
def moto_world() -> Iterator[dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "DATA_BUCKET": BUCKET,
        "MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
    }.items():
        mp.setenv(key, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        yield {"ddb": ddb, "s3": s3, "sfn": sfn, "module": load_handler()}
    mp.undo()


@pytest.fixture
def world(moto_world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    suffix = uuid.uuid4().hex[:8]
    ddb, sfn = moto_world["ddb"], moto_world["sfn"]
    tables = {
        "CATALOG_TABLE": f"catalog-{suffix}",
        "GRANTS_TABLE": f"grants-{suffix}",
        "AUDIT_TABLE": f"audit-{suffix}",
        "MODEL_RUNS_TABLE": f"model-runs-{suffix}",
    }
    create_pk_sk_table(ddb, tables["CATALOG_TABLE"])
    create_pk_sk_table(ddb, tables["GRANTS_TABLE"])
    create_audit_table(ddb, tables["AUDIT_TABLE"])
    create_model_runs_table(tables["MODEL_RUNS_TABLE"], ddb)
    machine = sfn.create_state_machine(name=f"models-{suffix}", definition=DEFINITION, roleArn=ROLE_ARN)
    arn = machine["stateMachineArn"]
    for key, value in {**tables, "STATE_MACHINE_ARN": arn}.items():
        monkeypatch.setenv(key, value)
    module = moto_world["module"]
    api = Api(module=module, ddb=ddb, s3=moto_world["s3"], tables=tables)
    yield World(api=api, sfn=sfn, state_machine_arn=arn, runs_table=tables["MODEL_RUNS_TABLE"])
    module._services.clear()
    for name in tables.values():
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
            ddb.delete_table(TableName=name)
    sfn.delete_state_machine(stateMachineArn=arn)
