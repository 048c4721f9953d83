"""Datasets as the catalogue knows them: metadata (versioned on every edit) and file versions.

Pure: functions here build new records from old ones; the stores in `witan.catalog.ports` keep them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from witan.errors import (
    DatasetDeletedError,
    InvalidTokenError,
    MissingFieldError,
    NoChangeError,
    UnknownFieldError,
)
from witan.settings import DATASETS_PREFIX

# Metadata a person may edit. Each PATCH of any of these writes a new metadata version.
EDITABLE_FIELDS: tuple[str, ...] = (
    "title",
    "description",
    "structure",  # column list / Table Schema of the files
    "licence",
    "creator",
    "maintainer",
    "source",
    "location",  # geography covered, e.g. "Camden (E09000007)"
    "temporal_coverage",  # {"start": "2024-01-01", "end": "2024-12-31"}
    "tags",
    "methodology",
    "ethical_use",  # notes on ethical use
    "legal_use",  # legal basis / restrictions
    "personal_data",  # does the dataset hold personal data (GDPR)?
)

DATASET_ID_PATTERN = r"^[0-9a-f]{32}$"
FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_DATASET_ID = re.compile(DATASET_ID_PATTERN)


def new_dataset_id() -> str:
    return uuid.uuid4().hex


def valid_dataset_id(value: str) -> bool:
    return bool(_DATASET_ID.match(value))


def file_key(dataset_id: str, version: int, file_name: str) -> str:
    return f"{DATASETS_PREFIX}{dataset_id}/{version}/{file_name}"


@dataclass(frozen=True)
class FileVersion:
    """One uploaded (or expected) file of a dataset; versions count up from 1."""

    dataset_id: str
    version: int
    file_name: str
    content_type: str
    max_bytes: int
    created_by: str
    created_at: datetime

    @property
    def key(self) -> str:
        return file_key(self.dataset_id, self.version, self.file_name)


@dataclass(frozen=True)
class MetadataVersion:
    """The metadata as one edit left it, and which fields that edit changed."""

    dataset_id: str
    version: int
    metadata: dict[str, Any]
    changed: tuple[str, ...]
    edited_by: str
    edited_at: datetime


@dataclass(frozen=True)
class Dataset:
    """A catalogue entry: current metadata, latest file, and soft-deletion marks."""

    id: str
    owner_org: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any]
    metadata_version: int
    file: FileVersion | None = None  # the latest file version
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.metadata.get("title", ""))

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self.metadata.get("tags") or ())

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


def create(
    dataset_id: str,
    owner_org: str,
    creator_sub: str,
    metadata: dict[str, Any],
    file_name: str,
    content_type: str,
    max_bytes: int,
    now: datetime,
) -> tuple[Dataset, MetadataVersion, FileVersion]:
    """A new dataset at metadata version 1, expecting its first file at file version 1."""
    file = FileVersion(dataset_id, 1, file_name, content_type, max_bytes, creator_sub, now)
    meta = MetadataVersion(dataset_id, 1, dict(metadata), tuple(sorted(metadata)), creator_sub, now)
    dataset = Dataset(dataset_id, owner_org, creator_sub, now, now, dict(metadata), 1, file)
    return dataset, meta, file


def apply_patch(
    dataset: Dataset, changes: dict[str, Any], editor_sub: str, now: datetime
) -> tuple[Dataset, MetadataVersion]:
    """The dataset with `changes` applied as a new metadata version. `None` clears a field."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise UnknownFieldError(f"not an editable field: {', '.join(unknown)}")
    merged = dict(dataset.metadata)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    changed = tuple(sorted(n for n in changes if dataset.metadata.get(n) != merged.get(n)))
    if not changed:
        raise NoChangeError("the patch changes nothing")
    if not merged.get("title"):
        raise MissingFieldError("title cannot be removed")
    version = dataset.metadata_version + 1
    meta = MetadataVersion(dataset.id, version, merged, changed, editor_sub, now)
    return replace(dataset, metadata=merged, metadata_version=version, updated_at=now), meta


def add_file_version(
    dataset: Dataset, file_name: str, content_type: str, max_bytes: int, creator_sub: str, now: datetime
) -> tuple[Dataset, FileVersion]:
    version = (dataset.file.version if dataset.file else 0) + 1
    file = FileVersion(dataset.id, version, file_name, content_type, max_bytes, creator_sub, now)
    return replace(dataset, file=file, updated_at=now), file


def soft_delete(dataset: Dataset, deleter_sub: str, now: datetime) -> Dataset:
    """Deleted datasets leave listings and refuse downloads; records and files stay for the record."""
    if dataset.deleted:
        raise DatasetDeletedError(dataset_id=dataset.id)
    return replace(dataset, deleted_at=now, deleted_by=deleter_sub, updated_at=now)


@dataclass(frozen=True)
class ListFilter:
    """Listing filters; unset ones match everything, deleted datasets never match."""

    tag: str | None = None
    organisation: str | None = None
    owner: str | None = None  # creator's sub
    text: str | None = None  # case-insensitive, in title, description and tags

    def matches(self, dataset: Dataset) -> bool:
        if dataset.deleted:
            return False
        if self.tag is not None and self.tag not in dataset.tags:
            return False
        if self.organisation is not None and dataset.owner_org != self.organisation:
            return False
        if self.owner is not None and dataset.created_by != self.owner:
            return False
        if self.text:
            needle = self.text.casefold()
            haystack = " ".join(
                [dataset.title, str(dataset.metadata.get("description", "")), *dataset.tags]
            ).casefold()
            if needle not in haystack:
                return False
        return True


def sort_key(dataset: Dataset) -> tuple[datetime, str]:
    """Listing order: creation time then id, both stable, so pages never skip or repeat."""
    return (dataset.created_at, dataset.id)


def encode_token(after: str) -> str:
    """An opaque page token; callers must not build their own."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidTokenError() from exc
    if not isinstance(value, str):
        raise InvalidTokenError()
    return value


def paginate(items: list[Dataset], limit: int, token: str | None) -> tuple[list[Dataset], str | None]:
    """One page of `items` (already filtered) in `sort_key` order, and the token for the next."""
    ordered = sorted(items, key=sort_key)
    if token:
        text = decode_token(token)
        try:
            moment, _, dataset_id = text.partition("#")
            after = (datetime.fromisoformat(moment), dataset_id)
            ordered = [d for d in ordered if sort_key(d) > after]
        except (ValueError, TypeError) as exc:
            raise InvalidTokenError() from exc
    page = ordered[:limit]
    last = page[-1] if page else None
    more = len(ordered) > limit and last is not None
    next_token = encode_token(f"{last.created_at.isoformat()}#{last.id}") if more and last else None
    return page, next_token
