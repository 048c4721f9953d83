"""Ports the API uses to keep datasets and grants and to move files; AWS adapters live in witan.aws."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from witan.access.records import Grant, GranteeType
from witan.catalog.records import Dataset, FileVersion, MetadataVersion


class CatalogStore(Protocol):
    def create(self, dataset: Dataset, meta: MetadataVersion) -> None:
        """Store a new dataset; raises ConflictError if the id exists."""

    def get(self, dataset_id: str) -> Dataset | None: ...

    def list_all(self) -> list[Dataset]:
        """Every dataset, deleted included (the caller filters); the catalogue is small (hundreds)."""

    def save_metadata(self, dataset: Dataset, meta: MetadataVersion) -> None:
        """Write a new metadata version; ConflictError if version `meta.version` exists already."""

    def save_file_version(self, dataset: Dataset, file: FileVersion) -> None:
        """Record a new file version; ConflictError if that version exists already."""

    def save_deleted(self, dataset: Dataset) -> None: ...

    def history(self, dataset_id: str) -> list[MetadataVersion]:
        """Metadata versions, oldest first."""


class GrantStore(Protocol):
    def grants_for(self, dataset_id: str) -> list[Grant]: ...

    def put(self, grant: Grant) -> None:
        """Add, or replace the grant for the same (dataset, grantee)."""

    def delete(self, dataset_id: str, grantee_type: GranteeType, grantee: str) -> bool:
        """Remove a grant; False if there was none."""

    def put_if(self, grant: Grant, expected: Grant | None) -> bool:
        """Put `grant` only if the stored grant for that grantee is still `expected` (None: none)."""

    def delete_if(self, expected: Grant) -> bool:
        """Remove the grant only if it is still `expected`; False if it changed or went."""

    def datasets_granted_to(self, grantees: Iterable[tuple[GranteeType, str]]) -> dict[str, list[Grant]]:
        """Grants to any of these grantees, by dataset id (for listings)."""


@dataclass(frozen=True)
class PresignedPost:
    """Where and how the browser uploads a file: POST `fields` and the file to `url`."""

    url: str
    fields: dict[str, str]
    expires_at: datetime
    key: str


@dataclass(frozen=True)
class PresignedGet:
    """A short-lived download link for one object."""

    url: str
    expires_at: datetime
    key: str


class FileTransfer(Protocol):
    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost: ...

    def presign_get(self, key: str, download_name: str, expires_in: int) -> PresignedGet: ...
