"""DynamoDB adapter for collect: requests, submissions and per-version check records.

Items live in the requests table (pk/sk, gsi1pk/gsi1sk); docs/data-model.md describes them.
Idempotency and ordering rest on conditional writes:
- a check record is claimed with `attribute_not_exists(pk) OR (status = checking AND lease expired)`,
  so a redelivered message for a finished version finds nothing to do;
- the final record is written only while our claim token is on the item;
- a submission shows the status of its latest upload: S3 event sequencers (zero-padded, so they
  compare as strings) only move forward.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from witan.aws.dynamo import DynamoTable, condition_failed
from witan.collect.records import (
    META_SK,
    CheckRecord,
    CollectionRequest,
    Destination,
    Submission,
    UploadStatus,
    check_sk,
    request_pk,
    share_until_end,
    submission_sk,
)
from witan.collect.uploads.ports import Claim
from witan.errors import BadCursorError

SEQUENCER_WIDTH = 40  # S3 sequencers are hex strings of varying length; pad to compare as strings
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def make_client(endpoint_url: str | None = None, region_name: str | None = None) -> Any:
    session = boto3.session.Session()
    return session.client(
        "dynamodb", endpoint_url=endpoint_url, region_name=region_name or session.region_name
    )


def _wire(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def padded_sequencer(sequencer: str) -> str:
    return (sequencer or "").upper().rjust(SEQUENCER_WIDTH, "0")


def check_item(record: CheckRecord) -> dict[str, Any]:
    """The stored form of a check record (see docs/data-model.md)."""
    moment = record.checked_at or record.started_at or ""
    return {
        "pk": request_pk(record.request_id),
        "sk": check_sk(record.submission_id, record.version_key),
        "type": "check",
        "gsi1pk": f"UPLOADS#{record.status}",
        "gsi1sk": f"{moment}#{record.request_id}#{record.submission_id}",
        "request_id": record.request_id,
        "submission_id": record.submission_id,
        "version_key": record.version_key,
        "status": str(record.status),
        "object_key": record.object_key,
        "file_name": record.file_name,
        "object_version_id": record.object_version_id,
        "size": record.size,
        "etag": record.etag,
        "sequencer": padded_sequencer(record.sequencer),
        "started_at": record.started_at,
        "checked_at": record.checked_at,
        "lease_expires_at": record.lease_expires_at,
        "claim_token": record.claim_token,
        "schema": record.schema,
        "rows": record.rows,
        "error_count": record.error_count,
        "counts": dict(record.counts) if record.status is not UploadStatus.CHECKING else None,
        "report_keys": dict(record.report_keys) or None,
        "parquet_key": record.parquet_key,
        "event_time": record.event_time,
        "dataset_id": record.dataset_id,
        "dataset_version": record.dataset_version,
        "dataset_key": record.dataset_key,
        "detail": dict(record.detail) or None,
    }


def destination_from_meta(item: Mapping[str, Any]) -> Destination | None:
    """The request's destination, only if the creation check stamped it (`dataset_owner_org`)."""
    dataset_id, owner, granted_by = (
        item.get("dataset_id"),
        item.get("dataset_owner_org"),
        item.get("requester_sub"),
    )
    if not (dataset_id and owner and granted_by):
        return None
    share = tuple(
        (str(s["type"]), str(s["id"]))
        for s in item.get("share_with") or []
        if isinstance(s, Mapping) and s.get("type") in ("user", "group") and s.get("id")
    )
    groups = tuple(str(g) for g in item.get("requester_groups") or [] if g)
    return Destination(
        str(dataset_id), str(owner), str(granted_by), share, groups, share_until_end(item.get("share_until"))
    )


class DynamoCheckStore(DynamoTable):
    """`CheckStore` on the requests table."""

    REQUIRED_SETTING = "REQUESTS_TABLE"

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=_wire({"pk": pk, "sk": sk}), ConsistentRead=True
        )
        item = response.get("Item")
        return _plain(item) if item else None

    def get_request(self, request_id: str) -> CollectionRequest | None:
        item = self._get(request_pk(request_id), META_SK)
        if item is None:
            return None
        missing = [name for name in ("title", "schema", "requester_email") if not item.get(name)]
        if missing:
            raise ValueError(f"request {request_id} is missing {', '.join(missing)}")
        return CollectionRequest(
            request_id=request_id,
            title=str(item["title"]),
            schema=str(item["schema"]),
            requester_email=str(item["requester_email"]),
            requester_name=item.get("requester_name"),
            sheet=item.get("sheet"),
            status=str(item.get("status") or "open"),
            dataset_id=item.get("dataset_id"),
            destination=destination_from_meta(item),
            shared_at=item.get("shared_at"),
        )

    def get_submission(self, request_id: str, submission_id: str) -> Submission | None:
        item = self._get(request_pk(request_id), submission_sk(submission_id))
        if item is None:
            return None
        if not item.get("uploader_email"):
            raise ValueError(f"submission {request_id}/{submission_id} has no uploader_email")
        return Submission(
            request_id=request_id,
            submission_id=submission_id,
            uploader_email=str(item["uploader_email"]),
            uploader_name=item.get("uploader_name"),
        )

    def get_check(self, request_id: str, submission_id: str, version_key: str) -> dict[str, Any] | None:
        return self._get(request_pk(request_id), check_sk(submission_id, version_key))

    def claim(self, record: CheckRecord, *, now_epoch: int) -> Claim:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_wire(check_item(record)),
                ConditionExpression="attribute_not_exists(pk) OR (#s = :checking AND #l < :now)",
                ExpressionAttributeNames={"#s": "status", "#l": "lease_expires_at"},
                ExpressionAttributeValues=_wire({":checking": str(UploadStatus.CHECKING), ":now": now_epoch}),
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            existing = self.get_check(record.request_id, record.submission_id, record.version_key)
            if existing is not None and existing.get("status") == UploadStatus.CHECKING:
                return Claim.BUSY
            return Claim.DONE
        return Claim.CLAIMED

    def finish(self, record: CheckRecord) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_wire(check_item(record)),
                ConditionExpression="#t = :token",
                ExpressionAttributeNames={"#t": "claim_token"},
                ExpressionAttributeValues=_wire({":token": record.claim_token}),
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def record_unknown(self, record: CheckRecord) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_wire(check_item(record)),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def update_submission(self, record: CheckRecord) -> bool:
        values: dict[str, Any] = {
            ":status": str(record.status),
            ":version": record.version_key,
            ":seq": padded_sequencer(record.sequencer),
            ":file": record.file_name,
            ":at": record.checked_at or record.started_at or datetime.now(UTC).isoformat(timespec="seconds"),
        }
        sets = [
            "#status = :status",
            "latest_version = :version",
            "last_sequencer = :seq",
            "latest_file_name = :file",
            "status_at = :at",
        ]
        if record.status is not UploadStatus.CHECKING:
            values |= {
                ":rows": record.rows or 0,
                ":errors": record.error_count or 0,
                ":counts": dict(record.counts),
                ":reports": dict(record.report_keys),
            }
            sets += ["#rows = :rows", "error_count = :errors", "counts = :counts", "report_keys = :reports"]
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_wire({"pk": request_pk(record.request_id), "sk": submission_sk(record.submission_id)}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_sequencer) "
                "OR last_sequencer <= :seq)",
                ExpressionAttributeNames={"#status": "status"}
                | ({"#rows": "rows"} if record.status is not UploadStatus.CHECKING else {}),
                ExpressionAttributeValues=_wire(values),
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False  # a later upload of this submission already shows its own status
            raise
        return True

    def mark_shared(self, request_id: str, at: str) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key=_wire({"pk": request_pk(request_id), "sk": META_SK}),
            UpdateExpression="SET shared_at = if_not_exists(shared_at, :at)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=_wire({":at": at}),
        )

    def note_emails(self, record: CheckRecord, sent: list[str], failed: list[str]) -> None:
        values: dict[str, Any] = {":sent": len(sent), ":at": datetime.now(UTC).isoformat(timespec="seconds")}
        expression = "SET emails_sent = :sent, emailed_at = :at"
        if failed:
            values[":failed"] = failed
            expression += ", email_failed_to = :failed"
        self.client.update_item(
            TableName=self.table_name,
            Key=_wire(
                {
                    "pk": request_pk(record.request_id),
                    "sk": check_sk(record.submission_id, record.version_key),
                }
            ),
            UpdateExpression=expression,
            ExpressionAttributeValues=_wire(values),
        )


def put_request(client: Any, table_name: str, request: CollectionRequest, **extra: Any) -> None:
    """Store a request's META item (the Collect+Share API's job; here for tests and local runs)."""
    item = {
        "pk": request_pk(request.request_id),
        "sk": META_SK,
        "type": "request",
        "request_id": request.request_id,
        "title": request.title,
        "schema": request.schema,
        "requester_email": request.requester_email,
        "requester_name": request.requester_name,
        "sheet": request.sheet,
        **extra,
    }
    client.put_item(TableName=table_name, Item=_wire(item))


def put_submission(client: Any, table_name: str, submission: Submission, **extra: Any) -> None:
    """Store a submission item (the Collect+Share API's job; here for tests and local runs)."""
    item = {
        "pk": request_pk(submission.request_id),
        "sk": submission_sk(submission.submission_id),
        "type": "submission",
        "request_id": submission.request_id,
        "submission_id": submission.submission_id,
        "uploader_email": submission.uploader_email,
        "uploader_name": submission.uploader_name,
        "status": "awaiting-upload",
        **extra,
    }
    client.put_item(TableName=table_name, Item=_wire(item))


# -- Collect+Share requests (witan.collect.requests.service.RequestStore) ---------------------------


def _encode_cursor(key: Mapping[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, requester_sub: str) -> dict[str, Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise BadCursorError() from exc
    ok = (
        isinstance(raw, dict)
        and set(raw) == {"pk", "sk", "gsi1pk", "gsi1sk"}
        and all(isinstance(v, dict) and set(v) == {"S"} for v in raw.values())
        and raw["gsi1pk"]["S"] == f"REQUESTER#{requester_sub}"  # a cursor cannot page someone else's list
    )
    if not ok:
        raise BadCursorError()
    return raw


class DynamoRequestStore(DynamoTable):
    """`RequestStore` on the requests table (docs/data-model.md, "Collect+Share requests")."""

    REQUIRED_SETTING = "REQUESTS_TABLE"

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        return [_plain(i) for i in self.query(**kwargs)]

    def create(self, new: Any) -> None:
        operations = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": _wire(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for item in new.items
        ]
        self.client.transact_write_items(TransactItems=operations)

    def get_meta(self, request_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=_wire({"pk": request_pk(request_id), "sk": META_SK}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _plain(item) if item else None

    def request_items(self, request_id: str) -> list[dict[str, Any]]:
        return self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=_wire({":pk": request_pk(request_id)}),
            ConsistentRead=True,
        )

    def submission_items(self, request_id: str, submission_id: str) -> list[dict[str, Any]]:
        return self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
            ExpressionAttributeValues=_wire(
                {":pk": request_pk(request_id), ":sk": submission_sk(submission_id)}
            ),
            ConsistentRead=True,
        )

    def list_by_requester(
        self, requester_sub: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": _wire({":pk": f"REQUESTER#{requester_sub}"}),
            "ScanIndexForward": False,  # newest first
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode_cursor(cursor, requester_sub)
        response = self.client.query(**kwargs)
        items = [_plain(i) for i in response.get("Items", [])]
        return items, _encode_cursor(response.get("LastEvaluatedKey"))

    def set_status(self, request_id: str, status: Any, at: str) -> bool:
        stamp = "closed_at" if str(status) == "closed" else "cancelled_at"
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": _wire({"pk": request_pk(request_id), "sk": META_SK}),
                            "UpdateExpression": f"SET #s = :new, {stamp} = :at",
                            "ConditionExpression": "attribute_exists(pk) AND #s = :open",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": _wire(
                                {":new": str(status), ":at": at, ":open": "open"}
                            ),
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table_name,
                            "Key": _wire({"pk": "OPEN", "sk": request_pk(request_id)}),
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def find_token(self, token_hash: str) -> dict[str, Any] | None:
        response = self.client.query(
            TableName=self.table_name,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=_wire({":pk": f"TOKEN#{token_hash}"}),
            Limit=2,
        )
        items = response.get("Items", [])
        return _plain(items[0]) if len(items) == 1 else None

    def put_token(self, item: dict[str, Any]) -> None:
        self.client.put_item(
            TableName=self.table_name, Item=_wire(item), ConditionExpression="attribute_not_exists(pk)"
        )

    def revoke_tokens(self, request_id: str, submission_id: str | None, at: str) -> int:
        prefix = f"TOKEN#{submission_id}#" if submission_id else "TOKEN#"
        tokens = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
            ExpressionAttributeValues=_wire({":pk": request_pk(request_id), ":sk": prefix}),
            ConsistentRead=True,
        )
        revoked = 0
        for token in tokens:
            if token.get("revoked_at"):
                continue
            self.client.update_item(
                TableName=self.table_name,
                Key=_wire({"pk": token["pk"], "sk": token["sk"]}),
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :at)",
                ExpressionAttributeValues=_wire({":at": at}),
            )
            revoked += 1
        return revoked

    def mark_opened(self, request_id: str, submission_id: str, at: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_wire({"pk": request_pk(request_id), "sk": submission_sk(submission_id)}),
                UpdateExpression="SET opened_at = if_not_exists(opened_at, :at), last_opened_at = :at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=_wire({":at": at}),
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise

    def mark_reminded(self, request_id: str, submission_id: str, day: str) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_wire({"pk": request_pk(request_id), "sk": submission_sk(submission_id)}),
                UpdateExpression="SET last_reminded_on = :day ADD reminders_sent :one",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(last_reminded_on) OR last_reminded_on <> :day)",
                ExpressionAttributeValues=_wire({":day": day, ":one": 1}),
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def open_request_ids(self) -> list[str]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues=_wire({":pk": "OPEN"})
        )
        return [str(i["request_id"]) for i in items]

    def set_last_digest(self, request_id: str, at: str) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key=_wire({"pk": request_pk(request_id), "sk": META_SK}),
            UpdateExpression="SET last_digest_at = :at",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=_wire({":at": at}),
        )


UPLOAD_MIME_TYPES = frozenset(
    {"text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
)


class S3UploadPresigner:
    """`UploadPresigner`: a presigned POST for one key under `uploads/` with size and type limits.

    The policy pins the exact key (inside the submission's prefix), the exact Content-Type (CSV or
    xlsx only) and `content-length-range` 1..max_bytes, so S3 itself refuses anything else. (moto does
    not enforce POST policies; the validator re-checks the size of what arrives.)
    """

    def __init__(self, bucket: str, client: Any = None) -> None:
        if not bucket:
            raise ValueError("the data bucket name is required (DATA_BUCKET)")
        self.bucket = bucket
        if client is None:
            from witan.aws.s3 import make_client as make_s3_client

            client = make_s3_client()
        self.client = client

    def __call__(self, *, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        if not key.startswith("uploads/") or key.count("/") != 3:
            raise ValueError(f"not an upload key: {key!r}")
        if content_type not in UPLOAD_MIME_TYPES:
            raise ValueError(f"content type {content_type!r} is not accepted")
        post = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type, "success_action_status": "201"},
            Conditions=[
                {"Content-Type": content_type},
                {"success_action_status": "201"},
                ["content-length-range", 1, int(max_bytes)],
            ],
            ExpiresIn=int(expires_in),
        )
        return {"url": post["url"], "fields": dict(post["fields"])}


def read_json_report(client: Any, bucket: str) -> Any:
    """A `read_report(key)` for the partner view: the validator's report.json, or None if absent."""

    def read(key: str) -> dict[str, Any] | None:
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        loaded = json.loads(body)
        return loaded if isinstance(loaded, dict) else None

    return read


def get_stored_schema(client: Any, table_name: str) -> Any:
    """A `get_stored(name)` for witan.collect.requests.schemas.SchemaResolver: the descriptor JSON or None."""

    def get(name: str) -> str | None:
        response = client.get_item(
            TableName=table_name, Key=_wire({"pk": f"SCHEMA#{name}", "sk": META_SK}), ConsistentRead=True
        )
        item = response.get("Item")
        return str(_plain(item)["descriptor"]) if item and "descriptor" in item else None

    return get


STORED_SCHEMAS_GSI1PK = "SCHEMAS"  # every stored schema, listed by name on gsi1
MAX_STORED_SCHEMAS_LISTED = 200


def put_stored_schema(
    client: Any, table_name: str, name: str, descriptor: Mapping[str, Any], *, created_by: str
) -> bool:
    """Store a schema once as `stored:{name}`; False if the name is taken (stored schemas are immutable)."""
    item = {
        "pk": f"SCHEMA#{name}",
        "sk": META_SK,
        "type": "schema",
        "name": name,
        "descriptor": json.dumps(descriptor, sort_keys=True),
        "created_by": created_by,
        "gsi1pk": STORED_SCHEMAS_GSI1PK,
        "gsi1sk": name,
    }
    try:
        client.put_item(
            TableName=table_name, Item=_wire(item), ConditionExpression="attribute_not_exists(pk)"
        )
    except ClientError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def list_stored_schemas(client: Any, table_name: str) -> list[dict[str, str]]:
    """The stored schemas' names and makers, by name (at most MAX_STORED_SCHEMAS_LISTED)."""
    items = client.query(
        TableName=table_name,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :pk",
        ExpressionAttributeValues={":pk": {"S": STORED_SCHEMAS_GSI1PK}},
        Limit=MAX_STORED_SCHEMAS_LISTED,
    ).get("Items", [])
    return [{k: str(v) for k, v in _plain(item).items() if k in ("name", "created_by")} for item in items]
