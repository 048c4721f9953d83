"""One moto world per module (bucket, SES, handler); fresh tables per test (see ca_harness.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from ca_harness import BUCKET, MAX_UPLOAD, REGION, SCHEMA, SENDER, Api, load_handler
from moto import mock_aws
from witan.aws.audit_table import create_audit_table
from witan.aws.submissions import create_requests_table

create_pk_sk_table = create_requests_table  # catalog/grants share the requests table's pk/sk/gsi1/TTL shape


@pytest.fixture(scope="module")
def moto_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    schema_dir: Path = tmp_path_factory.mktemp("schemas")
    (schema_dir / "pupils.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "DATA_BUCKET": BUCKET,
        "MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        "SES_SENDER": SENDER,
        "WITAN_SCHEMA_DIR": str(schema_dir),
    }.items():
        mp.setenv(key, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        ses = boto3.client("ses", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        ses.verify_email_identity(EmailAddress=SENDER)
        yield {"ddb": ddb, "s3": s3, "ses": ses, "module": load_handler()}
    mp.undo()


@pytest.fixture
def api(moto_world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    suffix = uuid.uuid4().hex[:8]
    ddb = moto_world["ddb"]
    tables = {
        "CATALOG_TABLE": f"catalog-{suffix}",
        "GRANTS_TABLE": f"grants-{suffix}",
        "AUDIT_TABLE": f"audit-{suffix}",
        "REQUESTS_TABLE": f"requests-{suffix}",
    }
    create_pk_sk_table(ddb, tables["CATALOG_TABLE"])
    create_pk_sk_table(ddb, tables["GRANTS_TABLE"])
    create_audit_table(ddb, tables["AUDIT_TABLE"])
    create_requests_table(ddb, tables["REQUESTS_TABLE"])
    for key, value in tables.items():
        monkeypatch.setenv(key, value)
    module = moto_world["module"]
    yield Api(module=module, ddb=ddb, s3=moto_world["s3"], ses=moto_world["ses"], tables=tables)
    module._services.clear()
    for name in tables.values():
        ddb.delete_table(TableName=name)
