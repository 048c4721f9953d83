"""What the datapack routes store and read through (witan.aws.datapacks_table): pack records with their
grants, and the objects of the data and packs buckets."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from witan.access.records import Grant, GranteeType
from witan.catalog.ports import PresignedGet, PresignedPost
from witan.datapacks.gather import PackSources
from witan.datapacks.records import Pack


class PackStore(Protocol):
    """Packs (each with a revision, for optimistic concurrency) and the grants on them."""

    def create(self, pack: Pack) -> None: ...

    def get(self, pack_id: str) -> Pack | None: ...

    def get_with_rev(self, pack_id: str) -> tuple[Pack, int] | None: ...

    def save(self, pack: Pack, rev: int) -> None:
        """Write over revision `rev`; ConflictError if it changed meanwhile."""

    def list_with_grants(self) -> list[tuple[Pack, list[Grant]]]: ...

    def grants_for(self, pack_id: str) -> list[Grant]: ...

    def put_grant(self, pack: Pack, grant: Grant) -> None: ...

    def delete_grant(self, pack_id: str, grantee_type: GranteeType, grantee: str) -> bool: ...


class PackObjects(PackSources, Protocol):
    """Members' bytes in the data bucket; sealed files, drafts' uploads and exports in the packs bucket."""

    def pack_object(self, key: str, version_id: str | None = None) -> bytes | None: ...

    def data_version_id(self, key: str) -> str | None: ...

    def retain_until(self, now: datetime) -> datetime: ...

    def put_sealed(self, key: str, data: bytes, content_type: str, now: datetime) -> str | None: ...

    def put_export(self, key: str, data: bytes) -> None: ...

    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost: ...

    def presign_get(self, key: str, download_name: str, expires_in: int) -> PresignedGet: ...
