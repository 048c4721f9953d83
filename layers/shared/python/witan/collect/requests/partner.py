"""What a partner holding a capability link sees and may do. Pure: builds the JSON the partner page reads.

Shapes are documented in docs/data-model.md ("Partner API") so the routes can return them as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

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
    meta: Mapping[str, Any],
    submission: Mapping[str, Any],
    schema: Schema,
    *,
    max_upload_bytes: int,
    link_expires_at: str,
) -> dict[str, Any]:
    """`GET /collect/{token}`: the request as its recipient sees it (nothing about other recipients)."""
    return {
        "request": {
            "title": meta.get("title"),
            "message": meta.get("message", ""),
            "due_date": meta.get("due_date"),
            "status": meta.get("status", "open"),
            "requester_name": meta.get("requester_name") or None,
            "requester_email": meta.get("requester_email"),
            "sheet": meta.get("sheet"),
        },
        "recipient": {
            "name": submission.get("uploader_name"),
            "email": submission.get("uploader_email"),
            "organisation": submission.get("uploader_organisation"),
            "status": submission.get("status", "awaiting-upload"),
        },
        "schema": explain_schema(schema),
        "accepts_uploads": meta.get("status", "open") == "open",
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


def submission_history(items: list[Mapping[str, Any]]) -> dict[str, Any]:
    """`GET /collect/{token}/submissions`: the recipient's current status and every upload's check,
    newest first. `report_keys` are S3 keys; the route turns them into short-lived links."""
    current: Mapping[str, Any] = {}
    checks: list[tuple[tuple[str, str, str], dict[str, Any]]] = []
    for item in items:
        if item.get("type") == "submission":
            current = item
        elif item.get("type") == "check":
            view = {
                k: _plain(item[k])
                for k in (
                    "version_key",
                    "file_name",
                    "status",
                    "started_at",
                    "checked_at",
                    "rows",
                    "error_count",
                    "counts",
                    "report_keys",
                    "size",
                )
                if item.get(k) is not None
            }
            detail = item.get("detail") if isinstance(item.get("detail"), Mapping) else {}
            if detail.get("message"):  # e.g. why an upload was not accepted
                view["message"] = str(detail["message"])
            checks.append((upload_order(item), view))
    checks.sort(key=lambda c: c[0], reverse=True)
    return {
        "status": current.get("status", "awaiting-upload"),
        "status_at": current.get("status_at"),
        "latest_file_name": current.get("latest_file_name"),
        "submissions": [view for _, view in checks],
    }


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


def upload_order(check: Mapping[str, Any]) -> tuple[str, str, str]:
    """When an upload happened, finely enough to order two in one second: S3's event time (ms), then
    its sequencer (stored zero-padded, so it compares as text), then when the check started."""
    started = _instant(check.get("started_at") or check.get("checked_at"))
    return (_instant(check.get("event_time")) or started, str(check.get("sequencer") or ""), started)


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal: make them JSON-ready ints."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "as_integer_ratio") and not isinstance(value, bool | int | float):
        return int(value)
    return value
