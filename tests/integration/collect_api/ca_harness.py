"""Harness for the Collect+Share API tests (the moto set-up is ../aws_stack.py): the real access_api
handler, requesters (Cognito claims) and partners (no claims, token in the path).

A uniquely named module: `from conftest import ...` would pick up another folder's conftest under xdist.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from types import ModuleType
from typing import Any

from aws_stack import LambdaContext, call_rest_api, load_function, sent_emails

BUCKET = "witan-ca-data"
MAX_UPLOAD = 50_000
TOKEN_IN_LINK = re.compile(r"/collect/([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class Persona:
    sub: str | None
    groups: str = ""

    @property
    def claims(self) -> dict[str, str] | None:
        if self.sub is None:
            return None
        return {
            "sub": self.sub,
            "email": f"{self.sub}@council.example",
            "email_verified": "true",  # as Cognito's authorizer passes it
            "cognito:groups": self.groups,
        }


RITA = Persona("rita", "[org-camden]")
SAM = Persona("sam", "[org-camden]")
ADMIN = Persona("admin-1", "[platform-admin]")
PARTNER = Persona(None)


@dataclass
class Api:
    module: ModuleType
    ddb: Any
    s3: Any
    ses: Any
    tables: dict[str, str]
    last_request_id: str = ""

    def call(
        self,
        method: str,
        path: str,
        persona: Persona = RITA,
        body: Any = None,
        *,
        raw_body: str | None = None,
        accept: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, Any]]:
        self.last_request_id = f"req-{uuid.uuid4().hex}"
        return call_rest_api(
            self.module,
            method,
            path,
            request_id=self.last_request_id,
            claims=persona.claims,
            body=body,
            raw_body=raw_body,
            query=query,
            headers={"Accept": accept},
            stage="v1",
            domain="api.council.example",
        )

    def audit_items(self) -> list[dict[str, Any]]:
        from witan.aws.submissions import _plain

        items = [_plain(i) for i in self.ddb.scan(TableName=self.tables["AUDIT_TABLE"])["Items"]]
        for item in items:
            if isinstance(item.get("detail"), str):
                item["detail"] = json.loads(item["detail"])
        return items

    def events_for(self, request_id: str) -> list[dict[str, Any]]:
        return [i for i in self.audit_items() if i.get("request_id") == request_id]

    def the_event(self) -> dict[str, Any]:
        found = self.events_for(self.last_request_id)
        assert len(found) == 1, f"{len(found)} audit events for {self.last_request_id}"
        return found[0]

    def sent(self) -> list[Any]:
        return sent_emails()

    def tokens_for(self, address: str) -> list[str]:
        """Capability tokens emailed to `address`, oldest first."""
        return [
            t
            for m in self.sent()
            if address in m.destinations["ToAddresses"]
            for t in TOKEN_IN_LINK.findall(m.body)
        ]


def request_body(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Pupil census",
        "message": "Please send the autumn census.",
        "schema": "pupils",
        "due_date": (date.today() + timedelta(days=30)).isoformat(),
        "recipients": [
            {"email": "ann@school.example", "name": "Ann", "organisation": "School A"},
            {"email": "bob@school.example", "name": "Bob", "organisation": "School B"},
        ],
    } | extra


def load_handler() -> ModuleType:
    return load_function("access_api", "access_api_handler_ca")


def load_validator() -> ModuleType:
    return load_function("upload_validator", "upload_validator_handler_ca")


def post_as_browser(api: Api, target: dict[str, Any], content: bytes, validator: ModuleType) -> None:
    """What the page does after presigning: store the object with the policy's fields (moto does not
    enforce POST policies, so put_object stands in), then deliver the S3 notification to the real
    upload_validator handler as SQS would."""
    fields = target["fields"]
    put = api.s3.put_object(
        Bucket=BUCKET, Key=fields["key"], Body=content, ContentType=fields["Content-Type"]
    )
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Post",
        "eventTime": "2026-11-25T10:00:00.000Z",
        "s3": {
            "bucket": {"name": BUCKET},
            "object": {
                "key": fields["key"].replace(" ", "+"),
                "size": len(content),
                "versionId": put.get("VersionId"),
                "eTag": put["ETag"].strip('"'),
                "sequencer": f"{time.time_ns():020X}",  # S3 sequencers grow per key
            },
        },
    }
    message = {
        "messageId": uuid.uuid4().hex,
        "body": json.dumps({"Records": [record]}),
        "attributes": {},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }
    validator.reset()
    result = validator.lambda_handler({"Records": [message]}, LambdaContext())
    assert result == {"batchItemFailures": []}, result
