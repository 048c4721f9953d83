"""Collect+Share requests: validate a requester's request body and build the stored items.

Pure: no AWS. A body is checked as a whole and every problem is reported at once, each naming its
field (`recipients[2].email`) and a machine-readable code, so a form can show them next to the inputs.
Items follow docs/data-model.md: one request META item, one SUBMISSION item per recipient (what the
upload validator reads), one TOKEN item per recipient (the hashed capability link) and an OPEN index
item while the request accepts uploads (the reminder job lists those instead of scanning the table).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from witan.collect.records import META_SK, request_pk, submission_sk
from witan.collect.requests.tokens import (
    DEFAULT_GRACE_DAYS,
    expiry_for,
    hash_token,
    new_token,
    token_gsi_key,
    token_sk,
)
from witan.errors import InvalidRequestError

MAX_RECIPIENTS = 40  # 1 META + 40 submissions + 40 tokens + 1 OPEN item fit one 100-item transaction
MAX_TITLE = 200
MAX_MESSAGE = 5000
MAX_NAME = 120
MAX_DUE_DAYS = 366  # a due date more than a year ahead is almost certainly a typo
MAX_SHARE_WITH = 20
OPEN_PK = "OPEN"  # index items of requests that accept uploads: pk=OPEN, sk=REQUEST#{id}
_EMAIL = re.compile(
    r"^[^@\s<>(),;:\"\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_DATASET_ID = re.compile(r"^[0-9a-f]{32}$")
_SHEET = re.compile(r"^[^\[\]:*?/\\]{1,31}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # in one-line fields (title, names, schema)
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # the message may keep line breaks
BODY_FIELDS = {
    "title",
    "message",
    "schema",
    "recipients",
    "due_date",
    "dataset_id",
    "share_with",
    "share_until",
    "sheet",
}
RECIPIENT_FIELDS = {"email", "name", "organisation"}


class RequestStatus(StrEnum):
    OPEN = "open"  # accepting uploads
    CLOSED = "closed"  # finished by the requester; uploads refused, results kept
    CANCELLED = "cancelled"  # withdrawn; uploads refused, links revoked


@dataclass(frozen=True)
class FieldError:
    field: str  # e.g. "due_date", "recipients[2].email"
    code: str  # e.g. "bad-email", "past-date", "unknown-schema", "duplicate-recipient"
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class InvalidRequest(InvalidRequestError):
    """Every problem found in a request body (`errors`, also in the API body); the first five in the
    message."""

    template = "{count} problem(s) in the request: {first}"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(
            count=len(errors),
            first="; ".join(f"{e.field}: {e.message}" for e in errors[:5]),
            extra={"errors": [e.to_dict() for e in errors]},
        )
        self.errors = errors


@dataclass(frozen=True)
class Recipient:
    email: str  # as given, trimmed; compared case-insensitively
    name: str = ""
    organisation: str = ""


@dataclass(frozen=True)
class ShareEntry:
    """Who may see the collected result: a Cognito user (sub) or group (e.g. an organisation)."""

    type: str  # "user" | "group" (witan.access.records.GranteeType)
    id: str


@dataclass(frozen=True)
class RequestSpec:
    """A validated request body."""

    title: str
    schema: str
    recipients: tuple[Recipient, ...]
    due_date: date
    message: str = ""
    dataset_id: str | None = None
    share_with: tuple[ShareEntry, ...] = ()
    sheet: str | None = None
    share_until: date | None = None  # grants made for share_with end with this day (or sooner)


@dataclass(frozen=True)
class Requester:
    sub: str  # Cognito subject: owner of the request
    email: str
    name: str = ""
    groups: tuple[str, ...] = ()  # Cognito groups: decide whether a destination dataset may be used


def valid_email(value: str) -> bool:
    return len(value) <= 254 and bool(_EMAIL.match(value))


def _text(body: Mapping[str, Any], name: str, errors: list[FieldError], *, required: bool, limit: int) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(FieldError(name, "required", f"{name} is required"))
        return ""
    if not isinstance(value, str):
        errors.append(FieldError(name, "wrong-type", f"{name} must be text"))
        return ""
    text = value.strip()
    if len(text) > limit:
        errors.append(FieldError(name, "too-long", f"{name} has {len(text)} characters; at most {limit}"))
    if (_CONTROL_MULTILINE if name == "message" else _CONTROL).search(text):
        errors.append(FieldError(name, "bad-characters", f"{name} contains control characters"))
    return text


def validate_body(
    body: Any,
    *,
    today: date,
    schema_exists: Callable[[str], bool],
    max_recipients: int = MAX_RECIPIENTS,
) -> RequestSpec:
    """A RequestSpec from a JSON body, or InvalidRequest listing every problem found.

    `schema_exists(name)` says whether a schema name resolves (built-in or stored); `today` is the
    requester's current UTC date (a due date today is allowed, one in the past is not).
    """
    if not isinstance(body, Mapping):
        raise InvalidRequest([FieldError("", "wrong-type", "the request body must be a JSON object")])
    errors: list[FieldError] = [
        FieldError(k, "unknown-field", f"unknown field {k!r}") for k in sorted(set(body) - BODY_FIELDS)
    ]
    title = _text(body, "title", errors, required=True, limit=MAX_TITLE)
    message = _text(body, "message", errors, required=False, limit=MAX_MESSAGE)
    schema = _text(body, "schema", errors, required=True, limit=200)
    if schema and not schema_exists(schema):
        errors.append(FieldError("schema", "unknown-schema", f"no schema called {schema!r}"))
    due = _due_date(body.get("due_date"), today, errors)
    recipients = _recipients(body.get("recipients"), errors, max_recipients)
    dataset_id = body.get("dataset_id")
    if dataset_id is not None and (not isinstance(dataset_id, str) or not _DATASET_ID.match(dataset_id)):
        errors.append(
            FieldError("dataset_id", "bad-dataset-id", "dataset_id must be 32 lowercase hex digits")
        )
        dataset_id = None
    share_with = _share_with(body.get("share_with"), errors)
    share_until = _share_until(body.get("share_until"), today, errors)
    sheet = body.get("sheet")
    if sheet is not None and (not isinstance(sheet, str) or not _SHEET.match(sheet)):
        errors.append(FieldError("sheet", "bad-sheet", "sheet must be a worksheet name of 1-31 characters"))
        sheet = None
    if errors:
        raise InvalidRequest(errors)
    assert due is not None
    return RequestSpec(
        title=title,
        schema=schema,
        recipients=tuple(recipients),
        due_date=due,
        message=message,
        dataset_id=dataset_id,
        share_with=tuple(share_with),
        sheet=sheet or None,
        share_until=share_until,
    )


def _share_until(value: Any, today: date, errors: list[FieldError]) -> date | None:
    """Optional last day of the grants made for share_with (yyyy-mm-dd, today or later)."""
    if value is None or value == "":
        return None
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        errors.append(
            FieldError("share_until", "bad-date", f"share_until {value!r} is not a date (yyyy-mm-dd)")
        )
    elif day < today:
        errors.append(FieldError("share_until", "past-date", f"share_until {day} is in the past"))
    return day


def _due_date(value: Any, today: date, errors: list[FieldError]) -> date | None:
    if value is None or value == "":
        errors.append(FieldError("due_date", "required", "due_date is required (yyyy-mm-dd)"))
        return None
    try:
        due = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        due = None
    if due is None:
        errors.append(FieldError("due_date", "bad-date", f"due_date {value!r} is not a date (yyyy-mm-dd)"))
        return None
    if due < today:
        errors.append(FieldError("due_date", "past-date", f"due_date {due.isoformat()} is in the past"))
    elif due > today + timedelta(days=MAX_DUE_DAYS):
        errors.append(FieldError("due_date", "too-far", f"due_date is more than {MAX_DUE_DAYS} days ahead"))
    return due


def _recipients(value: Any, errors: list[FieldError], max_recipients: int) -> list[Recipient]:
    if not isinstance(value, list) or not value:
        errors.append(FieldError("recipients", "required", "recipients must be a non-empty list"))
        return []
    if len(value) > max_recipients:
        errors.append(
            FieldError(
                "recipients",
                "too-many-recipients",
                f"{len(value)} recipients; at most {max_recipients} per request",
            )
        )
    out: list[Recipient] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(value):
        where = f"recipients[{i}]"
        if not isinstance(raw, Mapping):
            errors.append(FieldError(where, "wrong-type", "each recipient must be an object"))
            continue
        errors.extend(
            FieldError(f"{where}.{k}", "unknown-field", f"unknown field {k!r}")
            for k in sorted(set(raw) - RECIPIENT_FIELDS)
        )
        local: list[FieldError] = []
        email = _text(raw, "email", local, required=True, limit=254)
        name = _text(raw, "name", local, required=False, limit=MAX_NAME)
        org = _text(raw, "organisation", local, required=False, limit=MAX_NAME)
        errors.extend(FieldError(f"{where}.{e.field}", e.code, e.message) for e in local)
        if email and not valid_email(email):
            errors.append(FieldError(f"{where}.email", "bad-email", f"{email!r} is not an email address"))
            continue
        key = email.lower()
        if email and key in seen:
            errors.append(
                FieldError(
                    f"{where}.email",
                    "duplicate-recipient",
                    f"{email} is already recipient {seen[key]}",
                )
            )
            continue
        seen[key] = i
        out.append(Recipient(email=email, name=name, organisation=org))
    return out


def _share_with(value: Any, errors: list[FieldError]) -> list[ShareEntry]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_SHARE_WITH:
        errors.append(
            FieldError("share_with", "wrong-type", f"share_with must be a list of at most {MAX_SHARE_WITH}")
        )
        return []
    out: list[ShareEntry] = []
    for i, raw in enumerate(value):
        kind = raw.get("type") if isinstance(raw, Mapping) else None
        ident = raw.get("id") if isinstance(raw, Mapping) else None
        if kind not in ("user", "group") or not isinstance(ident, str) or not 0 < len(ident) <= 128:
            errors.append(
                FieldError(
                    f"share_with[{i}]", "bad-grantee", 'expected {"type": "user"|"group", "id": "..."}'
                )
            )
            continue
        out.append(ShareEntry(type=kind, id=ident))
    return out


# -- items -----------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class NewRequest:
    """Everything one creation writes, plus the raw tokens (only ever put into invitation emails)."""

    request_id: str
    meta: dict[str, Any]
    submissions: list[dict[str, Any]]
    tokens: list[dict[str, Any]]
    open_item: dict[str, Any]
    raw_tokens: dict[str, str] = field(repr=False, default_factory=dict)  # submission_id -> token

    @property
    def items(self) -> list[dict[str, Any]]:
        return [self.meta, *self.submissions, *self.tokens, self.open_item]


def token_item(
    request_id: str, submission_id: str, token: str, *, due_date: date, grace_days: int, now: datetime
) -> dict[str, Any]:
    """The stored form of a capability token: its hash only. `expires_at` lets DynamoDB TTL drop it."""
    token_hash = hash_token(token)
    expires = int(expiry_for(due_date, grace_days).timestamp())
    return {
        "pk": request_pk(request_id),
        "sk": token_sk(submission_id, token_hash),
        "type": "token",
        "gsi1pk": token_gsi_key(token_hash),
        "gsi1sk": "TOKEN",
        "request_id": request_id,
        "submission_id": submission_id,
        "token_hash": token_hash,
        "token_expires_at": expires,
        "expires_at": expires + 30 * 86400,  # TTL removes the item a month after it stops working
        "issued_at": iso(now),
    }


def build_request(
    spec: RequestSpec,
    requester: Requester,
    *,
    now: datetime,
    grace_days: int = DEFAULT_GRACE_DAYS,
    request_id: str | None = None,
    token_factory: Callable[[], str] = new_token,
) -> NewRequest:
    rid = request_id or new_id()
    created = iso(now)
    meta: dict[str, Any] = {
        "pk": request_pk(rid),
        "sk": META_SK,
        "type": "request",
        "request_id": rid,
        "title": spec.title,
        "schema": spec.schema,
        "requester_email": requester.email,
        "requester_name": requester.name or None,
        "requester_sub": requester.sub,
        # The groups the destination check used; delivery decides again with them and the grants of then.
        "requester_groups": list(requester.groups) or None,
        "share_until": spec.share_until.isoformat() if spec.share_until else None,
        "sheet": spec.sheet,
        "message": spec.message or None,
        "due_date": spec.due_date.isoformat(),
        "grace_days": grace_days,
        "dataset_id": spec.dataset_id,
        "share_with": [{"type": s.type, "id": s.id} for s in spec.share_with] or None,
        "status": str(RequestStatus.OPEN),
        "recipient_count": len(spec.recipients),
        "created_at": created,
        "gsi1pk": f"REQUESTER#{requester.sub}",
        "gsi1sk": created,
    }
    new = NewRequest(
        request_id=rid,
        meta=meta,
        submissions=[],
        tokens=[],
        open_item={
            "pk": OPEN_PK,
            "sk": request_pk(rid),
            "type": "open-request",
            "request_id": rid,
            "due_date": spec.due_date.isoformat(),
        },
    )
    for recipient in spec.recipients:
        sid = new_id()
        token = token_factory()
        new.raw_tokens[sid] = token
        new.submissions.append(
            {
                "pk": request_pk(rid),
                "sk": submission_sk(sid),
                "type": "submission",
                "request_id": rid,
                "submission_id": sid,
                "uploader_email": recipient.email,
                "uploader_name": recipient.name or None,
                "uploader_organisation": recipient.organisation or None,
                "status": "awaiting-upload",
                "invited_at": created,
            }
        )
        new.tokens.append(token_item(rid, sid, token, due_date=spec.due_date, grace_days=grace_days, now=now))
    return new


def accepts_uploads(meta: Mapping[str, Any]) -> bool:
    return meta.get("status", RequestStatus.OPEN) == RequestStatus.OPEN


def can_manage(meta: Mapping[str, Any], actor_sub: str, *, is_admin: bool = False) -> bool:
    """The requester who created the request (or a platform admin) may track, close and cancel it."""
    return is_admin or (bool(actor_sub) and meta.get("requester_sub") == actor_sub)


def can_close(
    meta: Mapping[str, Any], actor_sub: str, groups: tuple[str, ...] = (), *, is_admin: bool = False
) -> bool:
    """Who may close a request: whoever may manage it, and also the owner organisation of the dataset it
    delivers into (a requester who lost their rights must not keep adding versions to it)."""
    owner = meta.get("dataset_owner_org")
    return can_manage(meta, actor_sub, is_admin=is_admin) or (
        bool(actor_sub) and bool(owner) and str(owner).startswith("org-") and owner in groups
    )


def request_summary(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The requester-facing summary of a META item (list and detail views)."""
    keys = (
        "request_id",
        "title",
        "message",
        "schema",
        "due_date",
        "status",
        "dataset_id",
        "share_with",
        "share_until",
        "sheet",
        "recipient_count",
        "created_at",
        "closed_at",
        "cancelled_at",
        "requester_email",
        "requester_name",
    )
    return {k: meta[k] for k in keys if meta.get(k) is not None}
