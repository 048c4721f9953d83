"""Harness for the Collect+Share API tests: moto tables and bucket per docs/contracts.md, the real
access_api handler, requesters (Cognito claims) and partners (no claims, token in the path).

A uniquely named module: `from conftest import ...` would pick up another folder's conftest under xdist.
"""

from __future__ import annotations

import importlib.util
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
HANDLER_PATH = ROOT / "functions" / "access_api" / "handler.py"
REGION = "eu-west-2"
BUCKET = "witan-ca-data"
SENDER = "witan@council.example"
MAX_UPLOAD = 50_000
SCHEMA = {
    "name": "pupils",
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
        {"name": "school", "type": "string", "constraints": {"enum": ["A", "B", "C"]}},
    ],
}
TOKEN_IN_LINK = re.compile(r"/collect/([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class Persona:
    sub: str | None
    groups: str = ""

    @property
    def claims(self) -> dict[str, str] | None:
        if self.sub is None:
            return None
        return {"sub": self.sub, "email": f"{self.sub}@council.example", "cognito:groups": self.groups}


RITA = Persona("rita", "[org-camden]")
SAM = Persona("sam", "[org-camden]")
ADMIN = Persona("admin-1", "[platform-admin]")
PARTNER = Persona(None)


class LambdaContext:
    function_name = "access-api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:access-api"
    aws_request_id = "test"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


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
        context: dict[str, Any] = {
            "requestId": self.last_request_id,
            "identity": {"sourceIp": "192.0.2.10", "userAgent": "pytest"},
            "stage": "v1",
            "domainName": "api.council.example",
        }
        if persona.claims is not None:
            context["authorizer"] = {"claims": persona.claims}
        event = {
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": {"Content-Type": "application/json", "Accept": accept},
            "queryStringParameters": query,
            "pathParameters": None,
            "body": raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
            "isBase64Encoded": False,
            "requestContext": context,
        }
        response = self.module.lambda_handler(event, LambdaContext())
        ctype = header(response, "content-type") or ""
        text = response.get("body") or ""
        parsed = json.loads(text) if "json" in ctype and text else text
        return response["statusCode"], parsed, response

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
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)

    def tokens_for(self, address: str) -> list[str]:
        """Capability tokens emailed to `address`, oldest first."""
        return [
            t
            for m in self.sent()
            if address in m.destinations["ToAddresses"]
            for t in TOKEN_IN_LINK.findall(m.body)
        ]


def header(response: dict[str, Any], name: str) -> str | None:
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name and values:
            return ", ".join(values)
    return None


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("access_api_handler_ca", HANDLER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


VALIDATOR_PATH = ROOT / "functions" / "upload_validator" / "handler.py"


def load_validator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("upload_validator_handler_ca", VALIDATOR_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
