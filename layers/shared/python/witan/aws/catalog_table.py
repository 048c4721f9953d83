"""The catalogue in AWS: dataset records in the catalog table and dataset files in the data bucket.

Catalog table items (keys per docs/contracts.md):
- `pk=DATASET#{id}, sk=CURRENT`: the dataset now; `gsi1pk=DATASET, gsi1sk={created_at}#{id}` for listing.
- `pk=DATASET#{id}, sk=META#{version:08d}`: every metadata version, never overwritten.
- `pk=DATASET#{id}, sk=FILE#{version:08d}`: every file version.
- `pk=DATASET#{id}, sk=SOURCE#{request}/{submission}/{upload version}`: which file version a collected
  upload became (written with that version, so a redelivered upload finds it instead of adding another).
Records are stored as one JSON string (`record`) so nested metadata round-trips exactly (no Decimals).
boto3 is imported on first use: the API's cold import stays small and tests pass their own clients.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from witan.aws.clients import LazyClient
from witan.aws.dynamo import DynamoTable
from witan.aws.table_shapes import GSI1
from witan.catalog.ports import PresignedGet, PresignedPost
from witan.catalog.records import Dataset, FileVersion, MetadataVersion
from witan.errors import (
    ConflictError,
)

LIST_PK = "DATASET"


def _pk(dataset_id: str) -> str:
    return f"DATASET#{dataset_id}"


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True, separators=(",", ":"))


def _file_from(data: dict[str, Any] | None) -> FileVersion | None:
    if not data:
        return None
    return FileVersion(**{**data, "created_at": _dt(data["created_at"])})


def dataset_from_record(record: str) -> Dataset:
    data = json.loads(record)
    return Dataset(
        id=data["id"],
        owner_org=data["owner_org"],
        created_by=data["created_by"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        metadata=data["metadata"],
        metadata_version=data["metadata_version"],
        file=_file_from(data.get("file")),
        deleted_at=_dt(data.get("deleted_at")),
        deleted_by=data.get("deleted_by"),
        extra=data.get("extra") or {},
    )


def _meta_from(record: str) -> MetadataVersion:
    data = json.loads(record)
    return MetadataVersion(
        dataset_id=data["dataset_id"],
        version=data["version"],
        metadata=data["metadata"],
        changed=tuple(data["changed"]),
        edited_by=data["edited_by"],
        edited_at=datetime.fromisoformat(data["edited_at"]),
    )


class DynamoCatalogStore(DynamoTable):
    """`witan.catalog.ports.CatalogStore` on the catalog table."""

    def _current_item(self, dataset: Dataset) -> dict[str, Any]:
        return {
            "pk": {"S": _pk(dataset.id)},
            "sk": {"S": "CURRENT"},
            "gsi1pk": {"S": LIST_PK},
            "gsi1sk": {"S": f"{dataset.created_at.isoformat()}#{dataset.id}"},
            "metadata_version": {"N": str(dataset.metadata_version)},
            "file_version": {"N": str(dataset.file.version if dataset.file else 0)},
            "record": {"S": _dumps(asdict(dataset))},
        }

    def _meta_item(self, meta: MetadataVersion) -> dict[str, Any]:
        return {
            "pk": {"S": _pk(meta.dataset_id)},
            "sk": {"S": f"META#{meta.version:08d}"},
            "record": {"S": _dumps(asdict(meta))},
        }

    def _file_item(self, file: FileVersion) -> dict[str, Any]:
        return {
            "pk": {"S": _pk(file.dataset_id)},
            "sk": {"S": f"FILE#{file.version:08d}"},
            "record": {"S": _dumps(asdict(file))},
        }

    def _put(
        self,
        item: dict[str, Any],
        condition: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table_name, "Item": item, "ConditionExpression": condition}
        if values:
            put["ExpressionAttributeValues"] = values
        if names:
            put["ExpressionAttributeNames"] = names
        return {"Put": put}

    def _transact(self, items: list[dict[str, Any]]) -> None:
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as exc:
            raise ConflictError() from exc

    def create(self, dataset: Dataset, meta: MetadataVersion) -> None:
        items = [
            self._put(self._current_item(dataset), "attribute_not_exists(pk)"),
            self._put(self._meta_item(meta), "attribute_not_exists(pk)"),
        ]
        if dataset.file is not None:
            items.append(self._put(self._file_item(dataset.file), "attribute_not_exists(pk)"))
        self._transact(items)

    def get(self, dataset_id: str) -> Dataset | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": _pk(dataset_id)}, "sk": {"S": "CURRENT"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return dataset_from_record(item["record"]["S"]) if item else None

    def list_all(self) -> list[Dataset]:
        items = self.query(
            IndexName=GSI1,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": LIST_PK}},
        )
        return [dataset_from_record(item["record"]["S"]) for item in items]

    def save_metadata(self, dataset: Dataset, meta: MetadataVersion) -> None:
        self._transact(
            [
                self._put(
                    self._current_item(dataset),
                    "metadata_version = :previous",
                    {":previous": {"N": str(meta.version - 1)}},
                ),
                self._put(self._meta_item(meta), "attribute_not_exists(pk)"),
            ]
        )

    def save_file_version(self, dataset: Dataset, file: FileVersion) -> None:
        self._transact(
            [
                self._put(
                    self._current_item(dataset),
                    "file_version = :previous",
                    {":previous": {"N": str(file.version - 1)}},
                ),
                self._put(self._file_item(file), "attribute_not_exists(pk)"),
            ]
        )

    def save_deleted(self, dataset: Dataset) -> None:
        self._transact(
            [
                self._put(
                    self._current_item(dataset),
                    "metadata_version = :v",
                    {":v": {"N": str(dataset.metadata_version)}},
                )
            ]
        )

    def history(self, dataset_id: str) -> list[MetadataVersion]:
        items = self.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :meta)",
            ExpressionAttributeValues={":pk": {"S": _pk(dataset_id)}, ":meta": {"S": "META#"}},
            ConsistentRead=True,
        )
        return [_meta_from(item["record"]["S"]) for item in items]


class CollectedVersions:
    """witan.collect.uploads.deliver.CollectedCatalog on the catalog table: Collect+Share's dataset versions.

    A version is saved only if the dataset's CURRENT record is exactly as loaded (its stored JSON is the
    concurrency token), so a dataset deleted or edited meanwhile is reloaded, never overwritten.
    """

    def __init__(self, store: DynamoCatalogStore) -> None:
        self.store = store

    def load(self, dataset_id: str) -> tuple[Dataset, str] | None:
        response = self.store.client.get_item(
            TableName=self.store.table_name,
            Key={"pk": {"S": _pk(dataset_id)}, "sk": {"S": "CURRENT"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        record = item["record"]["S"]
        return dataset_from_record(record), record

    def collected_version(self, dataset_id: str, source: str) -> tuple[FileVersion, bool] | None:
        response = self.store.client.get_item(
            TableName=self.store.table_name,
            Key={"pk": {"S": _pk(dataset_id)}, "sk": {"S": f"SOURCE#{source}"}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        file = _file_from(json.loads(item["record"]["S"]))
        assert file is not None
        return file, bool(item.get("audited", {}).get("BOOL"))

    def save_collected_version(self, dataset: Dataset, file: FileVersion, source: str, token: str) -> None:
        marker = {
            "pk": {"S": _pk(dataset.id)},
            "sk": {"S": f"SOURCE#{source}"},
            "file_version": {"N": str(file.version)},
            "record": {"S": _dumps(asdict(file))},
            "audited": {"BOOL": False},
        }
        self.store._transact(
            [
                self.store._put(
                    self.store._current_item(dataset),
                    "#record = :token",
                    {":token": {"S": token}},
                    {"#record": "record"},
                ),
                self.store._put(self.store._file_item(file), "attribute_not_exists(pk)"),
                self.store._put(marker, "attribute_not_exists(pk)"),
            ]
        )

    def mark_collected_audited(self, dataset_id: str, source: str) -> None:
        self.store.client.update_item(
            TableName=self.store.table_name,
            Key={"pk": {"S": _pk(dataset_id)}, "sk": {"S": f"SOURCE#{source}"}},
            UpdateExpression="SET audited = :yes",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )


class S3FileTransfer(LazyClient):
    """`FileTransfer` port: presigned POST (size and type pinned) and GET on the data bucket."""

    SERVICE = "s3"

    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._client = client

    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
        post = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
        return PresignedPost(url=post["url"], fields=dict(post["fields"]), expires_at=expires_at, key=key)

    def presign_get(self, key: str, download_name: str, expires_in: int) -> PresignedGet:
        url = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{download_name}"',
            },
            ExpiresIn=expires_in,
        )
        return PresignedGet(url=url, expires_at=datetime.now(UTC) + timedelta(seconds=expires_in), key=key)
