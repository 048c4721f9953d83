"""Fixture for the upload validator tests: the stack in moto, see uv_stack.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from uv_stack import (
    AUDIT,
    BUCKET,
    CATALOG,
    GRANTS,
    MAX_UPLOAD_BYTES,
    PUPILS_SCHEMA,
    REGION,
    REQUESTS,
    SENDER,
    Stack,
    load_handler,
)
from witan.aws.audit_table import create_audit_table
from witan.aws.submissions import create_requests_table


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stack]:
    schema_dir = tmp_path / "schemas"
    schema_dir.mkdir()
    (schema_dir / "pupils.json").write_text(json.dumps(PUPILS_SCHEMA), encoding="utf-8")
    env = {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DATA_BUCKET": BUCKET,
        "REQUESTS_TABLE": REQUESTS,
        "CATALOG_TABLE": CATALOG,
        "GRANTS_TABLE": GRANTS,
        "AUDIT_TABLE": AUDIT,
        "SES_SENDER": SENDER,
        "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "WITAN_SCHEMA_DIR": str(schema_dir),
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_DEV": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        ses = boto3.client("ses", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        queue_url = sqs.create_queue(QueueName="witan-test-uploads")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                    }
                ]
            },
        )
        for table in (REQUESTS, CATALOG, GRANTS):  # the same pk/sk + gsi1 keys (docs/contracts.md)
            create_requests_table(ddb, table)
        create_audit_table(ddb, AUDIT)
        ses.verify_email_identity(EmailAddress=SENDER)
        handler = load_handler()
        handler.reset()
        yield Stack(s3=s3, ddb=ddb, sqs=sqs, queue_url=queue_url, queue_arn=queue_arn, handler=handler)
        handler.reset()
