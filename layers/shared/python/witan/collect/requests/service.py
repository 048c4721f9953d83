"""Collect+Share requests, end to end in the domain: create, list, track, close/cancel, partner links,
presigned uploads, reminders and digests. AWS sits behind the ports below (witan.aws.submissions).

Authorisation of requesters is by ownership (`requester_sub`) or the admin flag the API derives from
Cognito groups; partners are authorised by their capability token alone. Every failed token lookup
raises the same NotFoundError.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from witan.access.records import Principal
from witan.catalog.ports import CatalogStore, GrantStore
from witan.catalog.records import Dataset, MetadataVersion
from witan.collect.records import CheckRecord
from witan.collect.requests.creation import (
    NewRequest,
    build_request,
    can_close,
    can_manage,
    iso,
    request_summary,
    token_record,
)
from witan.collect.requests.invitations import digest_email, invitation_email, partner_link, reminder_email
from witan.collect.requests.partner import partner_view, submission_history, upload_target
from witan.collect.requests.records import (
    Requester,
    RequestPart,
    RequestRecord,
    RequestSpec,
    RequestStatus,
    SubmissionRecord,
    TokenRecord,
)
from witan.collect.requests.reminders import ReminderPolicy, digest_changes, group_by_requester, reminders_due
from witan.collect.requests.template import template_xlsx
from witan.collect.requests.tokens import (
    DEFAULT_GRACE_DAYS,
    TokenGrant,
    grant_from_record,
    hash_token,
    new_token,
)
from witan.collect.requests.tracking import RequestTracking, compute_tracking
from witan.collect.uploads.deliver import check_destination, request_dataset
from witan.collect.uploads.ports import Mailer
from witan.errors import (
    DestinationUnavailableError,
    FileTooLargeError,
    NoDestinationError,
    NotFoundError,
    RequestNotOpenError,
)
from witan.validation.schema import Schema, SchemaError

logger = logging.getLogger(__name__)

PRESIGN_TTL_SECONDS = 15 * 60  # a POST policy long enough for a slow 100 MB upload, short if leaked
PARTNER_ERRORS_SHOWN = 50


class RequestStore(Protocol):
    def create(self, new: NewRequest) -> None:
        """Write the request, its submissions and tokens atomically (and list it as open)."""
        ...

    def get_request(self, request_id: str) -> RequestRecord | None: ...

    def request_items(self, request_id: str) -> list[RequestPart]:
        """Every record of one request: itself, its submissions, their checks and tokens."""
        ...

    def submission_items(
        self, request_id: str, submission_id: str
    ) -> tuple[SubmissionRecord | None, list[CheckRecord]]:
        """One recipient's submission (None if there is none) and the checks of their uploads."""
        ...

    def list_by_requester(
        self, requester_sub: str, *, limit: int, cursor: str | None
    ) -> tuple[list[RequestRecord], str | None]:
        """The requester's requests, newest first, and a cursor for the next page (None at the end)."""
        ...

    def set_status(self, request_id: str, status: RequestStatus, at: str) -> bool:
        """Move an open request to `status` (and drop it from the open list); False if not open."""
        ...

    def find_token(self, token_hash: str) -> TokenRecord | None: ...

    def put_token(self, token: TokenRecord) -> None: ...

    def revoke_tokens(self, request_id: str, submission_id: str | None, at: str) -> int: ...

    def mark_opened(self, request_id: str, submission_id: str, at: str) -> None: ...

    def mark_reminded(self, request_id: str, submission_id: str, day: str) -> bool:
        """Record today's reminder; False if one was already recorded today (send nothing then)."""
        ...

    def open_request_ids(self) -> list[str]: ...

    def set_last_digest(self, request_id: str, at: str) -> None: ...


class UploadPresigner(Protocol):
    def __call__(self, *, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """{"url": ..., "fields": {...}} for a browser form POST of exactly that key and type."""
        ...


@dataclass
class RunResult:
    sent: list[str] = field(default_factory=list)  # addresses emailed
    failed: list[str] = field(default_factory=list)
    skipped: int = 0


def _today(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


@dataclass
class CollectRequestService:
    store: RequestStore
    mailer: Mailer
    presign: UploadPresigner
    resolve_schema: Callable[[str], Schema]  # built-in or stored name -> Schema; SchemaError if unknown
    link_base_url: str  # where the partner page is served, e.g. https://api.example/prod
    max_upload_bytes: int
    grace_days: int = DEFAULT_GRACE_DAYS
    presign_ttl_seconds: int = PRESIGN_TTL_SECONDS
    reminder_policy: ReminderPolicy = field(default_factory=ReminderPolicy)
    read_report: Callable[[str], Mapping[str, Any] | None] | None = None  # report.json by S3 key
    # The datastore, to check a request's destination dataset; without them dataset_id is refused.
    catalog: CatalogStore | None = None
    grants: GrantStore | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    # -- requesters -------------------------------------------------------------------------------

    def schema_exists(self, name: str) -> bool:
        try:
            self.resolve_schema(name)
        except (SchemaError, OSError, ValueError):
            return False
        return True

    def today(self) -> date:
        """The requester's current UTC date: a request's due date may be today, not earlier."""
        return _today(self.clock())

    def create(self, spec: RequestSpec, requester: Requester) -> dict[str, Any]:
        """Store a checked request (witan.api.bodies.CreateCollectRequest) and invite its recipients.
        Invitations are best effort: a refused address is reported, and the requester can reissue
        that recipient's link."""
        now = self.clock()
        new = build_request(spec, requester, now=now, grace_days=self.grace_days)
        made = None
        if spec.dataset_id:
            new.stamp(
                dataset_owner_org=self._destination_owner(spec, requester, now),
                destination_checked_at=iso(now),
            )
        else:
            made = self._new_destination(spec, requester, new, now)
            if made is None and spec.share_with:
                raise NoDestinationError()
        self.store.create(new)
        if made is not None:
            # After the request (and its audit event, which names it) is stored: a failure here leaves
            # a request whose valid uploads are kept under curated/ (the validator records why).
            try:
                self.catalog.create(*made)  # type: ignore[union-attr]
            except Exception:
                logger.exception("destination dataset not created", extra={"dataset_id": made[0].id})
                new.stamp(dataset_id=None)
        recipients = []
        for sub in new.submissions:
            link = partner_link(self.link_base_url, new.raw_tokens[sub.submission_id])
            sent = self._send(invitation_email(new.request, sub.uploader_email, sub.uploader_name, link))
            recipients.append(
                {
                    "submission_id": sub.submission_id,
                    "email": sub.uploader_email,
                    "name": sub.uploader_name,
                    "organisation": sub.uploader_organisation,
                    "invited": sent,
                }
            )
        return {"request": request_summary(new.request), "recipients": recipients}

    def _destination_owner(self, spec: RequestSpec, requester: Requester, now: datetime) -> str:
        """The destination's owner organisation, once the requester is shown to be allowed to add
        versions to it and share it as asked (a catalogue error otherwise)."""
        if self.catalog is None or self.grants is None or spec.dataset_id is None:
            raise DestinationUnavailableError()
        dataset = self.catalog.get(spec.dataset_id)
        grants = self.grants.grants_for(spec.dataset_id) if dataset is not None else []
        principal = Principal(sub=requester.sub, email=requester.email, groups=tuple(requester.groups))
        share = [(s.type, s.id) for s in spec.share_with]
        return check_destination(principal, spec.dataset_id, dataset, grants, share, now)

    def _new_destination(
        self, spec: RequestSpec, requester: Requester, new: NewRequest, now: datetime
    ) -> tuple[Dataset, MetadataVersion] | None:
        """A dataset for a request that names none, owned by the requester's organisation, so that the
        collected data lands in the datastore; None (Parquet under curated/ only) when the datastore is
        not wired or the requester is not in exactly one organisation (whose would it be?)."""
        orgs = Principal(requester.sub, requester.email, tuple(requester.groups)).organisations
        if self.catalog is None or self.grants is None or len(orgs) != 1:
            return None
        dataset, meta = request_dataset(
            new.request_id,
            spec.title,
            spec.message,
            spec.schema,
            self.resolve_schema(spec.schema),
            owner_org=orgs[0],
            creator_sub=requester.sub,
            now=now,
        )
        new.stamp(
            dataset_id=dataset.id,
            dataset_owner_org=dataset.owner_org,
            destination_checked_at=iso(now),
            dataset_created=True,
        )
        return dataset, meta

    def list_requests(
        self, requester_sub: str, *, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        limit = max(1, min(int(limit), 100))
        requests, next_cursor = self.store.list_by_requester(requester_sub, limit=limit, cursor=cursor)
        return {"requests": [request_summary(r) for r in requests], "next_cursor": next_cursor}

    def owned_request(self, request_id: str, actor_sub: str, is_admin: bool) -> RequestRecord:
        """The request if the caller may manage it; NotFoundError otherwise."""
        request = self.store.get_request(request_id)
        if request is None or not can_manage(request, actor_sub, is_admin=is_admin):
            raise NotFoundError("no such request")  # someone else's request is not acknowledged either
        return request

    def tracking(self, request_id: str, actor_sub: str, *, is_admin: bool = False) -> dict[str, Any]:
        self.owned_request(request_id, actor_sub, is_admin)
        tracking = compute_tracking(self.store.request_items(request_id))
        return {"request": request_summary(tracking.request), **tracking.to_dict()}

    def close(
        self, request_id: str, actor_sub: str, *, is_admin: bool = False, groups: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Close: the requester, an admin, or a member of the destination dataset's owner organisation."""
        request = self.closable_request(request_id, actor_sub, groups, is_admin=is_admin)
        return self._set_finished(request, RequestStatus.CLOSED)

    def closable_request(
        self, request_id: str, actor_sub: str, groups: tuple[str, ...] = (), *, is_admin: bool = False
    ) -> RequestRecord:
        """The request if the caller may close it; NotFoundError otherwise (as for anyone else's)."""
        request = self.store.get_request(request_id)
        if request is None or not can_close(request, actor_sub, tuple(groups), is_admin=is_admin):
            raise NotFoundError("no such request")
        return request

    def cancel(self, request_id: str, actor_sub: str, *, is_admin: bool = False) -> dict[str, Any]:
        """Cancel and revoke every link: a cancelled request should not even show its content."""
        result = self._finish(request_id, RequestStatus.CANCELLED, actor_sub, is_admin)
        self.store.revoke_tokens(request_id, None, iso(self.clock()))
        return result

    def _finish(
        self, request_id: str, status: RequestStatus, actor_sub: str, is_admin: bool
    ) -> dict[str, Any]:
        return self._set_finished(self.owned_request(request_id, actor_sub, is_admin), status)

    def _set_finished(self, request: RequestRecord, status: RequestStatus) -> dict[str, Any]:
        if not self.store.set_status(request.request_id, status, iso(self.clock())):
            raise RequestNotOpenError(f"the request is already {request.status or 'finished'}")
        return request_summary(self.store.get_request(request.request_id) or request)

    def revoke_link(
        self, request_id: str, submission_id: str, actor_sub: str, *, is_admin: bool = False
    ) -> int:
        self.owned_request(request_id, actor_sub, is_admin)
        return self.store.revoke_tokens(request_id, submission_id, iso(self.clock()))

    def reissue_link(
        self, request_id: str, submission_id: str, actor_sub: str, *, is_admin: bool = False
    ) -> bool:
        """Revoke the recipient's links and email a new one (a link was forwarded, or mail was lost)."""
        request = self.owned_request(request_id, actor_sub, is_admin)
        if not request.accepts_uploads:
            raise RequestNotOpenError("links can only be reissued while the request is open")
        sub, _ = self.store.submission_items(request_id, submission_id)
        if sub is None:
            raise NotFoundError("no such recipient")
        now = self.clock()
        self.store.revoke_tokens(request_id, submission_id, iso(now))
        link = self._new_link(request, submission_id, now)
        return self._send(invitation_email(request, sub.uploader_email, sub.uploader_name, link))

    def _new_link(self, request: RequestRecord, submission_id: str, now: datetime) -> str:
        token = new_token()
        grace = self.grace_days if request.grace_days is None else request.grace_days
        self.store.put_token(
            token_record(
                request.request_id,
                submission_id,
                token,
                due_date=date.fromisoformat(request.due_date),
                grace_days=grace,
                now=now,
            )
        )
        return partner_link(self.link_base_url, token)

    def _send(self, email: Any) -> bool:
        try:
            self.mailer.send(email)
        except Exception:
            logger.exception("collect email not sent")  # the exception never contains the link
            return False
        return True

    # -- partners (capability token) --------------------------------------------------------------

    def _grant(self, token: str) -> tuple[TokenGrant, RequestRecord]:
        token_hash = hash_token(token if isinstance(token, str) else "")  # hash first, then look up
        grant = grant_from_record(self.store.find_token(token_hash), token_hash, self.clock())
        request = self.store.get_request(grant.request_id) if grant else None
        if grant is None or request is None or request.status == RequestStatus.CANCELLED:
            raise NotFoundError("this link is not valid: it may have expired or been replaced")
        return grant, request

    def granted(self, token: str) -> TokenGrant | None:
        """What a token names (request and submission), for the audit trail; None if nothing."""
        token_hash = hash_token(token if isinstance(token, str) else "")
        found = self.store.find_token(token_hash)
        return grant_from_record(found, token_hash, self.clock()) if found else None

    def _submission(self, grant: TokenGrant) -> tuple[SubmissionRecord, list[CheckRecord]]:
        sub, checks = self.store.submission_items(grant.request_id, grant.submission_id)
        if sub is None:
            raise NotFoundError("this link is not valid: it may have expired or been replaced")
        return sub, checks

    def open_link(self, token: str) -> dict[str, Any]:
        """`GET /collect/{token}`: what is asked; records that the recipient opened the link."""
        grant, request = self._grant(token)
        sub, _ = self._submission(grant)
        self.store.mark_opened(grant.request_id, grant.submission_id, iso(self.clock()))
        expires = datetime.fromtimestamp(grant.expires_at, UTC)
        return partner_view(
            request,
            sub,
            self.resolve_schema(request.schema),
            max_upload_bytes=self.max_upload_bytes,
            link_expires_at=iso(expires),
        )

    def template(self, token: str) -> tuple[bytes, str]:
        """(xlsx bytes, download file name) for the request's schema."""
        _, request = self._grant(token)
        schema = self.resolve_schema(request.schema)
        stem = request.schema.rsplit(":", 1)[-1] or "template"  # "stored:survey" -> "survey"
        data = template_xlsx(schema, sheet=request.sheet, title=request.title)
        return data, f"{stem}-template.xlsx"

    def presign_upload(self, token: str, file_name: str | None, size: int | None = None) -> dict[str, Any]:
        """`POST /collect/{token}/uploads` with {"file_name": ...}: a presigned POST for that file."""
        grant, request = self._grant(token)
        if not request.accepts_uploads:
            raise RequestNotOpenError(f"this request is {request.status} and takes no more uploads")
        if size is not None and size > self.max_upload_bytes:
            raise FileTooLargeError(
                f"files up to {self.max_upload_bytes / 1_048_576:.0f} MB can be uploaded",
            )
        target = upload_target(grant.request_id, grant.submission_id, file_name)
        post = self.presign(
            key=target.key,
            content_type=target.content_type,
            max_bytes=self.max_upload_bytes,
            expires_in=self.presign_ttl_seconds,
        )
        expires = self.clock() + timedelta(seconds=self.presign_ttl_seconds)
        return {
            "url": post["url"],
            "fields": post["fields"],
            "key": target.key,
            "file_name": target.file_name,
            "content_type": target.content_type,
            "max_bytes": self.max_upload_bytes,
            "expires_at": iso(expires),
        }

    def partner_submissions(self, token: str) -> dict[str, Any]:
        """`GET /collect/{token}/submissions`: status, upload history, and the latest check's first errors."""
        grant, _ = self._grant(token)
        sub, checks = self._submission(grant)
        history = submission_history(sub, checks)
        history["errors"] = []
        latest = history["submissions"][0] if history["submissions"] else None
        if latest and self.read_report and latest.get("report_keys", {}).get("json"):
            report = self.read_report(latest["report_keys"]["json"]) or {}
            errors = report.get("errors") or []
            history["errors"] = [
                {k: e.get(k) for k in ("row", "column", "field", "code", "message", "value") if k in e}
                for e in errors[:PARTNER_ERRORS_SHOWN]
                if isinstance(e, Mapping)
            ]
        return history

    # -- scheduled jobs ---------------------------------------------------------------------------

    def _open_trackings(self) -> list[RequestTracking]:
        out = []
        for rid in self.store.open_request_ids():
            parts = self.store.request_items(rid)
            if any(isinstance(p, RequestRecord) for p in parts):
                out.append(compute_tracking(parts))
        return out

    def run_reminders(self) -> RunResult:
        """Daily: remind recipients as the policy says; each reminder carries a fresh link."""
        now = self.clock()
        today = _today(now)
        result = RunResult()
        for tracking in self._open_trackings():
            for r in reminders_due(tracking, today, self.reminder_policy):
                if not self.store.mark_reminded(tracking.request_id, r.submission_id, today.isoformat()):
                    result.skipped += 1
                    continue
                link = self._new_link(tracking.request, r.submission_id, now)
                email = reminder_email(tracking.request, r.email, r.name, link, today=today, state=r.state)
                (result.sent if self._send(email) else result.failed).append(r.email)
        return result

    def run_digests(self) -> RunResult:
        """Daily: one summary per requester of what changed on their open requests since the last."""
        now = self.clock()
        result = RunResult()
        for trackings in group_by_requester(self._open_trackings()).values():
            changes = digest_changes(trackings)
            if not changes:
                result.skipped += 1
                continue
            request = trackings[0].request
            email = digest_email(request.requester_email, request.requester_name, changes, day=_today(now))
            if self._send(email):
                result.sent.append(email.to)
                for t in trackings:
                    self.store.set_last_digest(t.request_id, iso(now))
            else:
                result.failed.append(email.to)
        return result
