"""Everything a route needs from outside, injected: stores, file transfer, audit, clock, limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from witan.audit.records import AuditTrail
from witan.catalog.ports import CatalogStore, FileTransfer, GrantStore
from witan.catalog.records import new_dataset_id

if TYPE_CHECKING:  # the audit query module (csv, hashing) is loaded only by the audit routes
    from witan.audit.query import AuditReader

UPLOAD_EXPIRY_SECONDS = 15 * 60
DOWNLOAD_EXPIRY_SECONDS = 5 * 60  # presigned GETs live at most 5 minutes
MAX_BODY_BYTES = 256 * 1024


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)  # compared by identity: field-wise __eq__ has no use and costs at import
class Services:
    """The wiring: built once per execution environment by the handler, in memory in tests."""

    catalog: CatalogStore
    grants: GrantStore
    files: FileTransfer
    audit: AuditTrail
    audit_reader: AuditReader
    verify_audit: Callable[[], dict[str, Any]]  # whole-trail verification, as a JSON-able dict
    max_upload_bytes: int
    read_errors: tuple[type[Exception], ...] = ()  # adapter errors meaning "the trail cannot be read"
    clock: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = new_dataset_id
