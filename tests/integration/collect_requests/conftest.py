"""Collect+Share requests on moto: requests table, versioned data bucket, SES; the real adapters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from cr_stack import BASE_URL, BUCKET, CATALOG, GRANTS, MAX_BYTES, REGION, SCHEMA, SENDER, TABLE, Clock, Env
from moto import mock_aws
from witan.aws.catalog_table import CollectedVersions, DynamoCatalogStore
from witan.aws.grants_table import DynamoGrantStore
from witan.aws.s3 import S3ObjectStore
from witan.aws.ses import SesMailer
from witan.aws.submissions import (
    DynamoCheckStore,
    DynamoRequestStore,
    S3UploadPresigner,
    create_requests_table,
    read_json_report,
)
from witan.collect.destination import DatasetDelivery
from witan.collect.request_service import CollectRequestService
from witan.collect.service import UploadCheckService
from witan.validation import check_file, load_schema


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Env]:
    schema_dir = tmp_path / "schemas"
    schema_dir.mkdir()
    (schema_dir / "pupils.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "WITAN_SCHEMA_DIR": str(schema_dir),
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        ses = boto3.client("ses", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for table in (TABLE, CATALOG, GRANTS):  # the same pk/sk + gsi1 keys (docs/contracts.md)
            create_requests_table(ddb, table)
        catalog = DynamoCatalogStore(CATALOG, ddb)
        grants = DynamoGrantStore(GRANTS, ddb)
        ses.verify_email_identity(EmailAddress=SENDER)
        clock = Clock()
        store = DynamoRequestStore(TABLE, ddb)
        mailer = SesMailer(SENDER, ses)
        service = CollectRequestService(
            store=store,
            mailer=mailer,
            presign=S3UploadPresigner(BUCKET, s3),
            resolve_schema=load_schema,
            link_base_url=BASE_URL,
            max_upload_bytes=MAX_BYTES,
            read_report=read_json_report(s3, BUCKET),
            catalog=catalog,
            grants=grants,
            clock=clock,
        )
        checker = UploadCheckService(
            store=DynamoCheckStore(TABLE, ddb),
            objects=S3ObjectStore(s3),
            mailer=mailer,
            check_file=check_file,
            load_schema=load_schema,
            reports_bucket=BUCKET,
            max_upload_bytes=MAX_BYTES,
            delivery=DatasetDelivery(
                catalog=CollectedVersions(catalog),
                grants=grants,
                objects=S3ObjectStore(s3),
                bucket=BUCKET,
                clock=clock,
            ),
            clock=clock,
        )
        yield Env(
            s3=s3,
            ddb=ddb,
            ses=ses,
            clock=clock,
            store=store,
            service=service,
            checker=checker,
            catalog=catalog,
            grants=grants,
        )
