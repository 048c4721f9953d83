"""Datapacks on AWS: pack records and their grants in the catalog table, sealed files in the packs bucket
(S3 Object Lock), members' bytes read from the data bucket.

Why the catalog table and not a table of their own: a pack is a catalogue entry like a dataset, the API
already reads and writes that table, and its keys leave room (`PACK#` beside `DATASET#`): no new table,
stack output or permission. Items:
- `pk=PACK#{id}, sk=CURRENT`: the pack (`record`, one JSON string), `rev` (optimistic concurrency);
  `gsi1pk=PACK, gsi1sk={created_at}#{id}`.
- `pk=PACK#{id}, sk=GRANT#{user|group}#{grantee}`: one grant per grantee; `gsi1pk=PACK,
  gsi1sk={pack created_at}#{id}#GRANT#...`, so one query of the index lists every pack with its grants.
Dataset listings query `gsi1pk=DATASET` and never see these.

Packs bucket keys (witan.datapacks.gather): `drafts/{pack}/{member}/{file}` (the pack's own uploads,
presigned POST), `datapacks/{pack}/files/{path}` and `datapacks/{pack}/manifest.json` (sealed: each
object written with Object Lock retention, compliance mode in AWS), `exports/{pack}/{id}.zip` (built
for one caller, expired by the bucket's lifecycle after a day).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from witan.access.records import Grant, GranteeType
from witan.aws.catalog_table import S3FileTransfer
from witan.aws.clients import LazyClient
from witan.aws.dynamo import DynamoTable
from witan.aws.grants_table import grant_from_record, grant_to_record
from witan.aws.table_shapes import GSI1
from witan.catalog.ports import PresignedGet, PresignedPost
from witan.datapacks.records import Pack
from witan.errors import ConflictError

LIST_PK = "PACK"
_NOT_FOUND = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}


def _pk(pack_id: str) -> str:
    return f"PACK#{pack_id}"


def _grant_sk(grantee_type: GranteeType, grantee: str) -> str:
    return f"GRANT#{grantee_type.value}#{grantee}"


class DynamoPackStore(DynamoTable):
    """Pack records and pack grants in the catalog table."""

    def _item(self, pack: Pack, rev: int) -> dict[str, Any]:
        return {
            "pk": {"S": _pk(pack.id)},
            "sk": {"S": "CURRENT"},
            "gsi1pk": {"S": LIST_PK},
            "gsi1sk": {"S": f"{pack.created_at.isoformat()}#{pack.id}"},
            "rev": {"N": str(rev)},
            "status": {"S": pack.status.value},
            "record": {"S": json.dumps(pack.to_dict(), sort_keys=True, separators=(",", ":"))},
        }

    def create(self, pack: Pack) -> None:
        if not self.put_when(self._item(pack, 1), ConditionExpression="attribute_not_exists(pk)"):
            raise ConflictError("a pack with this id exists")

    def get(self, pack_id: str) -> Pack | None:
        found = self.get_with_rev(pack_id)
        return None if found is None else found[0]

    def get_with_rev(self, pack_id: str) -> tuple[Pack, int] | None:
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": _pk(pack_id)}, "sk": {"S": "CURRENT"}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return Pack.from_dict(json.loads(item["record"]["S"])), int(item["rev"]["N"])

    def save(self, pack: Pack, rev: int) -> None:
        """Write the pack over revision `rev`; ConflictError if someone changed it meanwhile. A sealed
        record is never overwritten."""
        if not self.put_when(
            self._item(pack, rev + 1),
            ConditionExpression="rev = :rev AND #status = :draft",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":rev": {"N": str(rev)}, ":draft": {"S": "draft"}},
        ):
            raise ConflictError("the pack was changed by another request (or sealed); read it again")

    def list_with_grants(self) -> list[tuple[Pack, list[Grant]]]:
        """Every pack with its grants, oldest first (one query of the index)."""
        packs: dict[str, Pack] = {}
        grants: dict[str, list[Grant]] = {}
        for item in self.query(
            IndexName=GSI1,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": {"S": LIST_PK}},
        ):
            pack_id = item["pk"]["S"].removeprefix("PACK#")
            if item["sk"]["S"] == "CURRENT":
                packs[pack_id] = Pack.from_dict(json.loads(item["record"]["S"]))
            else:
                grants.setdefault(pack_id, []).append(grant_from_record(item["record"]["S"]))
        return [(p, grants.get(i, [])) for i, p in packs.items()]

    def grants_for(self, pack_id: str) -> list[Grant]:
        return [
            grant_from_record(item["record"]["S"])
            for item in self.query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :g)",
                ExpressionAttributeValues={":pk": {"S": _pk(pack_id)}, ":g": {"S": "GRANT#"}},
                ConsistentRead=True,
            )
        ]

    def put_grant(self, pack: Pack, grant: Grant) -> None:
        sk = _grant_sk(grant.grantee_type, grant.grantee)
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": _pk(pack.id)},
                "sk": {"S": sk},
                "gsi1pk": {"S": LIST_PK},
                "gsi1sk": {"S": f"{pack.created_at.isoformat()}#{pack.id}#{sk}"},
                "record": {"S": grant_to_record(grant)},
            },
        )

    def delete_grant(self, pack_id: str, grantee_type: GranteeType, grantee: str) -> bool:
        response = self.client.delete_item(
            TableName=self.table_name,
            Key={"pk": {"S": _pk(pack_id)}, "sk": {"S": _grant_sk(grantee_type, grantee)}},
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))


class S3PackObjects(LazyClient):
    """The data bucket (read: dataset files by version, run files) and the packs bucket."""

    SERVICE = "s3"

    def __init__(
        self,
        data_bucket: str,
        packs_bucket: str,
        *,
        retention_years: int,
        lock_mode: str = "COMPLIANCE",
        client: Any | None = None,
    ) -> None:
        self.data_bucket, self.packs_bucket = data_bucket, packs_bucket
        self.retention_years, self.lock_mode = retention_years, lock_mode
        self._client = client

    def _get(self, bucket: str, key: str, version_id: str | None = None) -> bytes | None:
        from botocore.exceptions import ClientError

        extra = {"VersionId": version_id} if version_id and version_id != "null" else {}
        try:
            body: bytes = self.client.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                return None
            raise
        return body

    # -- PackSources ------------------------------------------------------------------------------------
    def data_object(self, key: str, version_id: str | None = None) -> bytes | None:
        return self._get(self.data_bucket, key, version_id)

    def list_data(self, prefix: str) -> list[str]:
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        listed = self.client.list_objects_v2(Bucket=self.data_bucket, Prefix=prefix, MaxKeys=1000)
        return sorted(obj["Key"] for obj in listed.get("Contents", []))

    def pack_object(self, key: str, version_id: str | None = None) -> bytes | None:
        return self._get(self.packs_bucket, key, version_id)

    # -- the rest ---------------------------------------------------------------------------------------
    def data_version_id(self, key: str) -> str | None:
        """The current object version of a dataset file (pinned when it is added to a pack)."""
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.data_bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                return None
            raise
        version = head.get("VersionId")
        return str(version) if version and version != "null" else "null"

    def retain_until(self, now: datetime) -> datetime:
        return now.astimezone(UTC) + timedelta(days=round(365.25 * self.retention_years))

    def put_sealed(self, key: str, data: bytes, content_type: str, now: datetime) -> str | None:
        """Write a sealed file under Object Lock: nobody, root included in compliance mode, can change
        or delete that object version until the retention date. Returns the version id, which the pack
        record pins (a later object written at the same key is a new version, never read)."""
        import base64
        import hashlib

        response = self.client.put_object(
            Bucket=self.packs_bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode(),  # noqa: S324 - S3 needs MD5 with Object Lock
            ObjectLockMode=self.lock_mode,
            ObjectLockRetainUntilDate=self.retain_until(now),
        )
        version = response.get("VersionId")
        return str(version) if version else None

    def put_export(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.packs_bucket, Key=key, Body=data, ContentType="application/zip")

    # Presigned transfers on the packs bucket: the datastore's own, on another bucket.
    def presign_post(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
        return S3FileTransfer(self.packs_bucket, self.client).presign_post(
            key, content_type, max_bytes, expires_in
        )

    def presign_get(self, key: str, download_name: str, expires_in: int) -> PresignedGet:
        return S3FileTransfer(self.packs_bucket, self.client).presign_get(key, download_name, expires_in)
