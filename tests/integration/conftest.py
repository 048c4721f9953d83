"""Fixtures every integration folder may use; the set-up itself is in aws_stack.py (importable from each
folder's conftest and harness because this file puts tests/integration on the import path)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_stack import Aws, mocked


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A moto world of one test's own, fake credentials and region in the environment."""
    with mocked(monkeypatch) as aws:
        yield aws
