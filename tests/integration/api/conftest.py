"""Fixtures for the API integration tests (helpers live in api_harness.py, the moto set-up in aws_stack.py).

One moto world per module (mocks, bucket, handler); fresh, tiny tables per test, because moto's
DynamoDB queries slow down as tables grow and each test should see only its own data.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import aws_stack
import pytest
from api_harness import BUCKET, MAX_UPLOAD, TABLE_VARS, Api, load_handler
from witan.aws import wiring


@pytest.fixture(scope="module")
def moto_world() -> Iterator[tuple[aws_stack.Aws, ModuleType]]:
    with aws_stack.handler_world(load_handler, BUCKET, MAX_UPLOAD_BYTES=str(MAX_UPLOAD)) as world:
        yield world


@pytest.fixture
def api(moto_world: tuple[aws_stack.Aws, ModuleType], monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    aws, module = moto_world
    with aws_stack.fresh_tables(aws, monkeypatch, *TABLE_VARS) as tables:
        yield Api(module=module, ddb=aws.ddb, s3=aws.s3, tables=tables)
        wiring.forget()
