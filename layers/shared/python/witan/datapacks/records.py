"""Datapacks: a draft names its members (dataset files, dataset metadata, model runs, its own files);
sealing pins every member's bytes by hash in a manifest and never changes again.

Pure: functions here build new records from old ones; `witan.aws.datapacks_table` keeps them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from witan.errors import (
    DuplicateMemberError,
    EmptyPackError,
    MemberNotFoundError,
    MissingFieldError,
    PackSealedError,
    TooManyMembersError,
    UnknownFieldError,
)

PACK_ID_PATTERN = r"^[0-9a-f]{32}$"
MEMBER_ID_PATTERN = r"^m[0-9]{1,4}$"
MAX_MEMBERS = 200
_PACK_ID = re.compile(PACK_ID_PATTERN)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class Role(StrEnum):
    """What a member is to the analysis."""

    INPUT = "input"
    OUTPUT = "output"
    SCRIPT = "script"
    CHART = "chart"
    REPORT = "report"
    OTHER = "other"


class MemberKind(StrEnum):
    DATASET_FILE = "dataset-file"  # one file version of a catalog dataset, pinned
    DATASET_METADATA = "dataset-metadata"  # a dataset's metadata only (its bytes never enter the pack)
    MODEL_RUN = "model-run"  # a run: its inputs, plan (parameters, seed, code version) and outputs
    PACK_FILE = "pack-file"  # a file of the pack's own (script, notebook, chart, report)


class PackStatus(StrEnum):
    DRAFT = "draft"
    SEALED = "sealed"


def new_pack_id() -> str:
    return uuid.uuid4().hex


def valid_pack_id(value: str) -> bool:
    return bool(_PACK_ID.match(value))


def safe_name(name: str) -> str:
    """A file name safe inside a zip and an S3 key (no folders, no dots first)."""
    cleaned = _SAFE_NAME.sub("_", name).lstrip("._") or "file"
    return cleaned[:128]


@dataclass(frozen=True)
class Member:
    """One thing a pack holds. Which fields are set depends on `kind`."""

    id: str
    kind: MemberKind
    role: Role
    caption: str
    added_by: str
    added_at: datetime
    dataset_id: str | None = None
    version: int | None = None  # dataset file version
    s3_version_id: str | None = None  # the object version of that file when it was added
    key: str | None = None  # S3 key: the dataset file, or the pack's own upload
    file_name: str | None = None
    content_type: str | None = None
    personal: bool = False  # personal data: stays in its dataset; only its own grantees get the bytes
    run_id: str | None = None
    metadata: dict[str, Any] | None = None  # dataset-metadata members: the metadata as added

    @property
    def folder(self) -> str:
        """Where the member's files go inside the pack."""
        if self.kind is MemberKind.MODEL_RUN:
            return f"runs/{self.run_id}/"
        if self.kind is MemberKind.PACK_FILE:
            return "files/"
        return f"datasets/{self.dataset_id}/{self.version or 'metadata'}/"

    @property
    def path(self) -> str | None:
        """The one file a file member becomes (None for runs and metadata-only members)."""
        if self.kind in (MemberKind.DATASET_FILE, MemberKind.PACK_FILE) and self.file_name:
            return self.folder + self.file_name
        return None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value,
            "role": self.role.value,
            "caption": self.caption,
            "added_by": self.added_by,
            "added_at": self.added_at.isoformat(),
            "personal": self.personal,
        }
        for name in ("dataset_id", "version", "s3_version_id", "key", "file_name", "content_type", "run_id"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.metadata is not None:
            out["metadata"] = self.metadata
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Member:
        return cls(
            id=data["id"],
            kind=MemberKind(data["kind"]),
            role=Role(data["role"]),
            caption=data.get("caption", ""),
            added_by=data["added_by"],
            added_at=datetime.fromisoformat(data["added_at"]),
            dataset_id=data.get("dataset_id"),
            version=data.get("version"),
            s3_version_id=data.get("s3_version_id"),
            key=data.get("key"),
            file_name=data.get("file_name"),
            content_type=data.get("content_type"),
            personal=bool(data.get("personal", False)),
            run_id=data.get("run_id"),
            metadata=data.get("metadata"),
        )


@dataclass(frozen=True)
class Pack:
    """A datapack: described, with members; once sealed, its manifest's hash vouches for every byte."""

    id: str
    owner_org: str
    title: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    summary: str = ""
    conclusions: str = ""  # Markdown
    licence: str = ""
    tags: tuple[str, ...] = ()
    supersedes: str | None = None  # the pack this edition replaces
    members: tuple[Member, ...] = ()
    next_member: int = 1
    status: PackStatus = PackStatus.DRAFT
    sealed_at: datetime | None = None
    sealed_by: str | None = None
    manifest_sha256: str | None = None
    seal_event_id: str | None = None  # the audit event that recorded the manifest's hash
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sealed(self) -> bool:
        return self.status is PackStatus.SEALED

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.id == member_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner_org": self.owner_org,
            "title": self.title,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "summary": self.summary,
            "conclusions": self.conclusions,
            "licence": self.licence,
            "tags": list(self.tags),
            "supersedes": self.supersedes,
            "members": [m.to_dict() for m in self.members],
            "next_member": self.next_member,
            "status": self.status.value,
            "sealed_at": self.sealed_at.isoformat() if self.sealed_at else None,
            "sealed_by": self.sealed_by,
            "manifest_sha256": self.manifest_sha256,
            "seal_event_id": self.seal_event_id,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pack:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            id=data["id"],
            owner_org=data["owner_org"],
            title=data["title"],
            created_by=data["created_by"],
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            summary=data.get("summary", ""),
            conclusions=data.get("conclusions", ""),
            licence=data.get("licence", ""),
            tags=tuple(data.get("tags") or ()),
            supersedes=data.get("supersedes"),
            members=tuple(Member.from_dict(m) for m in data.get("members") or ()),
            next_member=int(data.get("next_member", 1)),
            status=PackStatus(data.get("status", "draft")),
            sealed_at=when(data.get("sealed_at")),
            sealed_by=data.get("sealed_by"),
            manifest_sha256=data.get("manifest_sha256"),
            seal_event_id=data.get("seal_event_id"),
            extra=data.get("extra") or {},
        )


def create(
    pack_id: str,
    owner_org: str,
    creator_sub: str,
    now: datetime,
    *,
    title: str,
    summary: str = "",
    conclusions: str = "",
    licence: str = "",
    tags: tuple[str, ...] = (),
    supersedes: str | None = None,
) -> Pack:
    if not title.strip():
        raise MissingFieldError("a pack needs a title")
    return Pack(
        id=pack_id,
        owner_org=owner_org,
        title=title,
        created_by=creator_sub,
        created_at=now,
        updated_at=now,
        summary=summary,
        conclusions=conclusions,
        licence=licence,
        tags=tuple(tags),
        supersedes=supersedes,
    )


def require_draft(pack: Pack) -> None:
    if pack.sealed:
        raise PackSealedError()


def edit(pack: Pack, changes: dict[str, Any], now: datetime) -> Pack:
    """The draft with its description changed (title, summary, conclusions, licence, tags)."""
    require_draft(pack)
    allowed = {"title", "summary", "conclusions", "licence", "tags"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise UnknownFieldError(f"not an editable field: {', '.join(unknown)}")
    if "tags" in changes:
        changes = {**changes, "tags": tuple(changes["tags"] or ())}
    if "title" in changes and not str(changes["title"] or "").strip():
        raise MissingFieldError("a pack needs a title")
    return replace(pack, **changes, updated_at=now)


def add_member(pack: Pack, member: Member, now: datetime) -> Pack:
    """The draft with one more member; the same file, run or metadata twice is refused."""
    require_draft(pack)
    if len(pack.members) >= MAX_MEMBERS:
        raise TooManyMembersError(limit=MAX_MEMBERS)
    same = next((m for m in pack.members if _identity(m) == _identity(member)), None)
    if same is not None:
        raise DuplicateMemberError(f"already in the pack as member {same.id}")
    if member.path is not None and any(m.path == member.path for m in pack.members):
        raise DuplicateMemberError(f"a member already has the file name {member.file_name}")
    member = replace(member, id=f"m{pack.next_member}")
    return replace(pack, members=(*pack.members, member), next_member=pack.next_member + 1, updated_at=now)


def remove_member(pack: Pack, member_id: str, now: datetime) -> tuple[Pack, Member]:
    require_draft(pack)
    member = pack.member(member_id)
    if member is None:
        raise MemberNotFoundError(member_id=member_id)
    rest = tuple(m for m in pack.members if m.id != member_id)
    return replace(pack, members=rest, updated_at=now), member


def _identity(member: Member) -> tuple[Any, ...]:
    if member.kind is MemberKind.MODEL_RUN:
        return (member.kind, member.run_id)
    if member.kind is MemberKind.PACK_FILE:
        return (member.kind, member.file_name)
    return (member.kind, member.dataset_id, member.version)


def mark_sealed(pack: Pack, manifest_sha256: str, sealed_by: str, now: datetime) -> Pack:
    require_draft(pack)
    if not pack.members:
        raise EmptyPackError()
    return replace(
        pack,
        status=PackStatus.SEALED,
        sealed_at=now,
        sealed_by=sealed_by,
        manifest_sha256=manifest_sha256,
        updated_at=now,
    )
