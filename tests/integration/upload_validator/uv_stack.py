"""Helpers for the upload validator tests: data bucket -> S3 notifications -> SQS -> the real handler.

The `stack` fixture (conftest.py, with ../aws_stack.py) makes the bucket, the requests, catalog,
grants and audit tables and the SES sender identity; S3 sends its real ObjectCreated notifications to an
SQS queue, and the messages received from that queue become the Lambda SQS event, as the event source
mapping would build it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import aws_stack
from aws_stack import REGION, sent_emails
from witan.aws.audit_table import scan_items
from witan.aws.submissions import put_request, put_submission
from witan.collect.records import CollectionRequest, Submission

BUCKET = "witan-test-data"
REQUESTS = "witan-test-requests"
CATALOG = "witan-test-catalog"
GRANTS = "witan-test-grants"
AUDIT = "witan-test-audit"
TABLES = {"REQUESTS_TABLE": REQUESTS, "CATALOG_TABLE": CATALOG, "GRANTS_TABLE": GRANTS, "AUDIT_TABLE": AUDIT}
REQUESTER = "rita@council.example"
UPLOADER = "uma@school.example"
MAX_UPLOAD_BYTES = 200_000

PUPILS_SCHEMA = {
    "name": "pupils",
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
        {"name": "dob", "type": "date"},
        {"name": "school", "type": "string", "constraints": {"enum": ["A", "B", "C"]}},
        {"name": "fte", "type": "number"},
    ],
}


def load_handler() -> ModuleType:
    return aws_stack.load_function("upload_validator", "upload_validator_handler")


class LambdaContext(aws_stack.LambdaContext):
    function_name = "upload-validator"
    memory_limit_in_mb = 1024


@dataclass
class Stack:
    s3: Any
    ddb: Any
    sqs: Any
    queue_url: str
    queue_arn: str
    handler: ModuleType

    def add_request(
        self,
        request_id: str = "r1",
        submission_id: str = "s1",
        title: str = "Pupil census 2026",
        schema: str = "pupils",
        **meta: Any,
    ) -> None:
        """A request META item (extra attributes as the Collect+Share API stores them) and a submission."""
        put_request(
            self.ddb,
            REQUESTS,
            CollectionRequest(
                request_id=request_id,
                title=title,
                schema=schema,
                requester_email=REQUESTER,
                requester_name="Rita",
            ),
            **meta,
        )
        put_submission(
            self.ddb,
            REQUESTS,
            Submission(
                request_id=request_id,
                submission_id=submission_id,
                uploader_email=UPLOADER,
                uploader_name="Uma",
            ),
        )

    def add_submission(self, request_id: str, submission_id: str) -> None:
        put_submission(self.ddb, REQUESTS, Submission(request_id, submission_id, UPLOADER, "Uma"))

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        return self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def receive(self) -> list[dict[str, Any]]:
        """Every message now in the queue (S3 notifications, including the s3:TestEvent)."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The Lambda SQS event the event source mapping builds from received messages."""
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }

    def invoke(self, event: dict[str, Any], remaining_ms: int = 300_000) -> dict[str, Any]:
        return self.handler.lambda_handler(event, LambdaContext(remaining_ms))

    def sent_emails(self) -> list[Any]:
        return sent_emails()

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        from witan.aws.submissions import _plain

        got = self.ddb.get_item(TableName=REQUESTS, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")
        return _plain(got) if got else None

    def audit_events(self) -> list[dict[str, Any]]:
        return [i for i in scan_items(AUDIT, self.ddb) if i.get("type") == "event"]

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return sorted(o["Key"] for o in listed)
