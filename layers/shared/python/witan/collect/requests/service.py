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
from witan.collect.requests.body import (
    NewRequest,
    Requester,
    RequestStatus,
    accepts_uploads,
    build_request,
    can_close,
    can_manage,
    iso,
    request_summary,
    token_item,
    validate_body,
)
from witan.collect.requests.invitations import digest_email, invitation_email, partner_link, reminder_email
from witan.collect.requests.partner import partner_view, submission_history, upload_target
from witan.collect.requests.reminders import ReminderPolicy, digest_changes, group_by_requester, reminders_due
from witan.collect.requests.template import template_xlsx
from witan.collect.requests.tokens import (
    DEFAULT_GRACE_DAYS,
    TokenGrant,
    grant_from_item,
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
        """Write every item of a new request atomically."""
        ...

    def get_meta(self, request_id: str) -> dict[str, Any] | None: ...

    def request_items(self, request_id: str) -> list[dict[str, Any]]:
        """Every item under `REQUEST#{id}` (META, submissions, checks, tokens)."""
        ...

    def submission_items(self, request_id: str, submission_id: str) -> list[dict[str, Any]]:
        """The submission item followed by its check items."""
        ...

    def list_by_requester(
        self, requester_sub: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def set_status(self, request_id: str, status: RequestStatus, at: str) -> bool:
        """Move an open request to `status` (and drop it from the open list); False if not open."""
        ...

    def find_token(self, token_hash: str) -> dict[str, Any] | None: ...

    def put_token(self, item: dict[str, Any]) -> None: ...

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

    def create(self, body: Any, requester: Requester) -> dict[str, Any]:
        """Validate, store, invite. Invitations are best effort: a refused address is reported, and
        the requester can reissue that recipient's link."""
        now = self.clock()
        spec = validate_body(body, today=_today(now), schema_exists=self.schema_exists)
        new = build_request(spec, requester, now=now, grace_days=self.grace_days)
        made = None
        if spec.dataset_id:
            new.meta["dataset_owner_org"] = self._destination_owner(spec, requester, now)
            new.meta["destination_checked_at"] = iso(now)
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
                new.meta.pop("dataset_id", None)
        recipients = []
        for sub in new.submissions:
            sid = sub["submission_id"]
            link = partner_link(self.link_base_url, new.raw_tokens[sid])
            sent = self._send(invitation_email(new.meta, sub, link))
            recipients.append(
                {
                    "submission_id": sid,
                    "email": sub["uploader_email"],
                    "name": sub.get("uploader_name"),
                    "organisation": sub.get("uploader_organisation"),
                    "invited": sent,
                }
            )
        return {"request": request_summary(new.meta), "recipients": recipients}

    def _destination_owner(self, spec: Any, requester: Requester, now: datetime) -> str:
        """The destination's owner organisation, once the requester is shown to be allowed to add
        versions to it and share it as asked (a catalogue error otherwise)."""
        if self.catalog is None or self.grants is None:
            raise DestinationUnavailableError()
        dataset = self.catalog.get(spec.dataset_id)
        grants = self.grants.grants_for(spec.dataset_id) if dataset is not None else []
        principal = Principal(sub=requester.sub, email=requester.email, groups=tuple(requester.groups))
        share = [(s.type, s.id) for s in spec.share_with]
        return check_destination(principal, spec.dataset_id, dataset, grants, share, now)

    def _new_destination(
        self, spec: Any, requester: Requester, new: NewRequest, now: datetime
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
        new.meta |= {
            "dataset_id": dataset.id,
            "dataset_owner_org": dataset.owner_org,
            "destination_checked_at": iso(now),
            "dataset_created": True,
        }
        return dataset, meta

    def list_requests(
        self, requester_sub: str, *, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        limit = max(1, min(int(limit), 100))
        metas, next_cursor = self.store.list_by_requester(requester_sub, limit=limit, cursor=cursor)
        return {"requests": [request_summary(m) for m in metas], "next_cursor": next_cursor}

    def _owned_meta(self, request_id: str, actor_sub: str, is_admin: bool) -> dict[str, Any]:
        meta = self.store.get_meta(request_id)
        if meta is None or not can_manage(meta, actor_sub, is_admin=is_admin):
            raise NotFoundError("no such request")  # someone else's request is not acknowledged either
        return meta

    def tracking(self, request_id: str, actor_sub: str, *, is_admin: bool = False) -> dict[str, Any]:
        self._owned_meta(request_id, actor_sub, is_admin)
        tracking = compute_tracking(self.store.request_items(request_id))
        return {"request": request_summary(tracking.meta), **tracking.to_dict()}

    def close(
        self, request_id: str, actor_sub: str, *, is_admin: bool = False, groups: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Close: the requester, an admin, or a member of the destination dataset's owner organisation."""
        meta = self.closable_meta(request_id, actor_sub, groups, is_admin=is_admin)
        return self._set_finished(request_id, meta, RequestStatus.CLOSED)

    def closable_meta(
        self, request_id: str, actor_sub: str, groups: tuple[str, ...] = (), *, is_admin: bool = False
    ) -> dict[str, Any]:
        """The request's META if the caller may close it; NotFoundError otherwise (as for anyone else's)."""
        meta = self.store.get_meta(request_id)
        if meta is None or not can_close(meta, actor_sub, tuple(groups), is_admin=is_admin):
            raise NotFoundError("no such request")
        return meta

    def cancel(self, request_id: str, actor_sub: str, *, is_admin: bool = False) -> dict[str, Any]:
        """Cancel and revoke every link: a cancelled request should not even show its content."""
        result = self._finish(request_id, RequestStatus.CANCELLED, actor_sub, is_admin)
        self.store.revoke_tokens(request_id, None, iso(self.clock()))
        return result

    def _finish(
        self, request_id: str, status: RequestStatus, actor_sub: str, is_admin: bool
    ) -> dict[str, Any]:
        meta = self._owned_meta(request_id, actor_sub, is_admin)
        return self._set_finished(request_id, meta, status)

    def _set_finished(self, request_id: str, meta: dict[str, Any], status: RequestStatus) -> dict[str, Any]:
        if not self.store.set_status(request_id, status, iso(self.clock())):
            raise RequestNotOpenError(f"the request is already {meta.get('status', 'finished')}")
        return request_summary(self.store.get_meta(request_id) or meta)

    def revoke_link(
        self, request_id: str, submission_id: str, actor_sub: str, *, is_admin: bool = False
    ) -> int:
        self._owned_meta(request_id, actor_sub, is_admin)
        return self.store.revoke_tokens(request_id, submission_id, iso(self.clock()))

    def reissue_link(
        self, request_id: str, submission_id: str, actor_sub: str, *, is_admin: bool = False
    ) -> bool:
        """Revoke the recipient's links and email a new one (a link was forwarded, or mail was lost)."""
        meta = self._owned_meta(request_id, actor_sub, is_admin)
        if not accepts_uploads(meta):
            raise RequestNotOpenError("links can only be reissued while the request is open")
        items = self.store.submission_items(request_id, submission_id)
        sub = next((i for i in items if i.get("type") == "submission"), None)
        if sub is None:
            raise NotFoundError("no such recipient")
        now = self.clock()
        self.store.revoke_tokens(request_id, submission_id, iso(now))
        link = self._new_link(meta, submission_id, now)
        return self._send(invitation_email(meta, sub, link))

    def _new_link(self, meta: Mapping[str, Any], submission_id: str, now: datetime) -> str:
        token = new_token()
        self.store.put_token(
            token_item(
                str(meta["request_id"]),
                submission_id,
                token,
                due_date=date.fromisoformat(str(meta["due_date"])),
                grace_days=int(meta.get("grace_days", self.grace_days)),
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

    def _grant(self, token: str) -> tuple[TokenGrant, dict[str, Any]]:
        token_hash = hash_token(token if isinstance(token, str) else "")  # hash first, then look up
        grant = grant_from_item(self.store.find_token(token_hash), token_hash, self.clock())
        meta = self.store.get_meta(grant.request_id) if grant else None
        if grant is None or meta is None or meta.get("status") == RequestStatus.CANCELLED:
            raise NotFoundError("this link is not valid: it may have expired or been replaced")
        return grant, meta

    def _submission(self, grant: TokenGrant) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        items = self.store.submission_items(grant.request_id, grant.submission_id)
        sub = next((i for i in items if i.get("type") == "submission"), None)
        if sub is None:
            raise NotFoundError("this link is not valid: it may have expired or been replaced")
        return sub, items

    def open_link(self, token: str) -> dict[str, Any]:
        """`GET /collect/{token}`: what is asked; records that the recipient opened the link."""
        grant, meta = self._grant(token)
        sub, _ = self._submission(grant)
        self.store.mark_opened(grant.request_id, grant.submission_id, iso(self.clock()))
        expires = datetime.fromtimestamp(grant.expires_at, UTC)
        return partner_view(
            meta,
            sub,
            self.resolve_schema(str(meta["schema"])),
            max_upload_bytes=self.max_upload_bytes,
            link_expires_at=iso(expires),
        )

    def template(self, token: str) -> tuple[bytes, str]:
        """(xlsx bytes, download file name) for the request's schema."""
        _, meta = self._grant(token)
        schema = self.resolve_schema(str(meta["schema"]))
        stem = str(meta["schema"]).rsplit(":", 1)[-1] or "template"  # "stored:survey" -> "survey"
        data = template_xlsx(schema, sheet=meta.get("sheet"), title=str(meta.get("title", "")))
        return data, f"{stem}-template.xlsx"

    def presign_upload(self, token: str, body: Any) -> dict[str, Any]:
        """`POST /collect/{token}/uploads` with {"file_name": ...}: a presigned POST for that file."""
        grant, meta = self._grant(token)
        if not accepts_uploads(meta):
            raise RequestNotOpenError(f"this request is {meta.get('status')} and takes no more uploads")
        file_name = body.get("file_name") if isinstance(body, Mapping) else None
        size = body.get("size") if isinstance(body, Mapping) else None
        if isinstance(size, int) and not isinstance(size, bool) and size > self.max_upload_bytes:
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
        _, items = self._submission(grant)
        history = submission_history(items)
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
            items = self.store.request_items(rid)
            if any(i.get("type") == "request" for i in items):
                out.append(compute_tracking(items))
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
                link = self._new_link(tracking.meta, r.submission_id, now)
                sub = {"uploader_email": r.email, "uploader_name": r.name}
                email = reminder_email(tracking.meta, sub, link, today=today, state=r.state)
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
            meta = trackings[0].meta
            email = digest_email(
                str(meta["requester_email"]), meta.get("requester_name"), changes, day=_today(now)
            )
            if self._send(email):
                result.sent.append(email.to)
                for t in trackings:
                    self.store.set_last_digest(t.request_id, iso(now))
            else:
                result.failed.append(email.to)
        return result
