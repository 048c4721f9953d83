"""Check one uploaded file: find its request, check it, store reports and Parquet, record, tell people.

Order matters for "nothing lost, nothing twice":
1. claim the version (conditional put; a redelivered message for a finished version stops here);
2. check and write reports (+ Parquet when valid) under keys derived from the version, so a retry
   after a crash overwrites the same objects; a valid upload to a request with a checked destination
   becomes the dataset's next file version (witan.collect.uploads.deliver; idempotent by its SOURCE marker);
3. audit, then the final record (conditional on our claim); a failure before this point makes the
   message fail and SQS redeliver it once the claim's lease has run out;
4. email last, best effort: a rejected address must not undo the check, so failures are recorded
   on the check record instead of failing the message.
The upload itself is only ever read. An upload for a closed or cancelled request (a URL issued before
it closed) is recorded as `not-accepted`, not checked, and becomes no version.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from witan.audit.records import AuditEvent, AuditTrail
from witan.collect.records import (
    CheckRecord,
    CollectionRequest,
    Submission,
    UploadRef,
    UploadStatus,
    curated_key,
    report_prefix,
    status_for,
)
from witan.collect.uploads.deliver import DatasetDelivery
from witan.collect.uploads.notify import ReportLinks, compose_emails
from witan.collect.uploads.ports import CheckFile, CheckStore, Claim, LoadSchema, Mailer, ObjectStore
from witan.validation.records import CheckError, CheckReport

logger = logging.getLogger(__name__)

# Presigned report links: 3 days. SigV4 allows up to 7, but the reports echo values from the file
# (possibly personal data) and links get forwarded; 3 days covers an upload on Friday read on Monday.
# Links signed with the Lambda role's temporary credentials also die when that session ends, so
# the email points people to Witan for fresh links.
REPORT_LINK_TTL_SECONDS = 3 * 24 * 3600
LEASE_MARGIN_SECONDS = 60  # a `checking` claim outlives the invocation's deadline by this much
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class CheckInProgress(RuntimeError):
    """Another worker holds a live claim on this version; the message should be retried later."""


class ClaimLost(RuntimeError):
    """Our claim expired and another worker took the version over before we finished."""


@dataclass
class Outcome:
    """What handling one upload did; the handler turns it into metrics and logs."""

    upload: UploadRef
    status: UploadStatus | None = None  # None when nothing was done (duplicate, vanished object)
    skipped: str | None = None  # why nothing was done
    record: CheckRecord | None = None
    emailed: list[str] = field(default_factory=list)
    email_failures: list[str] = field(default_factory=list)

    @property
    def checked(self) -> bool:
        return self.status in (UploadStatus.VALID, UploadStatus.INVALID, UploadStatus.UNUSABLE)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass
class UploadCheckService:
    store: CheckStore
    objects: ObjectStore
    mailer: Mailer
    check_file: CheckFile
    load_schema: LoadSchema
    reports_bucket: str
    max_upload_bytes: int
    audit: AuditTrail | None = None
    delivery: DatasetDelivery | None = None  # None: valid data stays under curated/ only
    link_ttl_seconds: int = REPORT_LINK_TTL_SECONDS
    error_limit: int = 1000
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def handle(self, upload: UploadRef, *, deadline: float | None = None) -> Outcome:
        """Check `upload`. `deadline` is a time.monotonic() value by which the check must stop."""
        info = self.objects.head(upload.bucket, upload.key, upload.version_id)
        if info is None:
            logger.warning("upload vanished before it was checked", extra={"key": upload.key})
            return Outcome(upload, skipped="object-not-found")
        if upload.version_id is None and info.version_id not in (None, "null"):
            upload = replace(upload, version_id=info.version_id)
        now = self.clock()
        record = CheckRecord(
            request_id=upload.request_id,
            submission_id=upload.submission_id,
            version_key=upload.version_key,
            status=UploadStatus.CHECKING,
            object_key=upload.key,
            file_name=upload.file_name,
            object_version_id=upload.version_id,
            size=info.size,
            etag=info.etag,
            sequencer=upload.sequencer,
            started_at=_iso(now),
            event_time=upload.event_time,
        )
        request = self.store.get_request(upload.request_id)
        submission = self.store.get_submission(upload.request_id, upload.submission_id) if request else None
        if request is None or submission is None:
            return self._unknown(upload, record, now)
        if not request.accepts_uploads:
            return self._not_accepted(upload, request, record, now)

        remaining = (deadline - time.monotonic()) if deadline is not None else 900.0
        record.lease_expires_at = int(now.timestamp() + max(remaining, 0) + LEASE_MARGIN_SECONDS)
        record.claim_token = uuid.uuid4().hex
        record.schema = request.schema
        claim = self.store.claim(record, now_epoch=int(now.timestamp()))
        if claim is Claim.DONE:
            return Outcome(upload, skipped="already-checked")
        if claim is Claim.BUSY:
            raise CheckInProgress(f"{upload.key} version {upload.version_key} is being checked elsewhere")
        self.store.update_submission(record)

        with tempfile.TemporaryDirectory(prefix="witan-check-") as tmp:
            work = Path(tmp)
            report, source_path, parquet_path = self._check(upload, request, info.size, work, deadline)
            record.status = status_for(report.counts)
            record.rows, record.error_count, record.counts = (
                report.rows,
                report.error_count,
                dict(report.counts),
            )
            record.checked_at = _iso(self.clock())
            record.report_keys = self._store_reports(upload, request, report, record, source_path, work)
            if record.status is UploadStatus.VALID and parquet_path is not None and parquet_path.exists():
                self._keep_valid(request, record, parquet_path, work)

        self._audit(record, decision="allow", reason=f"checked:{record.status}")
        if not self.store.finish(record):
            raise ClaimLost(f"{upload.key} version {upload.version_key} was taken over by another worker")
        self.store.update_submission(record)
        outcome = Outcome(upload, status=record.status, record=record)
        self._email(outcome, request, submission, report.errors)
        return outcome

    # -- steps -------------------------------------------------------------------------------------

    def _keep_valid(
        self, request: CollectionRequest, record: CheckRecord, parquet_path: Path, work: Path
    ) -> None:
        """Deliver to the destination dataset; else (none, or it is gone) keep the Parquet by request."""
        if request.destination is not None and self.delivery is not None:
            delivery = self.delivery.deliver(request, record, parquet_path, work)
            record.detail["destination"] = delivery.to_detail()
            if delivery.version is not None:
                record.dataset_id = delivery.dataset_id
                record.dataset_version = delivery.version.version
                record.dataset_key = delivery.version.key
                record.parquet_key = delivery.parquet_key
                if delivery.shared_with:
                    self.store.mark_shared(request.request_id, record.checked_at or _iso(self.clock()))
                return
            logger.warning(
                "valid upload not delivered",
                extra={"dataset_id": delivery.dataset_id, "why": delivery.outcome},
            )
        elif request.destination is not None:  # this deployment's validator has no catalog wired
            record.detail["destination"] = {"dataset_id": request.dataset_id, "outcome": "not-configured"}
        elif request.dataset_id:
            # Asked for, but never checked at creation (or made before checks existed): not delivered.
            record.detail["destination"] = {"dataset_id": request.dataset_id, "outcome": "not-authorised"}
        record.parquet_key = curated_key(record.request_id, record.submission_id, record.version_key)
        self.objects.upload(
            parquet_path, self.reports_bucket, record.parquet_key, "application/vnd.apache.parquet"
        )

    def _not_accepted(
        self, upload: UploadRef, request: CollectionRequest, record: CheckRecord, now: datetime
    ) -> Outcome:
        """The request no longer takes uploads: keep the object, record why, check nothing, email nobody."""
        record.status = UploadStatus.NOT_ACCEPTED
        record.checked_at = _iso(now)
        record.schema = request.schema
        record.detail["reason"] = f"request-{request.status}"
        record.detail["message"] = (
            f"This upload arrived after the request was {request.status}; it was kept but not checked "
            "or added to the dataset."
        )
        if not self.store.record_unknown(record):
            return Outcome(upload, skipped="already-checked")
        self._audit(record, decision="deny", reason=f"request-{request.status}")
        return Outcome(upload, status=UploadStatus.NOT_ACCEPTED, record=record)

    def _unknown(self, upload: UploadRef, record: CheckRecord, now: datetime) -> Outcome:
        """No such request/submission: keep the object, record it for admins, email nobody."""
        record.status = UploadStatus.UNKNOWN_REQUEST
        record.checked_at = _iso(now)
        if not self.store.record_unknown(record):
            return Outcome(upload, skipped="already-checked")
        self._audit(record, decision="deny", reason="unknown-request")
        return Outcome(upload, status=UploadStatus.UNKNOWN_REQUEST, record=record)

    def _check(
        self, upload: UploadRef, request: CollectionRequest, size: int, work: Path, deadline: float | None
    ) -> tuple[CheckReport, Path | None, Path | None]:
        """The check report, the downloaded source (None if not downloaded) and the Parquet path."""
        if size > self.max_upload_bytes:
            return (
                self._file_error("file-too-large", _too_large_message(size, self.max_upload_bytes)),
                None,
                None,
            )
        try:
            schema = self.load_schema(request.schema)
        except Exception as exc:
            logger.exception("schema for request could not be loaded", extra={"schema": request.schema})
            return (
                self._file_error("schema-error", f"The schema '{request.schema}' could not be loaded: {exc}"),
                None,
                None,
            )
        source = work / ("upload" + Path(upload.file_name).suffix.lower())
        self.objects.download(upload.bucket, upload.key, upload.version_id, source)
        parquet_path = work / "data.parquet"
        report = self.check_file(
            source,
            schema,
            file_name=upload.file_name,
            sheet=request.sheet,
            error_limit=self.error_limit,
            max_bytes=self.max_upload_bytes,
            deadline=deadline,
            parquet_path=parquet_path,
        )
        return report, source, parquet_path

    def _file_error(self, code: str, message: str) -> CheckReport:
        report = CheckReport(error_limit=self.error_limit)
        report.add(CheckError(code=code, message=message))
        return report

    def _store_reports(
        self,
        upload: UploadRef,
        request: CollectionRequest,
        report: CheckReport,
        record: CheckRecord,
        source_path: Path | None,
        work: Path,
    ) -> dict[str, str]:
        from witan.validation.reports import write_reports  # openpyxl and Arrow: only when checking

        paths = write_reports(
            report,
            work / "reports",
            source_path=source_path,
            file_name=upload.file_name,
            sheet=request.sheet,
            schema_name=request.schema,
            checked_at=record.checked_at,
        )
        prefix = report_prefix(upload.request_id, upload.submission_id, upload.version_key)
        keys: dict[str, str] = {}
        for fmt, path in paths.items():
            keys[fmt] = f"{prefix}report.{fmt}"
            self.objects.upload(path, self.reports_bucket, keys[fmt], CONTENT_TYPES[fmt])
        return keys

    def _audit(self, record: CheckRecord, *, decision: str, reason: str) -> None:
        if self.audit is None:
            return
        self.audit.record(
            AuditEvent(
                action="upload.checked",
                decision=decision,
                reason=reason,
                status=0,
                resource=f"request/{record.request_id}/submission/{record.submission_id}",
                request_id=record.request_id,
                detail={
                    "object_key": record.object_key,
                    "version": record.version_key,
                    "status": str(record.status),
                    "rows": record.rows,
                    "error_count": record.error_count,
                    "counts": dict(record.counts),
                    **(
                        {"dataset": dict(record.detail["destination"])}
                        if "destination" in record.detail
                        else {}
                    ),
                },
            )
        )

    def _email(
        self, outcome: Outcome, request: CollectionRequest, submission: Submission, errors: list[CheckError]
    ) -> None:
        record = outcome.record
        assert record is not None
        expires = self.clock() + timedelta(seconds=self.link_ttl_seconds)
        download_stem = Path(record.file_name).stem or "upload"
        urls: dict[str, str] = {
            fmt: self.objects.presign_get(
                self.reports_bucket,
                record.report_keys[fmt],
                expires_in=self.link_ttl_seconds,
                download_name=f"{download_stem}-report.{fmt}",
            )
            for fmt in ("xlsx", "csv", "json")
            if fmt in record.report_keys
        }
        links = ReportLinks(urls=urls, expires_at=expires.strftime("%d %B %Y %H:%M UTC"))
        for email in compose_emails(record, request, submission, errors, links):
            try:
                self.mailer.send(email)
                outcome.emailed.append(email.to)
            except Exception:
                logger.exception("check email not sent")
                outcome.email_failures.append(email.to)
        self.store.note_emails(record, outcome.emailed, outcome.email_failures)


def _too_large_message(size: int, limit: int) -> str:
    return (
        f"The file is {size / 1_048_576:.1f} MB; files up to {limit / 1_048_576:.1f} MB can be checked. "
        "Split it into smaller files or remove unused sheets and columns."
    )
