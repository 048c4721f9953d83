"""Fixtures for the audit integration tests: an audit table in moto (in-process, ../aws_stack.py), as the
stack makes it."""

from __future__ import annotations

import functools
import threading
from typing import Any

import pytest
from aws_stack import Aws
from dynamo_tables import create_audit_table
from moto.dynamodb.models.table import Table

TABLE = "witan-test-audit"


@pytest.fixture
def atomic_conditional_puts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's PutItem atomic, as DynamoDB's conditional writes are.

    moto 5.2.5 checks a ConditionExpression and stores the item in separate steps without a lock, so
    two threads can both pass `attribute_not_exists` for the same key (seen here: about one run in
    three of the concurrency test forks without this); real DynamoDB never allows that. Reads are
    serialised with the writes too, so a Query never iterates a dict that a put is changing.
    """
    lock = threading.RLock()
    for name in ("put_item", "query", "scan"):
        original = getattr(Table, name)

        def locked(self: Table, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(Table, name, functools.wraps(original)(locked))


@pytest.fixture
def dynamodb(moto_aws: Aws) -> Any:
    return moto_aws.ddb


@pytest.fixture
def audit_table(dynamodb: Any) -> str:
    create_audit_table(dynamodb, TABLE)
    return TABLE
