"""The caller's email is trusted only when the token says email_verified (issue 15, item 2)."""

from __future__ import annotations

from typing import Any

import pytest
from witan.access.records import Principal, claim_true
from witan.api.identity import principal_from_event


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("True", True),
        (True, True),
        ("false", False),
        (False, False),
        (None, False),
        ("1", False),
    ],
)
def test_claim_true(raw: Any, expected: bool) -> None:
    assert claim_true(raw) is expected


def _event(**claims: Any) -> dict[str, Any]:
    return {"requestContext": {"authorizer": {"claims": {"sub": "u-1", "email": "u@example.org", **claims}}}}


def test_verified_email_only_with_the_claim() -> None:
    assert principal_from_event(_event(email_verified="true")).verified_email == "u@example.org"
    unverified = principal_from_event(_event(email_verified="false"))
    assert unverified.email == "u@example.org" and unverified.verified_email is None
    assert principal_from_event(_event()).verified_email is None
    assert Principal("u-2", email="x@example.org").verified_email is None
