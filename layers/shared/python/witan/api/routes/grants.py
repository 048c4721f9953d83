"""Sharing: put and revoke grants, and show who can do what through which grant.

A sharer gives only within their own activities and expiry, and replaces or revokes only grants they
made (witan.access.policy.decide_share / decide_revoke). The write is conditional on the grantee's
grant being as read, so a grant made meanwhile by someone else is not overwritten (409 `conflict`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from witan.access.policy import access_summary, decide_revoke, decide_share
from witan.access.records import Activity, Grant, GranteeType, Purpose
from witan.api.bodies import (
    AccessEntryView,
    AccessList,
    GrantRequest,
    GrantView,
    Revoked,
    RevokeRequest,
    with_success,
)
from witan.api.current import Current, current, iso
from witan.api.errors import refusals
from witan.api.routes.datasets import PathId
from witan.api.timeparse import parse_time
from witan.errors import (
    ConflictError,
    DatasetDeletedError,
    ForbiddenError,
    GrantNotFoundError,
    InvalidValueError,
    MissingFieldError,
)

router = Router()
TAGS = ["sharing"]


def _cur() -> Current:
    return current(router.context)


# Why a grant was refused, for people (the audit reason names the rule).
_REFUSALS = {
    "share-exceeds-own": "you may not give activities you do not hold yourself",
    "share-expiry-required": "your own grant expires: give an expiry no later than yours",
    "share-outlives-own": "the expiry is later than your own grant's",
    "not-granted-by-caller": "this grantee's grant was made by someone else; only they, the owner or an "
    "admin may replace it",
}


def requested_grant(
    cur: Current, body: GrantRequest, target_id: str, owner_org: str, grants: list[Grant]
) -> tuple[Grant, Grant | None]:
    """The grant a PUT asks for on a dataset or a datapack, if the caller may give it (an expiry in the
    future, within their own rights: `decide_share`), with the grant it replaces; the audit record
    names the grantee, activities, purpose and expiry. Refusals are 422 or 403 (denied in the trail)."""
    expires_at = None
    if body.expires_at is not None:
        try:
            expires_at = parse_time(body.expires_at)
        except ValueError as exc:
            raise InvalidValueError(f"expires_at: {exc}") from exc
        if expires_at <= cur.now:
            raise InvalidValueError("expires_at is in the past")
    requested = frozenset(Activity(a) for a in body.activities)
    kind = GranteeType(body.grantee_type)
    existing = next((g for g in grants if g.grantee_type is kind and g.grantee == body.grantee), None)
    decision = decide_share(
        cur.principal, requested, expires_at, owner_org, grants, cur.now, replacing=existing
    )
    if not decision.allowed:
        cur.record.deny(decision.reason)
        why = _REFUSALS.get(decision.reason.split(":", 1)[0], "you may not give this grant")
        raise ForbiddenError(why)
    grant = Grant(
        dataset_id=target_id,
        grantee_type=kind,
        grantee=body.grantee,
        activities=requested,
        granted_by=cur.sub,
        granted_at=cur.now,
        purpose=None if body.purpose is None else Purpose(body.purpose.code, body.purpose.text),
        expires_at=expires_at,
    )
    cur.record.purpose = grant.purpose.code if grant.purpose else None
    cur.record.detail.update(
        {"grantee": grant.label, "activities": sorted(body.activities), "expires_at": iso(expires_at)}
    )
    if kind is GranteeType.USER:
        cur.record.detail["subject"] = grant.grantee  # the person this concerns, for subject access
    return grant, existing


def _put_unchanged(cur: Current, grant: Grant, existing: Grant | None) -> None:
    if not cur.services.grants.put_if(grant, existing):
        raise ConflictError("the grantee's grant changed meanwhile; read the access list again")


def _delete_unchanged(cur: Current, target: Grant) -> bool:
    if not cur.services.grants.delete_if(target):
        raise ConflictError("the grant changed meanwhile; read the access list again")
    return True


def granted(grant: Grant) -> dict[str, Any]:
    """The fields of `Granted` (a dataset's or a datapack's grant as the API shows it)."""
    return {k: v for k, v in grant.plain().items() if k != "dataset_id"}


def _grant_view(grant: Grant) -> GrantView:
    return GrantView(dataset_id=grant.dataset_id, **granted(grant))


@router.put(
    "/datasets/<dataset_id>/grants",
    operation_id="grant.put",
    tags=TAGS,
    summary="Add or replace the grant for one grantee (user sub or group)",
    responses=with_success(refusals(ForbiddenError, DatasetDeletedError, ConflictError)),
)
def put_grant(dataset_id: PathId, body: GrantRequest) -> GrantView:
    cur = _cur()
    dataset, grants = cur.dataset(dataset_id, Activity.SHARE, live=True)
    grant, existing = requested_grant(cur, body, dataset_id, dataset.owner_org, grants)
    with cur.changing(200):
        _put_unchanged(cur, grant, existing)
    return _grant_view(grant)


@router.delete(
    "/datasets/<dataset_id>/grants",
    operation_id="grant.revoke",
    tags=TAGS,
    summary="Revoke the grant of one grantee, named in the body or the query",
    responses=with_success(refusals(ForbiddenError, DatasetDeletedError, ConflictError, GrantNotFoundError)),
)
def revoke_grant(
    dataset_id: PathId,
    grantee_type: Annotated[Literal["user", "group"] | None, Query()] = None,
    grantee: Annotated[
        str | None, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9:@._+-]+$")
    ] = None,
) -> Revoked:
    cur = _cur()
    dataset, grants = cur.dataset(dataset_id, Activity.SHARE)
    body_text = router.current_event.decoded_body  # base64 under binaryMediaTypes */* (infra/api.py)
    if grantee_type is None and grantee is None and body_text:
        # DELETE bodies are unusual, so the body is optional and validated here rather than by Powertools.
        named = RevokeRequest.model_validate_json(body_text)
        grantee_type, grantee = named.grantee_type, named.grantee
    if grantee_type is None or grantee is None:
        raise MissingFieldError("name the grantee: grantee_type and grantee")
    kind = GranteeType(grantee_type)
    target = next((g for g in grants if g.grantee_type is kind and g.grantee == grantee), None)
    cur.record.detail["grantee"] = f"{kind.value}:{grantee}"
    if kind is GranteeType.USER:
        cur.record.detail["subject"] = grantee
    if target is None:
        raise GrantNotFoundError(grantee=f"{kind.value}:{grantee}")
    decision = decide_revoke(cur.principal, target, dataset.owner_org, grants, cur.now)
    if not decision.allowed:
        cur.record.deny(decision.reason)
        raise ForbiddenError("you may not revoke this grant")
    with cur.changing(200):
        removed = _delete_unchanged(cur, target)
    return Revoked(dataset_id=dataset_id, grantee_type=kind.value, grantee=grantee, revoked=removed)


@router.get(
    "/datasets/<dataset_id>/access",
    operation_id="dataset.access",
    tags=TAGS,
    summary="Who can do what on the dataset, and through which grant",
    responses=with_success(refusals(ForbiddenError, DatasetDeletedError)),
)
def access(dataset_id: PathId) -> AccessList:
    cur = _cur()
    dataset, grants = cur.dataset(dataset_id, Activity.SHARE)
    return AccessList(dataset_id=dataset_id, entries=access_entries(dataset.owner_org, grants, cur.now))


def access_entries(owner_org: str, grants: list[Grant], now: datetime) -> list[AccessEntryView]:
    """Who can do what, and through which grant, on a dataset or a datapack."""
    return [
        AccessEntryView(
            grantee_type=e.grantee_type,
            grantee=e.grantee,
            activities=list(e.activities),
            via=e.via,
            purpose=None if (p := e.purpose) is None else {"code": p.code, "text": p.text},
            expires_at=iso(e.expires_at),
            expired=e.expired,
            notes=list(e.notes),
        )
        for e in access_summary(owner_org, grants, now)
    ]
