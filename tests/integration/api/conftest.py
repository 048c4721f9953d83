"""Fixtures for the API integration tests (helpers live in api_harness.py).

One moto world per module (mocks, bucket, handler); fresh, tiny tables per test, because moto's
DynamoDB queries slow down as tables grow and each test should see only its own data.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from api_harness import BUCKET, MAX_UPLOAD, REGION, Api, create_pk_sk_table, load_handler
from moto import mock_aws
from witan.aws.audit_table import create_audit_table


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
        yield {"ddb": ddb, "s3": s3, "module": load_handler()}
    mp.undo()


@pytest.fixture
def api(moto_world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    suffix = uuid.uuid4().hex[:8]
    ddb = moto_world["ddb"]
    tables = {
        "CATALOG_TABLE": f"catalog-{suffix}",
        "GRANTS_TABLE": f"grants-{suffix}",
        "AUDIT_TABLE": f"audit-{suffix}",
    }
    create_pk_sk_table(ddb, tables["CATALOG_TABLE"])
    create_pk_sk_table(ddb, tables["GRANTS_TABLE"])
    create_audit_table(ddb, tables["AUDIT_TABLE"])
    for key, value in tables.items():
        monkeypatch.setenv(key, value)
    module = moto_world["module"]
    yield Api(module=module, ddb=ddb, s3=moto_world["s3"], tables=tables)
    module._services.clear()
    for name in tables.values():
        with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):  # an audit-outage test
            ddb.delete_table(TableName=name)
