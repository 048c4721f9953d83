"""Fixture for the upload validator tests: the stack in moto, see uv_stack.py and ../aws_stack.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aws_stack
import pytest
from uv_stack import BUCKET, MAX_UPLOAD_BYTES, PUPILS_SCHEMA, TABLES, Stack, load_handler


@pytest.fixture
def stack(moto_aws: aws_stack.Aws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stack]:
    env = {
        "DATA_BUCKET": BUCKET,
        **TABLES,
        "SES_SENDER": aws_stack.SENDER,
        "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "WITAN_SCHEMA_DIR": aws_stack.write_schemas(tmp_path / "schemas", PUPILS_SCHEMA),
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_DEV": "0",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s3, sqs = moto_aws.s3, moto_aws.sqs
    aws_stack.create_data_bucket(moto_aws, BUCKET, versioned=True)
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
    aws_stack.create_tables(moto_aws, TABLES)
    moto_aws.ses.verify_email_identity(EmailAddress=aws_stack.SENDER)
    handler = load_handler()
    handler.reset()
    yield Stack(s3=s3, ddb=moto_aws.ddb, sqs=sqs, queue_url=queue_url, queue_arn=queue_arn, handler=handler)
    handler.reset()
