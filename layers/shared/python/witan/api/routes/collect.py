"""Collect+Share partner routes: the capability link is the credential (no Cognito on /collect/...).

`GET /collect/{token}` (the page, or JSON when asked), `GET /collect/{token}/template.xlsx`,
`POST /collect/{token}/uploads` (presigned POST for that recipient's key), `GET /collect/{token}/submissions`.
Every failed token (unknown, expired, revoked, cancelled request) is the same 404 `not-found`.

The token never reaches the audit trail or the logs: the audit event names the submission
(`collect-request/{id}/submission/{sid}`) and the first 12 hex digits of the token's hash, and
`RedactingAuditTrail` rewrites the path of every event under /collect/ (also for 404/405/413 answers
given before any route ran).

Also here: `wiring(cur)`, the Collect+Share ports (`Services.collect`), or 503 where not configured.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from witan.api.bodies import PresignUploadBody
from witan.api.current import Current, current
from witan.api.deps import DOWNLOAD_EXPIRY_SECONDS, CollectWiring
from witan.api.errors import refusals
from witan.audit.records import AuditEvent, AuditTrail
from witan.collect.requests.tokens import hash_token
from witan.errors import (
    BadFileNameError,
    CollectUnavailableError,
    FileTooLargeError,
    NotFoundError,
    RequestNotOpenError,
    UnsupportedFileTypeError,
)

router = Router()
TAGS = ["collect (partners)"]
OPEN_ACTION = "collect.partner.open"
TEMPLATE_ACTION = "collect.partner.template"
UPLOAD_ACTION = "collect.partner.upload"
SUBMISSIONS_ACTION = "collect.partner.submissions"
# Answered without Cognito claims: the token is checked inside each route.
PARTNER_ACTIONS = frozenset({OPEN_ACTION, TEMPLATE_ACTION, UPLOAD_ACTION, SUBMISSIONS_ACTION})
PUBLIC_ACTIONS = PARTNER_ACTIONS  # no claims: the capability token is checked in each route
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HASH_SHOWN = 12  # hex digits of the token hash named in audit events (never the token)
Token = Annotated[str, Path(min_length=1, max_length=256, description="capability token from the link")]
_COLLECT_PATH = re.compile(r"(/collect/)([^/?#]+)")


# -- wiring -----------------------------------------------------------------------------------------


def wiring(cur: Current) -> CollectWiring:
    found = cur.services.collect
    if found is None:
        raise CollectUnavailableError("Collect+Share is not configured on this deployment")
    return found


def link_base(cur: Current, configured: str) -> str:
    """Links in emails point where the caller reached us (`https://{domain}/{stage}`), else the
    configured base."""
    context = router.current_event.raw_event.get("requestContext") or {}
    domain, stage = context.get("domainName"), context.get("stage")
    if isinstance(domain, str) and domain and isinstance(stage, str) and stage:
        scheme = "http" if domain in ("localhost", "127.0.0.1") else "https"
        host = router.current_event.headers.get("host") or router.current_event.headers.get("Host")
        where = host if scheme == "http" and host else domain
        return f"{scheme}://{where}/{stage}"
    return configured


def redact_path(path: str) -> str:
    """`/collect/{token}/...` -> `/collect/~{hash prefix}/...`: a partner call's path, minus its secret."""
    return _COLLECT_PATH.sub(lambda m: f"{m.group(1)}~{hash_token(m.group(2))[:HASH_SHOWN]}", path)


class RedactingAuditTrail:
    """An AuditTrail that never stores a capability token: partner paths are recorded redacted."""

    def __init__(self, inner: AuditTrail) -> None:
        self.inner = inner

    def record(self, event: AuditEvent) -> str:
        path = event.detail.get("path") if isinstance(event.detail, Mapping) else None
        if isinstance(path, str) and "/collect/" in path:
            event = dataclasses.replace(event, detail={**event.detail, "path": redact_path(path)})
        return self.inner.record(event)


# -- partner routes ---------------------------------------------------------------------------------


def _partner(token: str) -> tuple[Current, Any]:
    cur = current(router.context)
    cur.record.detail["token_hash"] = hash_token(token)[:HASH_SHOWN]
    w = wiring(cur)
    return cur, w.service(link_base(cur, w.link_base_url))


def _granted(cur: Current, token: str, service: Any) -> None:
    """Name what the token opened (request and submission), once the domain accepted it."""
    grant = service.granted(token)
    if grant is not None:
        cur.record.resource = f"collect-request/{grant.request_id}/submission/{grant.submission_id}"
    cur.record.allow("capability-token")


def _run(cur: Current, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except NotFoundError:
        cur.record.deny("invalid-token")
        raise


def _wants_json(headers: Mapping[str, str]) -> bool:
    # The page asks with Accept: application/json; a browser opening the link asks for text/html.
    accept = next((v for k, v in headers.items() if k.lower() == "accept"), "") or ""
    return "application/json" in accept


@router.get(
    "/collect/<token>",
    operation_id=OPEN_ACTION,
    tags=TAGS,
    summary="The partner page (text/html), or what is asked as JSON (Accept: application/json)",
    responses={
        200: {"description": "The page, or the request, recipient and schema as JSON"},
        **refusals(CollectUnavailableError),
    },
    security=[{}],  # documented as open: the capability token is in the path
)
def open_link(token: Token) -> Response[Any]:
    cur, service = _partner(token)
    view = _run(cur, lambda: service.open_link(token))
    _granted(cur, token, service)
    if _wants_json(router.current_event.headers):
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=view)
    from witan.collect.requests.page import partner_page_headers, partner_page_html

    headers = partner_page_headers(wiring(cur).upload_origin())
    content_type = headers.pop("Content-Type")
    cur.record.detail["format"] = "html"
    return Response(status_code=200, content_type=content_type, body=partner_page_html(), headers=headers)


@router.get(
    "/collect/<token>/template.xlsx",
    operation_id=TEMPLATE_ACTION,
    tags=TAGS,
    summary="An xlsx template for the request's schema (header row, data validations, field notes)",
    responses={
        200: {"description": "xlsx workbook", "content": {XLSX_TYPE: {}}},
        **refusals(CollectUnavailableError),
    },
    security=[{}],  # documented as open: the capability token is in the path
)
def template(token: Token) -> Response[Any]:
    cur, service = _partner(token)
    data, file_name = _run(cur, lambda: service.template(token))
    _granted(cur, token, service)
    cur.record.detail["bytes"] = len(data)
    # Base64 here, not by Powertools: its response validation would try to read the bytes as text.
    response: Response[Any] = Response(
        status_code=200,
        content_type=XLSX_TYPE,
        body=base64.b64encode(data).decode("ascii"),
        headers={
            "Content-Disposition": f'attachment; filename="{file_name}"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
    response.base64_encoded = True
    return response


@router.post(
    "/collect/<token>/uploads",
    operation_id=UPLOAD_ACTION,
    tags=TAGS,
    summary="A presigned POST (15 minutes) for this recipient's upload: exact key, type and size limits",
    responses={
        200: {"description": "url and form fields for the browser's POST to S3"},
        **refusals(
            CollectUnavailableError,
            BadFileNameError,
            UnsupportedFileTypeError,
            FileTooLargeError,
            RequestNotOpenError,
        ),
    },
    security=[{}],  # documented as open: the capability token is in the path
)
def presign_upload(
    token: Token,
    body: Annotated[PresignUploadBody, Body(description='{"file_name": "returns.csv", "size": 1234}')],
) -> Response[Any]:
    cur, service = _partner(token)
    target = _run(cur, lambda: service.presign_upload(token, body.file_name, body.size))
    _granted(cur, token, service)
    # The key names request and submission only (ids, no secret); the POST policy pins it exactly.
    cur.record.detail.update({"key": target["key"], "content_type": target["content_type"]})
    cur.write_ahead(200)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=target)


@router.get(
    "/collect/<token>/submissions",
    operation_id=SUBMISSIONS_ACTION,
    tags=TAGS,
    summary="Status of this recipient's uploads, the latest errors, and 5-minute report links",
    responses={
        200: {"description": "status, history (newest first) and errors"},
        **refusals(CollectUnavailableError),
    },
    security=[{}],  # documented as open: the capability token is in the path
)
def submissions(token: Token) -> Response[Any]:
    cur, service = _partner(token)
    history = _run(cur, lambda: service.partner_submissions(token))
    _granted(cur, token, service)
    files = cur.services.files
    for item in history.get("submissions", []):
        keys = item.pop("report_keys", None) or {}
        stem = str(item.get("file_name") or "upload").rsplit(".", 1)[0]
        item["report_links"] = {
            fmt: files.presign_get(key, f"{stem}-report.{fmt}", DOWNLOAD_EXPIRY_SECONDS).url
            for fmt, key in sorted(keys.items())
            if isinstance(key, str)
        }
    cur.record.detail["uploads"] = len(history.get("submissions", []))
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=history)
