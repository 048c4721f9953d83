"""One moto world per module (bucket, SES, handler); fresh tables per test (aws_stack.py, ca_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import aws_stack
import pytest
from ca_harness import BUCKET, MAX_UPLOAD, Api, load_handler
from witan.aws import wiring

TABLE_VARS = ("CATALOG_TABLE", "GRANTS_TABLE", "AUDIT_TABLE", "REQUESTS_TABLE")


@pytest.fixture(scope="module")
def moto_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[aws_stack.Aws, ModuleType]]:
    schema_dir = aws_stack.write_schemas(tmp_path_factory.mktemp("schemas"), aws_stack.PUPILS_SCHEMA)
    with aws_stack.handler_world(
        load_handler,
        BUCKET,
        versioned=True,
        MAX_UPLOAD_BYTES=str(MAX_UPLOAD),
        SES_SENDER=aws_stack.SENDER,
        WITAN_SCHEMA_DIR=schema_dir,
    ) as (aws, module):
        aws.ses.verify_email_identity(EmailAddress=aws_stack.SENDER)
        yield aws, module


@pytest.fixture
def api(moto_world: tuple[aws_stack.Aws, ModuleType], monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    aws, module = moto_world
    with aws_stack.fresh_tables(aws, monkeypatch, *TABLE_VARS) as tables:
        yield Api(module=module, ddb=aws.ddb, s3=aws.s3, ses=aws.ses, tables=tables)
        wiring.forget()
