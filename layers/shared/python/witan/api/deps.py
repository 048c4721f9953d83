"""Everything a route needs from outside, injected: stores, file transfer, audit, clock, limits, and each
optional area's ports (present or absent by type). Built from Settings by `witan.aws.wiring`, in memory in
tests; routes never read the environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from witan.audit.records import AuditTrail
from witan.catalog.ports import CatalogStore, FileTransfer, GrantStore
from witan.catalog.records import new_dataset_id

if TYPE_CHECKING:  # loaded only by the routes that use them (the cold import stays small)
    from witan.audit.query import AuditReader
    from witan.collect.requests.records import StoredSchema
    from witan.collect.requests.service import CollectRequestService
    from witan.datapacks.ports import PackObjects, PackStore
    from witan.modelrun.ports import RunStore
    from witan.modelrun.records import RunRecord

UPLOAD_EXPIRY_SECONDS = 15 * 60
DOWNLOAD_EXPIRY_SECONDS = 5 * 60  # presigned GETs live at most 5 minutes
MAX_BODY_BYTES = 256 * 1024


def utc_now() -> datetime:
    return datetime.now(UTC)


class EmailQuota(Protocol):
    """A per-user daily budget of emails: take `count` for `sub` on `now`'s day if within `limit`."""

    def take(self, sub: str, count: int, limit: int, now: datetime) -> bool: ...


@dataclass
class CollectWiring:
    """What the Collect+Share routes need besides the datastore services."""

    service: Callable[[str], CollectRequestService]  # link base URL -> the requests service
    email_quota: EmailQuota  # emails sent for a requester's requests, per day
    link_base_url: str = ""  # configured base (scheduled runs); API calls derive it from the request
    upload_origin: Callable[[], str] = lambda: ""  # where presigned POSTs go (for the page's CSP)
    put_schema: Callable[[str, Mapping[str, Any], str], bool] | None = None  # name, descriptor, owner
    list_stored_schemas: Callable[[], list[StoredSchema]] | None = None
    builtin_schema_names: Callable[[], list[str]] = list


@dataclass
class ModelRunPorts:
    """The model-run routes' needs: the run records and a way to start an execution."""

    runs: RunStore
    start: Callable[[str, dict[str, Any]], str]  # (run_id, state machine input) -> execution ARN


@dataclass
class DatapackPorts:
    """The datapack routes' needs: pack records, S3 objects and run records."""

    packs: PackStore
    objects: PackObjects
    get_run: Callable[[str], RunRecord | None]  # None when there are no runs on this stack


@dataclass(frozen=True)
class ConsoleConfig:
    """Where the council console signs in (the Cognito managed login) and with which app client."""

    auth_url: str = ""
    client_id: str = ""


@dataclass(eq=False)  # compared by identity: field-wise __eq__ has no use and costs at import
class Services:
    """The wiring: built once per configuration by `witan.aws.wiring`, in memory in tests."""

    catalog: CatalogStore
    grants: GrantStore
    files: FileTransfer
    audit: AuditTrail
    audit_reader: AuditReader
    verify_audit: Callable[[], dict[str, Any]]  # whole-trail verification, as a JSON-able dict
    max_upload_bytes: int
    clock: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = new_dataset_id
    collect: CollectWiring | None = None  # None: no requests table on this stack
    # Built on first use (their adapters stay off other areas' cold path); None: not on this stack.
    model_runs: Callable[[], ModelRunPorts] | None = None  # needs the model-runs table and state machine
    datapacks: Callable[[], DatapackPorts] | None = None  # needs the datapacks bucket
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    admin_mfa_required: bool = False  # platform-admin rights only with an MFA `amr` claim
