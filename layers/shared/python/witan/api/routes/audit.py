"""Audit reports for admins and dataset owners, backed by witan.audit.query (imported on use: these
routes are rare, and the query module is not needed to serve datasets).

Admins see everything; a member of the owning organisation may read the events and usage of a
dataset their organisation owns; anyone may export what the trail holds about themselves (GDPR
subject access). Reading the trail is itself audited.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from witan.api.bodies import (
    AuditEvents,
    DatasetId,
    SubjectExportView,
    UsageReport,
    VerifyReport,
    json_or_csv,
    with_success,
)
from witan.api.current import Current, current
from witan.api.errors import refusals
from witan.errors import (
    ConflictingFiltersError,
    ForbiddenError,
    InvalidLimitError,
    InvalidNextTokenError,
    InvalidSubjectError,
    InvalidTimeError,
)
from witan.settings import ADMIN_GROUP

router = Router()
TAGS = ["audit"]
Time = Annotated[str | None, Query(max_length=40, description="ISO 8601 time")]


def _cur() -> Current:
    return current(router.context)


def _require_admin_or_owner(cur: Current, dataset: str | None) -> None:
    """Admins: anything. Otherwise a dataset filter naming a dataset the caller's organisation owns."""
    principal = cur.principal
    if principal.is_admin:
        cur.record.allow(f"admin:{ADMIN_GROUP}")
        return
    if dataset is None:
        cur.record.deny("admin-only-without-dataset")
        raise ForbiddenError("only admins may read the trail without a dataset filter")
    cur.record.resource = f"dataset/{dataset}"
    found = cur.services.catalog.get(dataset)
    if found is None or found.owner_org not in principal.organisations:
        cur.record.deny("not-owner")
        raise ForbiddenError("only the owning organisation may read this dataset's trail")
    cur.record.allow(f"owner:{found.owner_org}")


@router.get(
    "/audit/events",
    operation_id="audit.events",
    tags=TAGS,
    summary="Audit events",
    responses=with_success(
        refusals(
            ForbiddenError,
            InvalidTimeError,
            InvalidNextTokenError,
            ConflictingFiltersError,
            InvalidLimitError,
        )
    ),
)
def events(
    dataset: Annotated[DatasetId | None, Query()] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Time = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    next_token: Annotated[str | None, Query(max_length=4000)] = None,
) -> AuditEvents:
    from witan.audit import query as audit_query

    cur = _cur()
    _require_admin_or_owner(cur, dataset)
    cur.record.detail["filters"] = {
        "dataset": dataset,
        "actor": actor,
        "action": action,
        "from": from_,
        "to": to,
    }
    page = audit_query.find_events(
        cur.services.audit_reader,
        dataset=dataset,
        actor=actor,
        action=action,
        since=from_,
        until=to,
        limit=limit,
        next_token=next_token,
    )
    return AuditEvents(items=page.events, next_token=page.next_token)


def _csv_response(text: str, name: str) -> Response[Any]:
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=text,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _json_response(value: Any) -> Response[Any]:
    return Response(status_code=200, content_type="application/json", body=json.dumps(value, default=str))


@router.get(
    "/audit/reports/usage",
    operation_id="audit.usage",
    tags=TAGS,
    summary="Reads, downloads and denied attempts per day, dataset and user (JSON or CSV)",
    responses={
        **json_or_csv(UsageReport, "usage rows (CSV with ?format=csv)"),
        **refusals(ForbiddenError, InvalidTimeError),
    },
)
def usage(
    dataset: Annotated[DatasetId | None, Query()] = None,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Time = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response[Any]:
    from witan.audit import query as audit_query

    cur = _cur()
    _require_admin_or_owner(cur, dataset)
    rows = audit_query.usage_report(cur.services.audit_reader, since=from_, until=to, dataset=dataset)
    cur.record.detail["rows"] = len(rows)
    if format == "csv":
        return _csv_response(audit_query.usage_report_csv(rows), "usage.csv")
    return _json_response({"rows": [asdict(r) for r in rows]})


@router.get(
    "/audit/subjects/<user>",
    operation_id="audit.subject",
    tags=TAGS,
    summary="Everything the trail holds about one person (admins, or the person themself)",
    responses={
        **json_or_csv(SubjectExportView, "the export (CSV with ?format=csv)"),
        **refusals(ForbiddenError, InvalidSubjectError),
    },
)
def subject(
    user: Annotated[str, Path(pattern=r"^[A-Za-z0-9:@._+-]{1,128}$")],
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    email: Annotated[str | None, Query(max_length=254)] = None,
) -> Response[Any]:
    from witan.audit import query as audit_query

    cur = _cur()
    principal = cur.principal
    cur.record.resource = f"subject/{user}"
    self_service = False
    if principal.is_admin:
        cur.record.allow(f"admin:{ADMIN_GROUP}")
        if user == principal.sub and email is None:
            email = principal.verified_email
    elif user == principal.sub:
        cur.record.allow("self")
        # Matched by sub; the address only when the token vouches for it, and then never to reach
        # events another signed-in person did (an address can move between accounts).
        email, self_service = principal.verified_email, True
    else:
        cur.record.deny("not-self")
        raise ForbiddenError("only admins may export another person's audit record")
    cur.record.detail["subject"] = user
    export = audit_query.subject_export(
        cur.services.audit_reader, user, email=email, now=cur.now, own_events_only=self_service
    )
    if format == "csv":
        return _csv_response(export.to_csv(), f"subject-{user}.csv")
    return _json_response(export.as_dict())


@router.get(
    "/audit/verify",
    operation_id="audit.verify",
    tags=TAGS,
    summary="Verify the hash chains (admins)",
    responses={
        200: {"description": "verification result", "content": {"application/json": {"model": VerifyReport}}},
        **refusals(ForbiddenError),
    },
)
def verify() -> Response[Any]:
    cur = _cur()
    if not cur.principal.is_admin:
        cur.record.deny("admin-only")
        raise ForbiddenError("only admins may verify the audit trail")
    cur.record.allow(f"admin:{ADMIN_GROUP}")
    result = cur.services.verify_audit()
    cur.record.detail["ok"] = bool(result.get("ok"))
    return _json_response(result)
