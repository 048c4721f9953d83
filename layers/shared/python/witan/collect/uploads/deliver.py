"""Collected data into the datastore: a request's destination dataset, checked when the request is made,
and each valid upload delivered as a new file version of it, shared as the request says.

Decisions (docs/data-model.md, "Destination datasets"):
- The version's file (what `GET /datasets/{id}/download` serves) is a CSV written from the typed table:
  every version has the same columns in the same form whether the partner sent xlsx or CSV, it opens
  in a spreadsheet and it is a valid model-run input. The typed Parquet sits at
  `curated/{dataset_id}/{version}/data.parquet`; the upload itself stays untouched under `uploads/`.
- "Who may see the result" is `file-read` (which implies `meta-read`), granted to each `share_with`
  entry once per request, by the requester, with purpose `collect-request` naming the request. A grant
  the grantee already holds is never narrowed; one revoked later is not granted again by later uploads.
- Re-authorised at delivery (issue 15): the creation check is not enough, rights change. Each upload is
  delivered only if the requester, with the groups stored on the request and the grants as they are
  now, may still update the dataset and give its share_with (`witan.access.policy.decide_share`);
  otherwise it is `not-delivered` with the reason (the Parquet stays under `curated/{request}/...`).
  Grants made by delivery end at the request's `share_until` or when the requester's own right to
  share them ends, whichever is sooner; a sharer cannot replace a grant someone else made.
- Idempotent: the dataset version is recorded together with a SOURCE marker keyed by the upload's
  object version (S3 version id or event sequencer), so a redelivered message finds its version again.
- A request without `dataset_id` gets a dataset of its own when it is made (`request_dataset`): owned
  by the requester's organisation, titled as the request, the schema's fields as its structure, so the
  collected data lands in the datastore. Only when that cannot be (the datastore is not wired, or the
  requester is in no or several organisations) does the Parquet stay under `curated/{request}/...`.

Pure apart from the ports; pyarrow is imported only when a CSV is written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from witan.access.policy import decide, decide_grant, decide_share, held_until
from witan.access.records import Activity, Grant, GranteeType, Principal, Purpose, expand
from witan.audit.records import AuditEvent, AuditTrail
from witan.catalog.records import (
    Dataset,
    FileVersion,
    MetadataVersion,
    add_file_version,
    new_dataset_id,
)
from witan.catalog.records import create as create_dataset
from witan.collect.records import (
    CheckRecord,
    CollectionRequest,
    Destination,
    collected_source,
    dataset_curated_key,
)
from witan.errors import (
    ConflictError,
    DatasetDeletedError,
    DatasetNotWritableError,
    ShareNotAllowedError,
    UnknownDatasetError,
)

SHARED_ACTIVITIES: frozenset[Activity] = frozenset({Activity.META_READ, Activity.FILE_READ})
PURPOSE_CODE = "collect-request"
VERSION_ACTION = "dataset.version.collect"
NOT_DELIVERED = "not-delivered"
SYSTEM_ACTOR = "system:upload-validator"  # the audit actor of a collected version (no Cognito user)
CSV_TYPE = "text/csv"
PARQUET_TYPE = "application/vnd.apache.parquet"
SAVE_ATTEMPTS = 5  # optimistic retries when someone else adds a version at the same moment
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# -- request creation -------------------------------------------------------------------------------


def check_destination(
    principal: Principal,
    dataset_id: str,
    dataset: Dataset | None,
    grants: Sequence[Grant],
    share_with: Iterable[tuple[str, str]],
    now: datetime,
) -> str:
    """The dataset's owner organisation if `principal` may direct collected data into it and share it
    as asked; a catalogue error (unknown-dataset, dataset-deleted, dataset-not-writable,
    share-not-allowed) otherwise.

    A dataset the requester may not even see is answered as unknown, as the datastore's own API does.
    """
    if (
        dataset is None
        or not decide(principal, Activity.META_VISIBLE, dataset.owner_org, grants, now).allowed
    ):
        raise UnknownDatasetError(dataset_id=dataset_id)
    if dataset.deleted:
        raise DatasetDeletedError(dataset_id=dataset.id)
    if not decide(principal, Activity.META_UPDATE, dataset.owner_org, grants, now).allowed:
        raise DatasetNotWritableError(dataset_id=dataset.id)
    if (
        list(share_with)
        and not decide_grant(principal, SHARED_ACTIVITIES, dataset.owner_org, grants, now).allowed
    ):
        raise ShareNotAllowedError(dataset_id=dataset.id)
    return dataset.owner_org


def request_dataset(
    request_id: str,
    title: str,
    message: str,
    schema_name: str,
    schema: Any,
    *,
    owner_org: str,
    creator_sub: str,
    now: datetime,
) -> tuple[Dataset, MetadataVersion]:
    """The dataset made for a request that names none: the request's title, the schema's fields as
    its structure, no file yet (each valid upload becomes the next file version)."""
    structure = {
        "schema": schema_name,
        "fields": [
            {k: v for k, v in (("name", f.name), ("type", f.type), ("title", f.title)) if v}
            for f in schema.fields
        ],
        "primary_key": list(schema.primary_key),
    }
    metadata = {
        "title": title,
        "description": message or f"Data collected through Collect+Share request {request_id}.",
        "structure": structure,
        "source": f"Collect+Share request {request_id}",
        "tags": ["collect"],
    }
    dataset, meta, _ = create_dataset(
        new_dataset_id(), owner_org, creator_sub, metadata, "data.csv", CSV_TYPE, 1, now
    )
    return replace(dataset, file=None), meta


# -- delivery (the upload validator) ----------------------------------------------------------------


class CollectedCatalog(Protocol):
    """What delivery needs from the catalogue (witan.aws.catalog_table.DynamoCatalogStore)."""

    def load(self, dataset_id: str) -> tuple[Dataset, Any] | None:
        """The dataset now and an opaque token naming exactly this state (for the conditional save)."""
        ...

    def collected_version(self, dataset_id: str, source: str) -> tuple[FileVersion, bool] | None:
        """The version recorded for `source` and whether its audit event was written; None if none."""
        ...

    def save_collected_version(self, dataset: Dataset, file: FileVersion, source: str, token: Any) -> None:
        """Record `file` as the dataset's latest version with its SOURCE marker, atomically, only if the
        dataset is still in the state `token` names; ConflictError otherwise."""
        ...

    def mark_collected_audited(self, dataset_id: str, source: str) -> None: ...


class GrantWriter(Protocol):
    def grants_for(self, dataset_id: str) -> list[Grant]: ...

    def put(self, grant: Grant) -> None: ...


class ObjectWriter(Protocol):
    def upload(self, path: Path, bucket: str, key: str, content_type: str) -> None: ...


@dataclass
class Delivery:
    """What delivering one valid upload did; kept on the check record (`detail.destination`)."""

    dataset_id: str
    outcome: str  # delivered | already-delivered | not-delivered | dataset-deleted | dataset-missing
    version: FileVersion | None = None
    parquet_key: str | None = None
    shared_with: list[str] = field(default_factory=list)  # "user:sub" / "group:org-x" now able to read
    reason: str | None = None  # why not delivered (a policy reason code)
    message: str | None = None  # the same, for the requester

    @property
    def delivered(self) -> bool:
        return self.version is not None

    def to_detail(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dataset_id": self.dataset_id, "outcome": self.outcome}
        if self.version is not None:
            out |= {"version": self.version.version, "key": self.version.key}
        if self.shared_with:
            out["shared_with"] = list(self.shared_with)
        if self.reason:
            out |= {"reason": self.reason, "message": self.message or self.reason}
        return out


def version_file_name(upload_name: str) -> str:
    """`population by age.xlsx` -> `population_by_age.csv` (the datastore's file-name rule)."""
    stem = Path(upload_name).stem
    safe = _UNSAFE_NAME.sub("_", stem).strip("._-")[:100]
    return f"{safe or 'data'}.csv"


def parquet_to_csv(parquet_path: Path, csv_path: Path) -> int:
    """Write the typed table as UTF-8 CSV (header = field names), batch by batch; returns its size.

    Text cells that a spreadsheet would run as a formula are neutralised (a leading quote), as in every
    CSV we write: the version is what people download and open. The typed Parquet keeps them as sent.
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    source = pq.ParquetFile(str(parquet_path))
    options = pacsv.WriteOptions(quoting_style="needed")
    with pacsv.CSVWriter(str(csv_path), source.schema_arrow, write_options=options) as writer:
        for batch in source.iter_batches(batch_size=65_536):
            writer.write_batch(neutralise_text_columns(batch))
    return csv_path.stat().st_size


# What witan.validation.reports.neutralise does, for whole Arrow columns (RE2 through Arrow).
_FORMULA_START_RE = r"^[=+\-@\t\r\n]"
_PLAIN_NUMBER_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def neutralise_text_columns(batch: Any) -> Any:
    """The record batch with every text cell that starts a formula prefixed by a quote (vectorised)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.and_(
                pc.match_substring_regex(column, _FORMULA_START_RE),
                pc.invert(pc.match_substring_regex(column, _PLAIN_NUMBER_RE)),
            )
            if pc.any(risky).as_py():
                quoted = pc.binary_join_element_wise(pa.scalar("'", column.type), column, "")
                column = pc.if_else(risky, quoted, column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def share_purpose(request: CollectionRequest) -> Purpose:
    return Purpose(PURPOSE_CODE, f"Collect+Share request {request.request_id}: {request.title}"[:1000])


@dataclass(frozen=True)
class DeliveryAuthorisation:
    """May the requester's request be delivered now, and the grants to write if so."""

    allowed: bool
    reason: str
    message: str = ""
    expires_at: datetime | None = None  # of the grants delivery makes (None: no end)
    to_grant: tuple[Grant, ...] = ()  # grants to write (none once the request has shared)
    shared_with: tuple[str, ...] = ()  # every share_with grantee, "user:sub" / "group:org-x"


def _sooner(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _refused(reason: str, message: str) -> DeliveryAuthorisation:
    return DeliveryAuthorisation(False, reason, message)


def authorise_delivery(
    request: CollectionRequest,
    destination: Destination,
    dataset: Dataset,
    grants: Sequence[Grant],
    now: datetime,
) -> DeliveryAuthorisation:
    """Decide again, from the grants as they are now, whether the requester may add this version and
    give the request's share_with; the grants to write (each within what `decide_share` allows)."""
    principal = Principal(destination.granted_by or None, groups=destination.requester_groups)
    owner = dataset.owner_org
    update = decide(principal, Activity.META_UPDATE, owner, grants, now)
    if not update.allowed:
        return _refused(
            "dataset-not-writable",
            f"the requester may no longer add versions to dataset {dataset.id} ({update.reason})",
        )
    if not destination.share_with:
        return DeliveryAuthorisation(True, update.reason)
    base = decide_grant(principal, SHARED_ACTIVITIES, owner, grants, now)
    if not base.allowed:
        return _refused(
            f"share-not-allowed:{base.reason}",
            f"the requester may no longer share dataset {dataset.id} as the request asks ({base.reason})",
        )
    # Owners and admins give what the request says; a sharer no longer than they may share it.
    own_end = held_until(principal, SHARED_ACTIVITIES | {Activity.SHARE}, grants, now) if base.grant else None
    expires = _sooner(destination.share_until, own_end)
    labels = tuple(f"{kind}:{grantee}" for kind, grantee in destination.share_with)
    if request.shared_at:  # grants were made once; revoked ones stay revoked, but the right must hold
        decision = decide_share(principal, SHARED_ACTIVITIES, expires, owner, grants, now)
        if not decision.allowed:
            return _refused(f"share-not-allowed:{decision.reason}", f"sharing refused ({decision.reason})")
        return DeliveryAuthorisation(True, update.reason, expires_at=expires)
    existing = {(g.grantee_type.value, g.grantee): g for g in grants}
    to_grant: list[Grant] = []
    for kind, grantee in destination.share_with:
        held = existing.get((kind, grantee))
        live = held is not None and not held.expired(now)
        if live and held is not None and expand(held.activities) >= SHARED_ACTIVITIES:
            continue  # already covered: never narrowed, never touched
        activities = frozenset(SHARED_ACTIVITIES | (held.activities if live and held is not None else set()))
        until = expires
        if live and held is not None and base.grant is None:
            # An owner's union with a live grant keeps its longer life (a request never narrows one).
            until = None if held.expires_at is None or expires is None else max(held.expires_at, expires)
        decision = decide_share(principal, activities, until, owner, grants, now, replacing=held)
        if not decision.allowed:
            return _refused(
                f"share-not-allowed:{decision.reason}",
                f"the requester may not give {kind} {grantee} access to dataset {dataset.id} "
                f"({decision.reason})",
            )
        to_grant.append(
            Grant(
                dataset_id=dataset.id,
                grantee_type=GranteeType(kind),
                grantee=grantee,
                activities=activities,
                granted_by=destination.granted_by,
                granted_at=now,
                purpose=share_purpose(request),
                expires_at=until,
            )
        )
    return DeliveryAuthorisation(
        True, update.reason, expires_at=expires, to_grant=tuple(to_grant), shared_with=labels
    )


@dataclass
class DatasetDelivery:
    """Make a valid upload the destination dataset's next file version (see the module docstring)."""

    catalog: CollectedCatalog
    grants: GrantWriter
    objects: ObjectWriter
    bucket: str
    audit: AuditTrail | None = None
    to_csv: Callable[[Path, Path], int] = parquet_to_csv
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def deliver(
        self, request: CollectionRequest, record: CheckRecord, parquet_path: Path, work: Path
    ) -> Delivery:
        destination = request.destination
        if destination is None:
            raise ValueError("the request has no checked destination")
        dataset_id = destination.dataset_id
        source = collected_source(record.request_id, record.submission_id, record.version_key)
        found = self.catalog.collected_version(dataset_id, source)
        loaded = self.catalog.load(dataset_id)
        if loaded is None and found is None:
            return Delivery(dataset_id, "dataset-missing")
        now = self.clock()
        authorised = None
        if loaded is not None and not loaded[0].deleted:
            authorised = authorise_delivery(
                request, destination, loaded[0], self.grants.grants_for(dataset_id), now
            )
        if found is None and authorised is not None and not authorised.allowed:
            refused = Delivery(
                dataset_id, NOT_DELIVERED, reason=authorised.reason, message=authorised.message
            )
            self._audit_refused(request, record, refused)
            return refused
        csv_path = work / "collected.csv"
        size = self.to_csv(parquet_path, csv_path)
        if found is not None:  # a retry: the decision to deliver was made when the version was recorded
            file, audited = found
            outcome = "already-delivered"
        else:
            saved = self._save(dataset_id, record, source, size)
            if isinstance(saved, str):
                return Delivery(dataset_id, saved)
            file, audited, outcome = saved, False, "delivered"
        # Objects after the record, so that no key of a version someone else recorded is ever written;
        # a retry after a crash here finds the version by its SOURCE marker and writes them again.
        self.objects.upload(csv_path, self.bucket, file.key, CSV_TYPE)
        parquet_key = dataset_curated_key(dataset_id, file.version)
        self.objects.upload(parquet_path, self.bucket, parquet_key, PARQUET_TYPE)
        shared: list[str] = []
        if authorised is not None and authorised.allowed:
            for grant in authorised.to_grant:
                self.grants.put(grant)
            shared = list(authorised.shared_with)
        delivery = Delivery(dataset_id, outcome, file, parquet_key, shared)
        if not audited:
            self._audit(request, record, delivery)
            self.catalog.mark_collected_audited(dataset_id, source)
        return delivery

    def _save(self, dataset_id: str, record: CheckRecord, source: str, size: int) -> FileVersion | str:
        """Record the next version; the reason as a string when the dataset cannot take one."""
        for _ in range(SAVE_ATTEMPTS):
            loaded = self.catalog.load(dataset_id)
            if loaded is None:
                return "dataset-missing"
            dataset, token = loaded
            if dataset.deleted:
                return "dataset-deleted"
            updated, file = add_file_version(
                dataset,
                version_file_name(record.file_name),
                CSV_TYPE,
                max(size, 1),
                f"collect:{record.request_id}/{record.submission_id}",
                self.clock(),
            )
            try:
                self.catalog.save_collected_version(updated, file, source, token)
            except ConflictError:
                found = self.catalog.collected_version(dataset_id, source)
                if found is not None:  # another worker delivered this very upload meanwhile
                    return found[0]
                continue
            return file
        raise ConflictError(f"dataset {dataset_id} kept changing; the message will be retried")

    def _audit_refused(self, request: CollectionRequest, record: CheckRecord, delivery: Delivery) -> None:
        """The refusal is part of the trail: who asked for the delivery and why it was not made."""
        destination = request.destination
        detail = {
            "requester_sub": destination.granted_by if destination else None,
            "submission_id": record.submission_id,
            "object_key": record.object_key,
            "object_version": record.version_key,
            "message": delivery.message,
        }
        self._record(request, delivery, "deny", delivery.reason or NOT_DELIVERED, detail)

    def _audit(self, request: CollectionRequest, record: CheckRecord, delivery: Delivery) -> None:
        if delivery.version is None:
            return
        detail = {
            "file_version": delivery.version.version,
            "key": delivery.version.key,
            "parquet_key": delivery.parquet_key,
            "submission_id": record.submission_id,
            "object_key": record.object_key,
            "object_version": record.version_key,
            "rows": record.rows,
            "shared_with": list(delivery.shared_with),
        }
        self._record(request, delivery, "allow", f"collect-request:{request.request_id}", detail)

    def _record(
        self,
        request: CollectionRequest,
        delivery: Delivery,
        decision: str,
        reason: str,
        detail: dict[str, Any],
    ) -> None:
        """One delivery event (made or refused) against the destination dataset."""
        if self.audit is None:
            return
        self.audit.record(
            AuditEvent(
                action=VERSION_ACTION,
                decision=decision,
                reason=reason,
                status=0,
                actor_sub=SYSTEM_ACTOR,
                resource=f"dataset/{delivery.dataset_id}",
                purpose=PURPOSE_CODE,
                request_id=request.request_id,
                detail=detail,
            )
        )
