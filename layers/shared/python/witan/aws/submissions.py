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
import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from witan.aws.dynamo import DynamoTable, condition_failed
from witan.aws.table_shapes import GSI1
from witan.collect.records import (
    CheckRecord,
    CollectionRequest,
    Destination,
    Submission,
    UploadStatus,
    share_until_end,
)
from witan.collect.requests.creation import NewRequest
from witan.collect.requests.records import (
    RequestPart,
    RequestRecord,
    RequestStatus,
    ShareEntry,
    StoredSchema,
    SubmissionRecord,
    TokenRecord,
)
from witan.collect.uploads.ports import Claim
from witan.errors import BadCursorError

SEQUENCER_WIDTH = 40  # S3 sequencers are hex strings of varying length; pad to compare as strings
TOKEN_TTL_SECONDS = 30 * 86400  # DynamoDB TTL removes a token item a month after the link stops working
REQUESTS_INDEX = GSI1  # requests by requester, tokens by hash, stored schemas
META_SK = "META"
OPEN_PK = "OPEN"  # index items of requests that accept uploads: pk=OPEN, sk=REQUEST#{id}
SCHEMAS_KEY = "SCHEMAS"  # gsi1pk of every stored schema (listing them is one query)
MAX_STORED_SCHEMAS_LISTED = 200
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


def request_pk(request_id: str) -> str:
    return f"REQUEST#{request_id}"


def submission_sk(submission_id: str) -> str:
    return f"SUBMISSION#{submission_id}"


def check_sk(submission_id: str, version_key: str) -> str:
    return f"SUBMISSION#{submission_id}#CHECK#{version_key}"


def token_sk_prefix(submission_id: str | None = None) -> str:
    return f"TOKEN#{submission_id}#" if submission_id else "TOKEN#"


def token_sk(submission_id: str, token_hash: str) -> str:
    """A recipient may hold several live links, each its own item under their prefix."""
    return f"{token_sk_prefix(submission_id)}{token_hash[:24]}"


def token_gsi_key(token_hash: str) -> str:
    return f"TOKEN#{token_hash}"


def requester_gsi_key(requester_sub: str) -> str:
    return f"REQUESTER#{requester_sub}"


def stored_schema_pk(name: str) -> str:
    return f"SCHEMA#{name}"


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
        "counts": record.result_counts,
        "report_keys": dict(record.report_keys) or None,
        "parquet_key": record.parquet_key,
        "event_time": record.event_time,
        "dataset_id": record.dataset_id,
        "dataset_version": record.dataset_version,
        "dataset_key": record.dataset_key,
        "detail": dict(record.detail) or None,
    }


def _fields(record_type: type, item: Mapping[str, Any]) -> dict[str, Any]:
    """The item's attributes that are fields of `record_type`, DynamoDB numbers as ints (keys and
    index attributes are left behind)."""
    names = {f.name for f in dataclasses.fields(record_type)}
    return {k: _plain_numbers(v) for k, v in item.items() if k in names and v is not None}


def check_from_item(item: Mapping[str, Any]) -> CheckRecord:
    """A check record as stored (its sequencer stays zero-padded: it orders uploads as text)."""
    blank = {"object_key": "", "file_name": ""}
    status = UploadStatus(str(item["status"]))
    return CheckRecord(**blank | _fields(CheckRecord, item) | {"status": status})


def _plain_numbers(value: Any) -> Any:
    """Decimals inside free-form maps as int (or float when fractional)."""
    if isinstance(value, Mapping):
        return {str(k): _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def request_item(request: RequestRecord) -> dict[str, Any]:
    """The request's META item; listed by requester on gsi1, newest first."""
    return {
        "pk": request_pk(request.request_id),
        "sk": META_SK,
        "type": "request",
        "gsi1pk": requester_gsi_key(request.requester_sub),
        "gsi1sk": request.created_at,
        "request_id": request.request_id,
        "title": request.title,
        "schema": request.schema,
        "requester_email": request.requester_email,
        "requester_name": request.requester_name,
        "requester_sub": request.requester_sub,
        "requester_groups": list(request.requester_groups) or None,
        "share_until": request.share_until,
        "sheet": request.sheet,
        "message": request.message,
        "due_date": request.due_date,
        "grace_days": request.grace_days,
        "dataset_id": request.dataset_id,
        "share_with": [{"type": s.type, "id": s.id} for s in request.share_with] or None,
        "status": str(request.status),
        "recipient_count": request.recipient_count,
        "created_at": request.created_at,
        "closed_at": request.closed_at,
        "cancelled_at": request.cancelled_at,
        "dataset_owner_org": request.dataset_owner_org,
        "destination_checked_at": request.destination_checked_at,
        "dataset_created": request.dataset_created or None,
        "shared_at": request.shared_at,
        "last_digest_at": request.last_digest_at,
    }


def request_from_item(item: Mapping[str, Any]) -> RequestRecord:
    share = tuple(
        ShareEntry(str(s["type"]), str(s["id"]))
        for s in item.get("share_with") or []
        if isinstance(s, Mapping) and s.get("type") and s.get("id")
    )
    fields = _fields(RequestRecord, item) | {
        "requester_groups": tuple(str(g) for g in item.get("requester_groups") or [] if g),
        "share_with": share,
        "dataset_created": bool(item.get("dataset_created")),
    }
    # A META item written before a field was required (e.g. by tests' put_request) reads as blank.
    blank = {name: "" for name in ("title", "schema", "requester_email", "due_date")}
    return RequestRecord(**blank | fields)


def submission_item(sub: SubmissionRecord) -> dict[str, Any]:
    """A new recipient's SUBMISSION item (what the upload validator reads and then updates)."""
    return {
        "pk": request_pk(sub.request_id),
        "sk": submission_sk(sub.submission_id),
        "type": "submission",
        "request_id": sub.request_id,
        "submission_id": sub.submission_id,
        "uploader_email": sub.uploader_email,
        "uploader_name": sub.uploader_name,
        "uploader_organisation": sub.uploader_organisation,
        "status": sub.status,
        "invited_at": sub.invited_at,
    }


def submission_from_item(item: Mapping[str, Any]) -> SubmissionRecord:
    blank: dict[str, Any] = {"uploader_email": ""}
    return SubmissionRecord(**blank | _fields(SubmissionRecord, item))


def token_item(token: TokenRecord) -> dict[str, Any]:
    """A capability token's item: its hash only, found by it on gsi1; TTL drops it (`expires_at`)."""
    return {
        "pk": request_pk(token.request_id),
        "sk": token_sk(token.submission_id, token.token_hash),
        "type": "token",
        "gsi1pk": token_gsi_key(token.token_hash),
        "gsi1sk": "TOKEN",
        "request_id": token.request_id,
        "submission_id": token.submission_id,
        "token_hash": token.token_hash,
        "token_expires_at": token.token_expires_at,
        "expires_at": token.token_expires_at + TOKEN_TTL_SECONDS,
        "issued_at": token.issued_at or None,
        "revoked_at": token.revoked_at,
    }


def token_from_item(item: Mapping[str, Any]) -> TokenRecord:
    blank: dict[str, Any] = {"token_hash": "", "token_expires_at": 0}
    return TokenRecord(**blank | _fields(TokenRecord, item))


def open_item(request: RequestRecord) -> dict[str, Any]:
    """The OPEN index item of a request that accepts uploads (the reminder job lists these)."""
    return {
        "pk": OPEN_PK,
        "sk": request_pk(request.request_id),
        "type": "open-request",
        "request_id": request.request_id,
        "due_date": request.due_date,
    }


def new_request_items(new: NewRequest) -> list[dict[str, Any]]:
    """Every item one creation writes, in one transaction."""
    return [
        request_item(new.request),
        *(submission_item(sub) for sub in new.submissions),
        *(token_item(token) for token in new.tokens),
        open_item(new.request),
    ]


def request_part(item: Mapping[str, Any]) -> RequestPart | None:
    """The record an item under `REQUEST#{id}` holds; None for an item of no known type."""
    readers: dict[str, Any] = {
        "request": request_from_item,
        "submission": submission_from_item,
        "check": check_from_item,
        "token": token_from_item,
    }
    reader = readers.get(str(item.get("type")))
    return reader(item) if reader else None


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

    def get_check(self, request_id: str, submission_id: str, version_key: str) -> CheckRecord | None:
        item = self._get(request_pk(request_id), check_sk(submission_id, version_key))
        return check_from_item(item) if item else None

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
            if existing is not None and existing.status is UploadStatus.CHECKING:
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
        and raw["gsi1pk"]["S"] == requester_gsi_key(requester_sub)  # cannot page someone else's list
    )
    if not ok:
        raise BadCursorError()
    return dict(raw)


class DynamoRequestStore(DynamoTable):
    """`RequestStore` on the requests table (docs/data-model.md, "Collect+Share requests")."""

    REQUIRED_SETTING = "REQUESTS_TABLE"

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        return [_plain(i) for i in self.query(**kwargs)]

    def create(self, new: NewRequest) -> None:
        operations = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": _wire(item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for item in new_request_items(new)
        ]
        self.client.transact_write_items(TransactItems=operations)

    def get_request(self, request_id: str) -> RequestRecord | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=_wire({"pk": request_pk(request_id), "sk": META_SK}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return request_from_item(_plain(item)) if item else None

    def request_items(self, request_id: str) -> list[RequestPart]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=_wire({":pk": request_pk(request_id)}),
            ConsistentRead=True,
        )
        return [part for part in map(request_part, items) if part is not None]

    def submission_items(
        self, request_id: str, submission_id: str
    ) -> tuple[SubmissionRecord | None, list[CheckRecord]]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
            ExpressionAttributeValues=_wire(
                {":pk": request_pk(request_id), ":sk": submission_sk(submission_id)}
            ),
            ConsistentRead=True,
        )
        sub = next((submission_from_item(i) for i in items if i.get("type") == "submission"), None)
        return sub, [check_from_item(i) for i in items if i.get("type") == "check"]

    def list_by_requester(
        self, requester_sub: str, *, limit: int, cursor: str | None
    ) -> tuple[list[RequestRecord], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": REQUESTS_INDEX,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": _wire({":pk": requester_gsi_key(requester_sub)}),
            "ScanIndexForward": False,  # newest first
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = _decode_cursor(cursor, requester_sub)
        response = self.client.query(**kwargs)
        requests = [request_from_item(_plain(i)) for i in response.get("Items", [])]
        return requests, _encode_cursor(response.get("LastEvaluatedKey"))

    def set_status(self, request_id: str, status: RequestStatus, at: str) -> bool:
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
                                {":new": str(status), ":at": at, ":open": str(RequestStatus.OPEN)}
                            ),
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table_name,
                            "Key": _wire({"pk": OPEN_PK, "sk": request_pk(request_id)}),
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def find_token(self, token_hash: str) -> TokenRecord | None:
        response = self.client.query(
            TableName=self.table_name,
            IndexName=REQUESTS_INDEX,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=_wire({":pk": token_gsi_key(token_hash)}),
            Limit=2,
        )
        items = [_plain(i) for i in response.get("Items", [])]
        if len(items) != 1 or items[0].get("type") != "token":
            return None
        return token_from_item(items[0])

    def put_token(self, token: TokenRecord) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item=_wire(token_item(token)),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def revoke_tokens(self, request_id: str, submission_id: str | None, at: str) -> int:
        prefix = token_sk_prefix(submission_id)
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
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues=_wire({":pk": OPEN_PK})
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

    # -- stored schemas (witan.collect.requests.schemas) -----------------------------------------

    def get_stored_schema(self, name: str) -> str | None:
        """The descriptor JSON of stored schema `name`, or None."""
        response = self.client.get_item(
            TableName=self.table_name,
            Key=_wire({"pk": stored_schema_pk(name), "sk": META_SK}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return str(_plain(item)["descriptor"]) if item and "descriptor" in item else None

    def put_stored_schema(self, name: str, descriptor: Mapping[str, Any], *, created_by: str) -> bool:
        """Store a schema once; False if the name is taken (stored schemas are immutable)."""
        item = {
            "pk": stored_schema_pk(name),
            "sk": META_SK,
            "type": "schema",
            "gsi1pk": SCHEMAS_KEY,
            "gsi1sk": name,
            "name": name,
            "descriptor": json.dumps(descriptor, sort_keys=True),
            "created_by": created_by or None,
        }
        try:
            self.client.put_item(
                TableName=self.table_name, Item=_wire(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def list_stored_schemas(self) -> list[StoredSchema]:
        """The stored schemas by name (the first MAX_STORED_SCHEMAS_LISTED)."""
        response = self.client.query(
            TableName=self.table_name,
            IndexName=REQUESTS_INDEX,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=_wire({":pk": SCHEMAS_KEY}),
            Limit=MAX_STORED_SCHEMAS_LISTED,
        )
        items = [_plain(i) for i in response.get("Items", [])]
        return [StoredSchema(str(i["name"]), str(i.get("created_by") or "")) for i in items if i.get("name")]


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
