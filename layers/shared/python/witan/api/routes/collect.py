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
from decimal import Decimal
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from witan.api.bodies import error_responses
from witan.api.current import Current, current
from witan.api.deps import DOWNLOAD_EXPIRY_SECONDS, CollectWiring
from witan.api.errors import ApiError
from witan.audit.records import AuditEvent, AuditTrail
from witan.collect.requests.body import CollectError, InvalidRequest
from witan.collect.requests.tokens import hash_token

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
ERRORS: dict[int, Any] = error_responses(
    {
        400: "bad input (code: bad-file-name, unsupported-file-type, file-too-large, invalid-json)",
        404: "the link is not valid: unknown, expired, revoked or cancelled (code: not-found)",
        409: "the request takes no more uploads (code: request-not-open)",
        422: "body fails validation (code: invalid-body)",
        503: "the audit trail is unavailable (code: audit-unavailable)",
    }
)
Token = Annotated[str, Path(min_length=1, max_length=256, description="capability token from the link")]
_COLLECT_PATH = re.compile(r"(/collect/)([^/?#]+)")


# -- wiring -----------------------------------------------------------------------------------------


def wiring(cur: Current) -> CollectWiring:
    found = cur.services.collect
    if found is None:
        raise ApiError(503, "collect-unavailable", "Collect+Share is not configured on this deployment")
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


def plain(value: Any) -> Any:
    """DynamoDB numbers (Decimal) as int/float, recursively, so answers are plain JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    return value


def collect_error(exc: CollectError) -> ApiError:
    extra = {"errors": [e.to_dict() for e in exc.errors]} if isinstance(exc, InvalidRequest) else {}
    return ApiError(int(getattr(exc, "status", 400)), exc.code, exc.message, **extra)


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
    found = service.store.find_token(hash_token(token))
    if found:
        rid, sid = found.get("request_id"), found.get("submission_id")
        cur.record.resource = f"collect-request/{rid}/submission/{sid}"
    cur.record.allow("capability-token")


def _run(cur: Current, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except CollectError as exc:
        if exc.code == "not-found":
            cur.record.deny("invalid-token")
        raise collect_error(exc) from None


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
        **ERRORS,
    },
    security=[{}],  # documented as open: the capability token is in the path
)
def open_link(token: Token) -> Response[Any]:
    cur, service = _partner(token)
    view = _run(cur, lambda: service.open_link(token))
    _granted(cur, token, service)
    if _wants_json(router.current_event.headers):
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=plain(view))
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
    responses={200: {"description": "xlsx workbook", "content": {XLSX_TYPE: {}}}, **ERRORS},
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
    responses={200: {"description": "url and form fields for the browser's POST to S3"}, **ERRORS},
    security=[{}],  # documented as open: the capability token is in the path
)
def presign_upload(
    token: Token,
    body: Annotated[dict[str, Any], Body(description='{"file_name": "returns.csv", "size": 1234}')],
) -> Response[Any]:
    cur, service = _partner(token)
    target = _run(cur, lambda: service.presign_upload(token, body))
    _granted(cur, token, service)
    # The key names request and submission only (ids, no secret); the POST policy pins it exactly.
    cur.record.detail.update({"key": target["key"], "content_type": target["content_type"]})
    cur.write_ahead(200)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=plain(target))


@router.get(
    "/collect/<token>/submissions",
    operation_id=SUBMISSIONS_ACTION,
    tags=TAGS,
    summary="Status of this recipient's uploads, the latest errors, and 5-minute report links",
    responses={200: {"description": "status, history (newest first) and errors"}, **ERRORS},
    security=[{}],  # documented as open: the capability token is in the path
)
def submissions(token: Token) -> Response[Any]:
    cur, service = _partner(token)
    history = plain(_run(cur, lambda: service.partner_submissions(token)))
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
