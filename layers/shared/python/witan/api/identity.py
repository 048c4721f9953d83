"""The caller, from the Cognito claims API Gateway's authorizer puts in the proxy event.

MFA for platform admins: Cognito cannot require MFA for one group (only for a whole pool, or
optionally). So with ADMIN_MFA = "required" (set by the stack; `Services.admin_mfa_required`) a member
of platform-admin holds admin rights only when the ID token's `amr` claim (authentication methods,
["pwd", "otp", "mfa"]) says MFA was used; without it they act with their other groups only. A
pool-wide REQUIRED setting would also make every partner organisation's users enrol, which the
councils did not ask for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from witan.access.records import Principal, claim_true, parse_groups
from witan.settings import ADMIN_GROUP

_AMR_SPLIT = re.compile(r"[\s,\[\]\"']+")
# amr "mfa" (RFC 8176: multiple factors): "otp" or "hwk" alone can be a single passwordless factor.
MFA_METHODS = frozenset({"mfa"})


def mfa_used(raw: object) -> bool:
    """True when an `amr` claim, as the authorizer passes it (a list or its text), names a second factor."""
    if isinstance(raw, (list, tuple)):
        methods = {str(m).strip().lower() for m in raw}
    elif isinstance(raw, str):
        methods = {m.lower() for m in _AMR_SPLIT.split(raw) if m}
    else:
        return False
    return bool(methods & MFA_METHODS)


def principal_from_event(event: Mapping[str, Any], *, admin_mfa_required: bool = False) -> Principal:
    """Claims live in requestContext.authorizer.claims; no claims (or no sub) means anonymous."""
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    if not isinstance(claims, Mapping):
        return Principal(sub=None)
    sub = claims.get("sub")
    email = claims.get("email")
    groups = parse_groups(claims.get("cognito:groups"))
    if ADMIN_GROUP in groups and admin_mfa_required and not mfa_used(claims.get("amr")):
        groups = tuple(g for g in groups if g != ADMIN_GROUP)  # signed in without MFA: no admin rights
    return Principal(
        sub=str(sub) if sub else None,
        email=str(email) if email else None,
        groups=groups,
        email_verified=claim_true(claims.get("email_verified")),
    )
