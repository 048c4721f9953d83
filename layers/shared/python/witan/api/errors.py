"""The API's side of the error catalogue (witan.errors): one HTTP status per code, and what each route
documents it may answer. Bodies are always `{"code": "...", "message": "...", ...extra}`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from witan.errors import (
    AuditUnavailableError,
    BodyTooLargeError,
    ForbiddenError,
    InternalError,
    InvalidBodyError,
    InvalidJsonError,
    InvalidQueryError,
    InvalidValueError,
    MalformedIdError,
    MethodNotAllowedError,
    MissingFieldError,
    NotFoundError,
    UnauthenticatedError,
    UnknownFieldError,
    UnsupportedMediaTypeError,
    WitanError,
    WrongTypeError,
)

# The one place a refusal's HTTP status is decided: code -> status, for every code in the catalogue.
STATUS: dict[str, int] = {
    # every route
    "unauthenticated": 401,
    "forbidden": 403,
    "not-found": 404,
    "method-not-allowed": 405,
    "body-too-large": 413,
    "unsupported-media-type": 415,
    "internal-error": 500,
    "audit-unavailable": 503,
    "invalid-json": 400,
    "malformed-id": 400,
    "invalid-query": 400,
    "unknown-field": 422,
    "missing-field": 422,
    "invalid-body": 422,
    "wrong-type": 422,
    "invalid-value": 422,
    "json-too-deep": 422,
    "json-too-many-keys": 422,
    "json-too-large": 422,
    "conflict": 409,
    "no-change": 422,
    "organisation-required": 422,
    "file-too-large": 422,
    # datasets and grants
    "dataset-deleted": 410,
    "invalid-token": 400,
    "no-file": 409,
    "grant-not-found": 404,
    # audit queries
    "invalid-time": 400,
    "invalid-next-token": 400,
    "conflicting-filters": 400,
    "invalid-limit": 400,
    "invalid-subject": 400,
    # model runs
    "model-runs-unavailable": 503,
    "invalid-input": 422,
    "missing-input": 422,
    "unknown-input": 422,
    "unsupported-input": 409,
    "run-not-finished": 409,
    "run-too-large": 422,
    # datapacks
    "datapacks-unavailable": 503,
    "pack-sealed": 409,
    "pack-not-sealed": 409,
    "empty-pack": 422,
    "too-many-members": 422,
    "duplicate-member": 409,
    "member-not-found": 404,
    "invalid-member": 422,
    "duplicate-path": 409,
    "member-file-missing": 409,
    "run-inputs-unknown": 409,
    "pack-too-large": 422,
    "input-changed": 409,
    "no-model-run": 409,
    # Collect+Share
    "collect-unavailable": 503,
    "requester-email-required": 422,
    "email-quota-exceeded": 429,
    "bad-schema-name": 422,
    "invalid-schema": 422,
    "schema-exists": 409,
    "request-not-open": 409,
    "bad-cursor": 400,
    "bad-file-name": 400,
    "unsupported-file-type": 400,
    "unknown-dataset": 422,
    "dataset-not-writable": 403,
    "share-not-allowed": 403,
    "no-destination": 422,
    "destination-unavailable": 503,
}

# What any route may answer, whatever it does: identity, routing, body and query shape, the audit trail.
SHARED: tuple[type[WitanError], ...] = (
    UnauthenticatedError,
    NotFoundError,
    MethodNotAllowedError,
    BodyTooLargeError,
    UnsupportedMediaTypeError,
    InvalidJsonError,
    MalformedIdError,
    InvalidQueryError,
    UnknownFieldError,
    MissingFieldError,
    InvalidBodyError,
    WrongTypeError,
    InvalidValueError,
    InternalError,
    AuditUnavailableError,
)
# Routes that decide on a resource's access also refuse with forbidden.
GUARDED: tuple[type[WitanError], ...] = (ForbiddenError,)


def status_of(error: WitanError) -> int:
    """The HTTP status of a catalogue error (by its class's code: input problems carry a finer one)."""
    return STATUS[type(error).code]


def refusals(*errors: type[WitanError], shared: bool = True) -> dict[int, Any]:
    """OpenAPI `responses` for a route that may refuse with `errors` (and, with `shared`, what every
    route may answer): one entry per status, whose description lists the codes (`codes: a, b`)."""
    from witan.api.bodies import ErrorBody

    by_status: dict[int, list[str]] = defaultdict(list)
    for error in (*SHARED, *errors) if shared else errors:
        codes = by_status[STATUS[error.code]]
        if error.code not in codes:
            codes.append(error.code)
    return {
        status: {
            "description": "codes: " + ", ".join(sorted(codes)),
            "content": {"application/json": {"model": ErrorBody}},
        }
        for status, codes in sorted(by_status.items())
    }


def documented_codes(responses: dict[int, Any] | None) -> set[str]:
    """The codes a route's `responses` (built by `refusals`) document."""
    found: set[str] = set()
    for response in (responses or {}).values():
        text = str(response.get("description", ""))
        if text.startswith("codes: "):
            found.update(code.strip() for code in text[len("codes: ") :].split(","))
    return found
