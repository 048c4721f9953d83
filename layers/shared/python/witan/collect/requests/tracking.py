"""The requester's tracking view: per recipient, how far they got; computed from the stored items.

Pure: takes the items of one request (META, SUBMISSION, CHECK, TOKEN, as the store returns for
`pk = REQUEST#{id}`) and returns plain dicts ready for JSON. The submission item's status is the
latest upload's (the validator keeps it ordered); the check items give history: how many uploads,
when the last one came, whether any was ever valid, and which dataset versions the valid ones became
(the check item records `dataset_id`/`dataset_version` once an upload was delivered).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
    meta: dict[str, Any]
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
            "status": self.meta.get("status", "open"),
            "due_date": self.meta.get("due_date"),
            "totals": self.totals,
            "recipients": [r.to_dict() for r in self.recipients],
            "dataset_versions": list(self.dataset_versions),
        }


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def compute_tracking(items: Iterable[Mapping[str, Any]]) -> RequestTracking:
    """Tracking for one request from all its items (any order). ValueError without a META item."""
    meta: dict[str, Any] | None = None
    subs: dict[str, RecipientTracking] = {}
    checks: list[Mapping[str, Any]] = []
    tokens: dict[str, list[Mapping[str, Any]]] = {}
    latest: dict[str, str] = {}  # submission id -> the version key of its latest upload
    for item in items:
        kind = item.get("type")
        if kind == "request":
            meta = dict(item)
        elif kind == "submission":
            subs[str(item["submission_id"])] = _recipient(item)
            if item.get("latest_version"):
                latest[str(item["submission_id"])] = str(item["latest_version"])
        elif kind == "check":
            checks.append(item)
        elif kind == "token":
            tokens.setdefault(str(item["submission_id"]), []).append(item)
    if meta is None:
        raise ValueError("no request META item among the items")
    versions: list[dict[str, Any]] = []
    for check in checks:
        r = subs.get(str(check.get("submission_id")))
        if r is None:
            continue
        r.uploads += 1
        at = check.get("started_at") or check.get("checked_at")
        if at and (r.last_submission_at is None or str(at) > r.last_submission_at):
            r.last_submission_at = str(at)
        r.ever_valid = r.ever_valid or check.get("status") == "valid"
        version = _int(check.get("dataset_version"))
        if version is None or not check.get("dataset_id"):
            continue
        r.dataset_versions.append(version)
        r.dataset_id = str(check["dataset_id"])
        if check.get("version_key") == latest.get(r.submission_id):
            r.dataset_version = version
        versions.append(
            {
                "dataset_id": r.dataset_id,
                "version": version,
                "submission_id": r.submission_id,
                "file_name": check.get("file_name"),
                "checked_at": check.get("checked_at"),
            }
        )
    for r in subs.values():
        r.dataset_versions.sort()
        if r.submitted and r.last_submission_at is None:
            r.last_submission_at = r.status_at  # no check item yet (or it was not read): best we know
    for sid, held in tokens.items():
        if sid in subs:  # a recipient's links: revoked when all are; usable until the last expires
            subs[sid].link_revoked = all(t.get("revoked_at") for t in held)
            subs[sid].link_expires_at = max(int(t.get("token_expires_at", 0)) for t in held)
    ordered = sorted(subs.values(), key=lambda r: (r.invited_at or "", r.email.lower()))
    versions.sort(key=lambda v: (v["dataset_id"], v["version"]))
    return RequestTracking(str(meta["request_id"]), meta, ordered, versions)


def _recipient(item: Mapping[str, Any]) -> RecipientTracking:
    status = str(item.get("status") or "awaiting-upload")
    r = RecipientTracking(
        submission_id=str(item["submission_id"]),
        email=str(item.get("uploader_email", "")),
        name=str(item.get("uploader_name") or ""),
        organisation=str(item.get("uploader_organisation") or ""),
        invited_at=item.get("invited_at"),
        opened_at=item.get("opened_at"),
        latest_file_name=item.get("latest_file_name"),
        rows=_int(item.get("rows")),
        error_count=_int(item.get("error_count")),
        counts={str(k): int(v) for k, v in (item.get("counts") or {}).items()},
        report_keys={str(k): str(v) for k, v in (item.get("report_keys") or {}).items()},
        last_reminded_on=item.get("last_reminded_on"),
        status_at=item.get("status_at"),
    )
    r.submitted = status in (*FINISHED, "checking") or bool(item.get("latest_version"))
    r.valid = status == "valid"
    r.invalid = status in ("invalid", "unusable")
    if r.submitted:
        r.state = status
    elif r.opened_at:
        r.state = "opened"
    return r
