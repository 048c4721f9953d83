"""The requester's tracking view: per recipient, how far they got; computed from the stored items.

Pure: takes the records of one request (the request, its submissions, checks and tokens, as the store
returns them) and returns plain dicts ready for JSON. The submission item's status is the
latest upload's (the validator keeps it ordered); the check items give history: how many uploads,
when the last one came, whether any was ever valid, and which dataset versions the valid ones became
(the check records `dataset_id`/`dataset_version` once an upload was delivered).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from witan.collect.records import CheckRecord
from witan.collect.requests.records import RequestPart, RequestRecord, SubmissionRecord, TokenRecord

FINISHED = ("valid", "invalid", "unusable")


@dataclass
class RecipientTracking:
    submission_id: str
    email: str
    name: str = ""
    organisation: str = ""
    state: str = "invited"  # invited | opened | checking | valid | invalid | unusable
    invited_at: str | None = None
    opened_at: str | None = None
    submitted: bool = False
    valid: bool = False  # the latest upload passed
    invalid: bool = False  # the latest upload failed (invalid or unusable)
    ever_valid: bool = False
    uploads: int = 0
    last_submission_at: str | None = None
    latest_file_name: str | None = None
    rows: int | None = None
    error_count: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    report_keys: dict[str, str] = field(default_factory=dict)
    last_reminded_on: str | None = None
    status_at: str | None = None
    link_revoked: bool = False
    link_expires_at: int | None = None
    dataset_id: str | None = None  # the destination dataset, once an upload of theirs became a version
    dataset_version: int | None = None  # the version the latest upload became (absent if it did not)
    dataset_versions: list[int] = field(default_factory=list)  # every version their uploads became

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class RequestTracking:
    request_id: str
    request: RequestRecord
    recipients: list[RecipientTracking]
    dataset_versions: list[dict[str, Any]] = field(default_factory=list)  # oldest version first

    @property
    def totals(self) -> dict[str, int]:
        out = {"recipients": len(self.recipients), "opened": 0, "submitted": 0, "valid": 0, "invalid": 0}
        for r in self.recipients:
            out["opened"] += r.opened_at is not None or r.submitted
            out["submitted"] += r.submitted
            out["valid"] += r.valid
            out["invalid"] += r.invalid
        out["outstanding"] = out["recipients"] - out["valid"]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "status": str(self.request.status),
            "due_date": self.request.due_date,
            "totals": self.totals,
            "recipients": [r.to_dict() for r in self.recipients],
            "dataset_versions": list(self.dataset_versions),
        }


def compute_tracking(parts: Iterable[RequestPart]) -> RequestTracking:
    """Tracking for one request from all its records (any order). ValueError without the request."""
    request: RequestRecord | None = None
    subs: dict[str, RecipientTracking] = {}
    checks: list[CheckRecord] = []
    tokens: dict[str, list[TokenRecord]] = {}
    latest: dict[str, str] = {}  # submission id -> the version key of its latest upload
    for part in parts:
        if isinstance(part, RequestRecord):
            request = part
        elif isinstance(part, SubmissionRecord):
            subs[part.submission_id] = _recipient(part)
            if part.latest_version:
                latest[part.submission_id] = part.latest_version
        elif isinstance(part, CheckRecord):
            checks.append(part)
        else:
            tokens.setdefault(part.submission_id, []).append(part)
    if request is None:
        raise ValueError("no request record among the records (the META item)")
    versions: list[dict[str, Any]] = []
    for check in checks:
        r = subs.get(check.submission_id)
        if r is None:
            continue
        r.uploads += 1
        at = check.started_at or check.checked_at
        if at and (r.last_submission_at is None or at > r.last_submission_at):
            r.last_submission_at = at
        r.ever_valid = r.ever_valid or check.status == "valid"
        version = check.dataset_version
        if version is None or not check.dataset_id:
            continue
        r.dataset_versions.append(version)
        r.dataset_id = check.dataset_id
        if check.version_key == latest.get(r.submission_id):
            r.dataset_version = version
        versions.append(
            {
                "dataset_id": r.dataset_id,
                "version": version,
                "submission_id": r.submission_id,
                "file_name": check.file_name,
                "checked_at": check.checked_at,
            }
        )
    for r in subs.values():
        r.dataset_versions.sort()
        if r.submitted and r.last_submission_at is None:
            r.last_submission_at = r.status_at  # no check record yet (or it was not read): best we know
    for sid, held in tokens.items():
        if sid in subs:  # a recipient's links: revoked when all are; usable until the last expires
            subs[sid].link_revoked = all(t.revoked_at for t in held)
            subs[sid].link_expires_at = max(t.token_expires_at for t in held)
    ordered = sorted(subs.values(), key=lambda r: (r.invited_at or "", r.email.lower()))
    versions.sort(key=lambda v: (v["dataset_id"], v["version"]))
    return RequestTracking(request.request_id, request, ordered, versions)


def _recipient(sub: SubmissionRecord) -> RecipientTracking:
    status = sub.status or "awaiting-upload"
    r = RecipientTracking(
        submission_id=sub.submission_id,
        email=sub.uploader_email,
        name=sub.uploader_name or "",
        organisation=sub.uploader_organisation or "",
        invited_at=sub.invited_at,
        opened_at=sub.opened_at,
        latest_file_name=sub.latest_file_name,
        rows=sub.rows,
        error_count=sub.error_count,
        counts=dict(sub.counts),
        report_keys=dict(sub.report_keys),
        last_reminded_on=sub.last_reminded_on,
        status_at=sub.status_at,
    )
    r.submitted = status in (*FINISHED, "checking") or bool(sub.latest_version)
    r.valid = status == "valid"
    r.invalid = status in ("invalid", "unusable")
    if r.submitted:
        r.state = status
    elif r.opened_at:
        r.state = "opened"
    return r
