"""Collect+Share requests: the records a new request writes, and who may manage, close and see it.

Pure: no AWS. A creation writes one `RequestRecord`, one `SubmissionRecord` and one `TokenRecord` per
recipient (the hashed capability link); the store keeps them together, atomically. The body a
requester sends is checked by the API (witan.api.bodies.CreateCollectRequest) into a `RequestSpec`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from witan.collect.requests.records import (
    Requester,
    RequestRecord,
    RequestSpec,
    RequestStatus,
    SubmissionRecord,
    TokenRecord,
)
from witan.collect.requests.tokens import DEFAULT_GRACE_DAYS, expiry_for, hash_token, new_token

# -- records ---------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class NewRequest:
    """Everything one creation writes, plus the raw tokens (only ever put into invitation emails)."""

    request: RequestRecord
    submissions: list[SubmissionRecord]
    tokens: list[TokenRecord]
    raw_tokens: dict[str, str] = field(repr=False, default_factory=dict)  # submission_id -> token

    @property
    def request_id(self) -> str:
        return self.request.request_id

    def stamp(self, **changes: Any) -> None:
        """Set fields of the request before it is stored (e.g. its checked destination)."""
        self.request = replace(self.request, **changes)


def token_record(
    request_id: str, submission_id: str, token: str, *, due_date: date, grace_days: int, now: datetime
) -> TokenRecord:
    """What is kept of a capability token: its hash, and when it stops working."""
    return TokenRecord(
        request_id=request_id,
        submission_id=submission_id,
        token_hash=hash_token(token),
        token_expires_at=int(expiry_for(due_date, grace_days).timestamp()),
        issued_at=iso(now),
    )


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
    request = RequestRecord(
        request_id=rid,
        title=spec.title,
        schema=spec.schema,
        requester_email=requester.email,
        requester_name=requester.name or None,
        requester_sub=requester.sub,
        requester_groups=tuple(requester.groups),
        share_until=spec.share_until.isoformat() if spec.share_until else None,
        sheet=spec.sheet,
        message=spec.message or None,
        due_date=spec.due_date.isoformat(),
        grace_days=grace_days,
        dataset_id=spec.dataset_id,
        share_with=spec.share_with,
        status=RequestStatus.OPEN,
        recipient_count=len(spec.recipients),
        created_at=created,
    )
    new = NewRequest(request=request, submissions=[], tokens=[])
    for recipient in spec.recipients:
        sid = new_id()
        token = token_factory()
        new.raw_tokens[sid] = token
        new.submissions.append(
            SubmissionRecord(
                request_id=rid,
                submission_id=sid,
                uploader_email=recipient.email,
                uploader_name=recipient.name or None,
                uploader_organisation=recipient.organisation or None,
                invited_at=created,
            )
        )
        new.tokens.append(
            token_record(rid, sid, token, due_date=spec.due_date, grace_days=grace_days, now=now)
        )
    return new


def can_manage(request: RequestRecord, actor_sub: str, *, is_admin: bool = False) -> bool:
    """The requester who created the request (or a platform admin) may track, close and cancel it."""
    return is_admin or (bool(actor_sub) and request.requester_sub == actor_sub)


def can_close(
    request: RequestRecord, actor_sub: str, groups: tuple[str, ...] = (), *, is_admin: bool = False
) -> bool:
    """Who may close a request: whoever may manage it, and also the owner organisation of the dataset it
    delivers into (a requester who lost their rights must not keep adding versions to it)."""
    owner = request.dataset_owner_org
    return can_manage(request, actor_sub, is_admin=is_admin) or (
        bool(actor_sub) and bool(owner) and str(owner).startswith("org-") and owner in groups
    )


def request_summary(request: RequestRecord) -> dict[str, Any]:
    """The requester-facing summary of a request (list and detail views)."""
    shown: dict[str, Any] = {
        "request_id": request.request_id,
        "title": request.title,
        "message": request.message,
        "schema": request.schema,
        "due_date": request.due_date,
        "status": str(request.status),
        "dataset_id": request.dataset_id,
        "share_with": [{"type": s.type, "id": s.id} for s in request.share_with] or None,
        "share_until": request.share_until,
        "sheet": request.sheet,
        "recipient_count": request.recipient_count,
        "created_at": request.created_at or None,
        "closed_at": request.closed_at,
        "cancelled_at": request.cancelled_at,
        "requester_email": request.requester_email,
        "requester_name": request.requester_name,
    }
    return {k: v for k, v in shown.items() if v is not None}
