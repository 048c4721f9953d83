"""What a partner holding a capability link sees and may do. Pure: builds the JSON the partner page reads.

Shapes are documented in docs/data-model.md ("Partner API") so the routes can return them as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from witan.collect.records import CheckRecord
from witan.collect.requests.records import RequestRecord, SubmissionRecord
from witan.errors import BadFileNameError, UnsupportedFileTypeError
from witan.settings import UPLOADS_PREFIX
from witan.validation.schema import Field, Schema, type_phrase

UPLOAD_TYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_FILE_NAME = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def explain_field(f: Field) -> dict[str, Any]:
    """One field in plain words: what to type, whether it may be blank, allowed values, format."""
    c = f.constraints
    out: dict[str, Any] = {
        "name": f.name,
        "title": f.title or None,
        "description": f.description or None,
        "type": f.type,
        "type_words": type_phrase(f),
        "required": bool(c.get("required")),
        "unique": bool(c.get("unique")),
        "allowed_values": [str(v) for v in c["enum"]] if "enum" in c else None,
        "minimum": str(c["minimum"]) if "minimum" in c else None,
        "maximum": str(c["maximum"]) if "maximum" in c else None,
        "min_length": c.get("minLength"),
        "max_length": c.get("maxLength"),
        "pattern": c.get("pattern"),
        "format": f.format if f.type in ("date", "datetime") else None,
        "rule": f.describe(),
    }
    return {k: v for k, v in out.items() if v is not None}


def explain_schema(schema: Schema) -> dict[str, Any]:
    return {
        "name": schema.name,
        "title": schema.title or None,
        "description": schema.description or None,
        "primary_key": list(schema.primary_key),
        "fields": [explain_field(f) for f in schema.fields],
    }


def partner_view(
    request: RequestRecord,
    submission: SubmissionRecord,
    schema: Schema,
    *,
    max_upload_bytes: int,
    link_expires_at: str,
) -> dict[str, Any]:
    """`GET /collect/{token}`: the request as its recipient sees it (nothing about other recipients)."""
    return {
        "request": {
            "title": request.title,
            "message": request.message or "",
            "due_date": request.due_date,
            "status": str(request.status),
            "requester_name": request.requester_name or None,
            "requester_email": request.requester_email,
            "sheet": request.sheet,
        },
        "recipient": {
            "name": submission.uploader_name,
            "email": submission.uploader_email,
            "organisation": submission.uploader_organisation,
            "status": submission.status,
        },
        "schema": explain_schema(schema),
        "accepts_uploads": request.accepts_uploads,
        "upload": {"max_bytes": max_upload_bytes, "file_types": sorted(UPLOAD_TYPES)},
        "link_expires_at": link_expires_at,
    }


@dataclass(frozen=True)
class UploadTarget:
    key: str
    content_type: str
    file_name: str


def upload_target(request_id: str, submission_id: str, file_name: Any) -> UploadTarget:
    """The object key and content type for a partner's file; a catalogue error for a name we will not take.

    The content type comes from the extension, not from the browser (which says
    application/vnd.ms-excel for CSV on some systems); the policy then pins exactly that type.
    """
    if not isinstance(file_name, str) or not file_name.strip():
        raise BadFileNameError()
    base = PurePosixPath(file_name.replace("\\", "/")).name.strip()
    suffix = PurePosixPath(base).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        raise UnsupportedFileTypeError(types=", ".join(sorted(UPLOAD_TYPES)))
    stem = _UNSAFE.sub("_", base[: -len(suffix)]).strip(" .") or "upload"
    safe = stem[: MAX_FILE_NAME - len(suffix)] + suffix
    return UploadTarget(
        key=f"{UPLOADS_PREFIX}{request_id}/{submission_id}/{safe}",
        content_type=UPLOAD_TYPES[suffix],
        file_name=safe,
    )


def submission_history(submission: SubmissionRecord | None, checks: list[CheckRecord]) -> dict[str, Any]:
    """`GET /collect/{token}/submissions`: the recipient's current status and every upload's check,
    newest first. `report_keys` are S3 keys; the route turns them into short-lived links."""
    ordered = sorted(checks, key=upload_order, reverse=True)
    return {
        "status": submission.status if submission else "awaiting-upload",
        "status_at": submission.status_at if submission else None,
        "latest_file_name": submission.latest_file_name if submission else None,
        "submissions": [_check_view(check) for check in ordered],
    }


def _check_view(check: CheckRecord) -> dict[str, Any]:
    view: dict[str, Any] = {
        "version_key": check.version_key,
        "file_name": check.file_name,
        "status": str(check.status),
        "started_at": check.started_at,
        "checked_at": check.checked_at,
        "rows": check.rows,
        "error_count": check.error_count,
        "counts": check.result_counts,
        "report_keys": dict(check.report_keys) or None,  # reports exist once the check has finished
        "size": check.size,
    }
    message = check.detail.get("message")
    if message:  # e.g. why an upload was not accepted
        view["message"] = str(message)
    return {k: v for k, v in view.items() if v is not None}


def _instant(value: Any) -> str:
    """An ISO time as a sortable UTC string with microseconds ("" if absent or unreadable)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def upload_order(check: CheckRecord) -> tuple[str, str, str]:
    """When an upload happened, finely enough to order two in one second: S3's event time (ms), then
    its sequencer (kept zero-padded, so it compares as text), then when the check started."""
    started = _instant(check.started_at or check.checked_at)
    return (_instant(check.event_time) or started, check.sequencer, started)
