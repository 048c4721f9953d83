"""What the collect service needs from the outside world; AWS adapters live in witan.aws."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from witan.collect.records import CheckRecord, CollectionRequest, Submission
from witan.collect.uploads.notify import Email
from witan.validation.records import CheckReport


class Claim(StrEnum):
    CLAIMED = "claimed"  # this worker now checks the version
    DONE = "done"  # already checked (or recorded as unknown): nothing to do
    BUSY = "busy"  # another worker holds a live claim: try again later


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str | None
    version_id: str | None


class CheckStore(Protocol):
    def get_request(self, request_id: str) -> CollectionRequest | None: ...

    def get_submission(self, request_id: str, submission_id: str) -> Submission | None: ...

    def claim(self, record: CheckRecord, *, now_epoch: int) -> Claim:
        """Create the `checking` record unless the version is final or claimed by a live lease."""
        ...

    def finish(self, record: CheckRecord) -> bool:
        """Write the final record if our claim still stands; False when it was taken over."""
        ...

    def record_unknown(self, record: CheckRecord) -> bool:
        """Store a record that needs no claim (`unknown-request`, `not-accepted`) once; False when it
        was already there."""
        ...

    def mark_shared(self, request_id: str, at: str) -> None:
        """Note on the request that its share_with became grants (done once per request)."""
        ...

    def update_submission(self, record: CheckRecord) -> bool:
        """Put the record's status on its submission unless a later upload's is already there."""
        ...

    def note_emails(self, record: CheckRecord, sent: list[str], failed: list[str]) -> None: ...


class ObjectStore(Protocol):
    def head(self, bucket: str, key: str, version_id: str | None) -> ObjectInfo | None:
        """Size, ETag and version of the object; None when it no longer exists."""
        ...

    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None: ...

    def upload(self, path: Path, bucket: str, key: str, content_type: str) -> None: ...

    def presign_get(self, bucket: str, key: str, *, expires_in: int, download_name: str) -> str: ...


class Mailer(Protocol):
    def send(self, email: Email) -> str:
        """Send; return the provider's message id."""
        ...


class CheckFile(Protocol):
    """witan.validation.check_file."""

    def __call__(
        self,
        source: Any,
        schema: Any,
        *,
        file_name: str,
        sheet: str | None = None,
        error_limit: int = 1000,
        max_bytes: int | None = None,
        deadline: Any = None,
        parquet_path: Any = None,
    ) -> CheckReport: ...


class LoadSchema(Protocol):
    """witan.validation.load_schema."""

    def __call__(self, name_or_path: str) -> Any: ...
