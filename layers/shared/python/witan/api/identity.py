"""The caller, from the Cognito claims API Gateway's authorizer puts in the proxy event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from witan.access.model import Principal, claim_true, parse_groups


def principal_from_event(event: Mapping[str, Any]) -> Principal:
    """Claims live in requestContext.authorizer.claims; no claims (or no sub) means anonymous."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    if not isinstance(claims, Mapping):
        return Principal(sub=None)
    sub = claims.get("sub")
    email = claims.get("email")
    return Principal(
        sub=str(sub) if sub else None,
        email=str(email) if email else None,
        groups=parse_groups(claims.get("cognito:groups")),
        email_verified=claim_true(claims.get("email_verified")),
    )
