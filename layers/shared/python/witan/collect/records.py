"""Collect domain records: requests, submissions, the check of one uploaded object version.

S3 key prefixes are built here so that the validator and the Collect+Share API agree; how records
are stored is the adapter's business (witan.aws.submissions; docs/data-model.md describes the items).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from witan.settings import CURATED_PREFIX, REPORTS_PREFIX, UPLOADS_PREFIX


class UploadStatus(StrEnum):
    CHECKING = "checking"  # claimed by a validator; final status follows
    VALID = "valid"  # no errors; typed Parquet written
    INVALID = "invalid"  # read and checked; errors found
    UNUSABLE = "unusable"  # could not be checked: too large, unreadable, out of time, no schema
    UNKNOWN_REQUEST = "unknown-request"  # no such request or submission; kept, nobody emailed
    NOT_ACCEPTED = "not-accepted"  # arrived after the request was closed or cancelled; kept, not checked


FINAL_STATUSES = frozenset(s for s in UploadStatus if s is not UploadStatus.CHECKING)

# Error codes meaning the file as a whole could not be checked (status `unusable`, not `invalid`).
UNUSABLE_CODES = frozenset(
    {
        "file-too-large",
        "check-timeout",
        "deadline-exceeded",
        "timeout",
        "encoding-error",
        "format-error",
        "source-error",
        "scheme-error",
        "sheet-error",
        "schema-error",
        "empty-file",
        "io-error",
        "too-many-columns",
        "too-many-rows",
        "too-many-cells",
        "cell-too-large",
    }
)


class BadUploadKey(ValueError):
    """An object key that is not `uploads/{request_id}/{submission_id}/{file_name}`."""


def report_prefix(request_id: str, submission_id: str, version_key: str) -> str:
    return f"{REPORTS_PREFIX}{request_id}/{submission_id}/{version_key}/"


def curated_key(request_id: str, submission_id: str, version_key: str) -> str:
    """Typed Parquet of a valid upload whose request has no destination dataset (or lost it)."""
    return f"{CURATED_PREFIX}{request_id}/{submission_id}/{version_key}/data.parquet"


def dataset_curated_key(dataset_id: str, version: int) -> str:
    """Typed Parquet of a collected dataset version, next to the CSV the datastore serves."""
    return f"{CURATED_PREFIX}{dataset_id}/{version}/data.parquet"


def collected_source(request_id: str, submission_id: str, version_key: str) -> str:
    """Names one upload version as the source of a dataset version (the idempotency key)."""
    return f"{request_id}/{submission_id}/{version_key}"


@dataclass(frozen=True)
class UploadRef:
    """One uploaded object version, from an S3 ObjectCreated notification (key already decoded)."""

    bucket: str
    key: str
    request_id: str
    submission_id: str
    file_name: str
    version_id: str | None = None
    size: int | None = None
    etag: str | None = None
    sequencer: str = ""
    event_time: str | None = None

    @property
    def version_key(self) -> str:
        """Names this object version in record keys and report paths; stable across redeliveries.

        A versioned bucket gives a version id. Without one, the event sequencer stands in: it is the
        same for a redelivered notification and differs for every later PUT of the key.
        """
        if self.version_id and self.version_id != "null":
            return self.version_id
        return f"seq-{self.sequencer or 'none'}"

    @staticmethod
    def parse_key(key: str) -> tuple[str, str, str]:
        """(request_id, submission_id, file_name) from a decoded `uploads/...` key."""
        if not key.startswith(UPLOADS_PREFIX):
            raise BadUploadKey(f"not under {UPLOADS_PREFIX}: {key!r}")
        parts = key[len(UPLOADS_PREFIX) :].split("/", 2)
        if len(parts) != 3 or not all(parts) or "#" in parts[0] or "#" in parts[1]:
            raise BadUploadKey(f"expected uploads/{{request_id}}/{{submission_id}}/{{file_name}}: {key!r}")
        return parts[0], parts[1], parts[2]


def share_until_end(value: object) -> datetime | None:
    """The moment a request's `share_until` day (yyyy-mm-dd) ends, UTC; None when absent or unreadable."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


@dataclass(frozen=True)
class Destination:
    """Where a request's valid uploads go: a dataset checked at request creation, and who sees it.

    `owner_org` is stamped on the request only after the creation check passed (the requester may
    update the dataset and share what they ask to share); the validator delivers only to such a stamp.
    """

    dataset_id: str
    owner_org: str
    granted_by: str  # the requester's sub: grants made for the request are theirs
    share_with: tuple[tuple[str, str], ...] = ()  # (grantee_type "user"|"group", grantee id)
    # The requester's Cognito groups when the request was made: with the grants as they are at delivery,
    # they decide again whether each upload may be delivered (a request from before they were stored
    # has none, so only grants to the requester's own sub count).
    requester_groups: tuple[str, ...] = ()
    share_until: datetime | None = None  # grants made for the request end then (or sooner)


@dataclass(frozen=True)
class CollectionRequest:
    request_id: str
    title: str
    schema: str  # built-in schema name (schemas/tables/{name}.json) or a stored one (stored:{name})
    requester_email: str
    requester_name: str | None = None
    sheet: str | None = None  # worksheet to read in xlsx uploads; None = the first
    status: str = "open"  # open | closed | cancelled (witan.collect.requests.records.RequestStatus)
    dataset_id: str | None = None  # as asked for; delivered to only with a `destination`
    destination: Destination | None = None
    shared_at: str | None = None  # when the request's share_with became grants on the dataset

    @property
    def accepts_uploads(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class Submission:
    request_id: str
    submission_id: str
    uploader_email: str
    uploader_name: str | None = None


@dataclass
class CheckRecord:
    """The check of one upload version; one item per (request, submission, version)."""

    request_id: str
    submission_id: str
    version_key: str
    status: UploadStatus
    object_key: str
    file_name: str
    object_version_id: str | None = None
    size: int | None = None
    etag: str | None = None
    sequencer: str = ""
    started_at: str | None = None
    checked_at: str | None = None
    lease_expires_at: int | None = None  # epoch seconds; a `checking` claim older than this is stale
    claim_token: str | None = None
    schema: str | None = None
    rows: int | None = None
    error_count: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    report_keys: dict[str, str] = field(default_factory=dict)
    parquet_key: str | None = None
    event_time: str | None = None  # S3's eventTime (milliseconds): orders uploads of one submission
    dataset_id: str | None = None  # the destination dataset, once the upload became a version of it
    dataset_version: int | None = None
    dataset_key: str | None = None  # the file the datastore serves for that version
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def result_counts(self) -> dict[str, int] | None:
        """Problems by code once the check has finished; None while it is still running."""
        return dict(self.counts) if self.status is not UploadStatus.CHECKING else None


def status_for(counts: dict[str, int]) -> UploadStatus:
    """valid, invalid (errors in the data) or unusable (the file as a whole could not be checked)."""
    if not counts:
        return UploadStatus.VALID
    if UNUSABLE_CODES.intersection(counts):
        return UploadStatus.UNUSABLE
    return UploadStatus.INVALID
