"""Collect+Share requests on moto (aws_stack.py): requests table, versioned data bucket, SES; the real
adapters and services, wired here."""

from __future__ import annotations

from pathlib import Path

import aws_stack
import pytest
from cr_stack import BASE_URL, BUCKET, CATALOG, GRANTS, MAX_BYTES, TABLE, Clock, Env
from witan.aws.catalog_table import CollectedVersions, DynamoCatalogStore
from witan.aws.grants_table import DynamoGrantStore
from witan.aws.s3 import S3ObjectStore
from witan.aws.ses import SesMailer
from witan.aws.submissions import DynamoCheckStore, DynamoRequestStore, S3UploadPresigner, read_json_report
from witan.collect.requests.service import CollectRequestService
from witan.collect.uploads.check import UploadCheckService
from witan.collect.uploads.deliver import DatasetDelivery
from witan.validation import check_file, load_schema


@pytest.fixture
def env(moto_aws: aws_stack.Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Env:
    monkeypatch.setenv(
        "WITAN_SCHEMA_DIR", aws_stack.write_schemas(tmp_path / "schemas", aws_stack.PUPILS_SCHEMA)
    )
    s3, ddb, ses = moto_aws.s3, moto_aws.ddb, moto_aws.ses
    aws_stack.create_data_bucket(moto_aws, BUCKET, versioned=True)
    aws_stack.create_tables(
        moto_aws, {"REQUESTS_TABLE": TABLE, "CATALOG_TABLE": CATALOG, "GRANTS_TABLE": GRANTS}
    )
    catalog = DynamoCatalogStore(CATALOG, ddb)
    grants = DynamoGrantStore(GRANTS, ddb)
    ses.verify_email_identity(EmailAddress=aws_stack.SENDER)
    clock = Clock()
    store = DynamoRequestStore(TABLE, ddb)
    mailer = SesMailer(aws_stack.SENDER, ses)
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
    return Env(
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
