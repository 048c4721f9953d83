"""The moto set-up the integration folders share: fake credentials and region, the data bucket, the
tables of docs/contracts.md (from the shapes the stack declares: dynamo_tables.py), the real handlers and the
Lambda context they are called with. Each folder's conftest/harness adds only what is its own.

A uniquely named module: `from conftest import ...` would pick up another folder's conftest under xdist.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from dynamo_tables import create_audit_table, create_keyed_table
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from witan.access.records import Activity

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-2"
SENDER = "witan@council.example"
# Set before anything makes a client, so nothing can reach a real account whatever the shell holds.
FAKE_CREDENTIALS = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
PUPILS_SCHEMA = {
    "name": "pupils",
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
        {"name": "school", "type": "string", "constraints": {"enum": ["A", "B", "C"]}},
    ],
}

# The table creators, by the environment variable that names each table to the handlers.
# Catalog, grants, requests and model-runs tables have the same pk/sk + gsi1 keys (docs/contracts.md).
TABLE_CREATORS: dict[str, Callable[[Any, str], None]] = {
    "CATALOG_TABLE": create_keyed_table,
    "GRANTS_TABLE": create_keyed_table,
    "REQUESTS_TABLE": create_keyed_table,
    "AUDIT_TABLE": create_audit_table,
    "MODEL_RUNS_TABLE": create_keyed_table,
}


class Aws:
    """Clients of one moto world, each made on first use (inside the world, in the test region)."""

    @cached_property
    def ddb(self) -> Any:
        return boto3.client("dynamodb", region_name=REGION)

    @cached_property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    @cached_property
    def ses(self) -> Any:
        return boto3.client("ses", region_name=REGION)

    @cached_property
    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=REGION)

    @cached_property
    def sfn(self) -> Any:
        return boto3.client("stepfunctions", region_name=REGION)


@contextlib.contextmanager
def mocked(mp: pytest.MonkeyPatch, **env: str) -> Iterator[Aws]:
    """Fake credentials plus `env` in the environment (through `mp`, so its owner undoes them), and
    moto for the block."""
    for name, value in {**FAKE_CREDENTIALS, **env}.items():
        mp.setenv(name, value)
    with mock_aws():
        yield Aws()


def create_data_bucket(aws: Aws, bucket: str, *, versioned: bool = False) -> None:
    """The data bucket; versioned as the stack makes it where a test reads object versions."""
    aws.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


@contextlib.contextmanager
def handler_world(
    load_handler: Callable[[], ModuleType], bucket: str, *, versioned: bool = False, **env: str
) -> Iterator[tuple[Aws, ModuleType]]:
    """A moto world for a module of handler tests: `env` and the data bucket's name in the environment
    (undone afterwards), the bucket, and the handler loaded inside the world."""
    with pytest.MonkeyPatch.context() as mp, mocked(mp, DATA_BUCKET=bucket, **env) as aws:
        create_data_bucket(aws, bucket, versioned=versioned)
        yield aws, load_handler()


def create_tables(aws: Aws, tables: Mapping[str, str]) -> None:
    """Create each table of `tables` (environment variable -> table name) in the stack's shape."""
    for variable, name in tables.items():
        TABLE_CREATORS[variable](aws.ddb, name)


@contextlib.contextmanager
def fresh_tables(aws: Aws, mp: pytest.MonkeyPatch, *variables: str) -> Iterator[dict[str, str]]:
    """Tables of one test's own (moto's queries slow down as tables grow, and each test should see only
    its data), named in the environment as the handlers read them, and deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    tables = {v: f"{v.removesuffix('_TABLE').lower().replace('_', '-')}-{suffix}" for v in variables}
    create_tables(aws, tables)
    for variable, name in tables.items():
        mp.setenv(variable, name)
    try:
        yield tables
    finally:
        for name in tables.values():
            with contextlib.suppress(aws.ddb.exceptions.ResourceNotFoundException):  # an outage test
                aws.ddb.delete_table(TableName=name)


def write_schemas(folder: Path, *schemas: Mapping[str, Any]) -> str:
    """Table schemas as WITAN_SCHEMA_DIR holds them (`<name>.json`); returns the folder for that variable."""
    folder.mkdir(parents=True, exist_ok=True)
    for schema in schemas:
        (folder / f"{schema['name']}.json").write_text(json.dumps(schema), encoding="utf-8")
    return str(folder)


def load_function(function: str, module_name: str) -> ModuleType:
    """A fresh copy of functions/<function>/handler.py (module-level state included), as a cold start."""
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / function / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    """What the Lambda runtime passes as `context` (the parts Powertools and the handlers read).
    Subclasses name their function."""

    function_name = "access-api"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    aws_request_id = "11111111-2222-3333-4444-555555555555"
    log_stream_name = "stream"

    def __init__(self, remaining_ms: int = 300_000) -> None:
        self.remaining_ms = remaining_ms

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def call_rest_api(
    module: ModuleType,
    method: str,
    path: str,
    *,
    request_id: str,
    claims: Mapping[str, str] | None,
    body: Any = None,
    raw_body: str | None = None,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    stage: str = "test",
    domain: str | None = None,
) -> tuple[int, Any, dict[str, Any]]:
    """Call a REST API handler with the proxy event API Gateway builds (Cognito claims as its authorizer
    passes them; none on public routes). Returns the status, the body (parsed when JSON), the response."""
    context: dict[str, Any] = {
        "requestId": request_id,
        "identity": {"sourceIp": "192.0.2.10", "userAgent": "pytest"},
        "stage": stage,
    }
    if domain is not None:
        context["domainName"] = domain
    if claims is not None:
        context["authorizer"] = {"claims": dict(claims)}
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "queryStringParameters": None if query is None else dict(query),
        "pathParameters": None,
        "body": raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
        "isBase64Encoded": False,
        "requestContext": context,
    }
    response = module.lambda_handler(event, LambdaContext())
    text = response.get("body") or ""
    parsed = json.loads(text) if "json" in (header(response, "content-type") or "") and text else text
    from route_errors import undocumented_error  # imports witan: only once a handler is loaded

    problem = undocumented_error(method, path, response["statusCode"], parsed)
    assert problem is None, problem
    return response["statusCode"], parsed, response


def sent_emails() -> list[Any]:
    """Every message moto's SES has sent in the test region, oldest first."""
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header, whether Powertools put it in headers or multiValueHeaders."""
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name and values:
            return ", ".join(values)
    return None


@dataclass(frozen=True)
class Persona:
    """A caller as the Cognito authorizer describes them (claims); no sub: anonymous."""

    name: str
    sub: str | None
    groups: str = ""  # as the authorizer passes cognito:groups

    @property
    def claims(self) -> dict[str, str] | None:
        if self.sub is None:
            return None
        return {
            "sub": self.sub,
            "email": f"{self.sub}@example.org",
            "email_verified": "true",
            "cognito:groups": self.groups,
        }


# The datastore's callers: the owning organisation, a member, an admin, another organisation, nobody, a
# grantee whose grant has expired, and one grantee per activity.
OWNER = Persona("owner", "owner-1", "[org-camden]")
MEMBER = Persona("member", "member-2", "org-camden")
ADMIN = Persona("admin", "admin-1", "[platform-admin]")
OTHER = Persona("other-org", "other-9", "org-islington")
ANONYMOUS = Persona("anonymous", None)
EXPIRED = Persona("expired-grant", "g-expired", "org-barnet")
GRANTEES = {a: Persona(f"grantee:{a.value}", f"g-{a.value}", "[org-barnet]") for a in Activity}


def audit_items(ddb: Any, table: str, request_id: str) -> list[dict[str, Any]]:
    """The audit table's items for one API request (wire format), read straight from the table."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "request_id = :r",
        "ExpressionAttributeValues": {":r": {"S": request_id}},
    }
    while True:
        page = ddb.scan(**kwargs)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
