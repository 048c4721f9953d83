"""Records of Collect+Share requests, as the request store takes and returns them.

One request is a `RequestRecord`, a `SubmissionRecord` per recipient, a `TokenRecord` per capability
link issued (hashes only) and a `witan.collect.records.CheckRecord` per uploaded version. Plain Python
values throughout (ints, not storage numbers); how they are keyed and stored is the adapter's business
(witan.aws.submissions, docs/data-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from witan.collect.records import CheckRecord


class RequestStatus(StrEnum):
    OPEN = "open"  # accepting uploads
    CLOSED = "closed"  # finished by the requester; uploads refused, results kept
    CANCELLED = "cancelled"  # withdrawn; uploads refused, links revoked


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


@dataclass(frozen=True)
class RequestRecord:
    """A request as asked for, and where it stands."""

    request_id: str
    title: str
    schema: str
    requester_email: str
    due_date: str  # yyyy-mm-dd
    requester_sub: str = ""
    requester_name: str | None = None
    # The groups the destination check used; delivery decides again with them and the grants of then.
    requester_groups: tuple[str, ...] = ()
    message: str | None = None
    sheet: str | None = None
    grace_days: int | None = None
    dataset_id: str | None = None
    share_with: tuple[ShareEntry, ...] = ()
    share_until: str | None = None  # yyyy-mm-dd
    status: str = RequestStatus.OPEN
    recipient_count: int = 0
    created_at: str = ""
    closed_at: str | None = None
    cancelled_at: str | None = None
    # Stamped only once the requester was shown to be allowed to deliver into `dataset_id`.
    dataset_owner_org: str | None = None
    destination_checked_at: str | None = None
    dataset_created: bool = False  # the dataset was made for this request
    shared_at: str | None = None
    last_digest_at: str | None = None

    @property
    def accepts_uploads(self) -> bool:
        return self.status == RequestStatus.OPEN


@dataclass(frozen=True)
class SubmissionRecord:
    """One recipient of a request and the status of their latest upload."""

    request_id: str
    submission_id: str
    uploader_email: str
    uploader_name: str | None = None
    uploader_organisation: str | None = None
    status: str = "awaiting-upload"  # or the latest upload's status (witan.collect.records.UploadStatus)
    invited_at: str | None = None
    opened_at: str | None = None
    last_opened_at: str | None = None
    status_at: str | None = None
    latest_version: str | None = None
    latest_file_name: str | None = None
    rows: int | None = None
    error_count: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    report_keys: dict[str, str] = field(default_factory=dict)
    last_reminded_on: str | None = None
    reminders_sent: int = 0


@dataclass(frozen=True)
class TokenRecord:
    """A capability link as kept: its hash only (tokens are never stored)."""

    request_id: str
    submission_id: str
    token_hash: str
    token_expires_at: int  # epoch seconds; the link stops working then
    issued_at: str = ""
    revoked_at: str | None = None


# What `RequestStore.request_items` returns: every record of one request, in no particular order.
RequestPart = RequestRecord | SubmissionRecord | CheckRecord | TokenRecord


@dataclass(frozen=True)
class StoredSchema:
    """A Table Schema kept for requests to name as `stored:{name}`."""

    name: str
    created_by: str = ""
