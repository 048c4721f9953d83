"""AWS adapter for audit seals: heads read from the audit table, signed with KMS, stored in S3 under
Object Lock (witan.audit.seal holds the logic).

Signing: a KMS asymmetric key (ECC_NIST_P256, ECDSA_SHA_256). Only the sealer's role may call
kms:Sign (its key policy denies it to every other principal); readers verify with kms:Verify. An
HMAC key would need the verifier to hold a key that can also make valid tags (kms:VerifyMac and
kms:GenerateMac are separate permissions, but an asymmetric key also lets anyone check a seal
offline with the public key, without any AWS permission).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from witan.audit.chain import DIGEST_CHAIN, EVENT_CHAIN_PREFIX, Problem, VerifyResult, plain
from witan.audit.records import AuditReadError
from witan.audit.seal import (
    BAD_SEAL,
    NO_SEAL,
    SEAL_PREFIX,
    SIGNING_ALGORITHM,
    SealError,
    continue_heads,
    day_prefix,
    head_of_item,
    parse_seal,
    seal_document,
    seal_key,
    seal_object,
    signed_message,
)
from witan.aws.audit_table import _error_code, default_chains, from_wire, newest_item, verify

logger = logging.getLogger(__name__)

# How many of the newest seals verification checks. The newest valid seal vouches, through the hash
# links, for every item up to its heads; a few more cover a seal made while an attack was under way.
DEFAULT_SEALS_CHECKED = 3
# How far back (days) verification looks for seals before saying there are none.
SEARCH_DAYS = 35


class SealWriteError(Exception):
    """A seal could not be signed or stored."""


class KmsSigner:
    """Signs and verifies seal messages with a KMS asymmetric key."""

    def __init__(self, key_id: str, client: Any = None) -> None:
        self.key_id = key_id
        # Any: the stubs want the algorithm as a literal, and witan.audit.seal names it as a str.
        self.client: Any = client if client is not None else boto3.client("kms")

    def sign(self, message: bytes) -> bytes:
        response = self.client.sign(
            KeyId=self.key_id, Message=message, MessageType="RAW", SigningAlgorithm=SIGNING_ALGORITHM
        )
        return bytes(response["Signature"])

    def verify(self, message: bytes, signature: bytes, key_id: str | None = None) -> bool:
        # Always our key: a seal naming another key is checked against ours and fails.
        try:
            response = self.client.verify(
                KeyId=self.key_id,
                Message=message,
                MessageType="RAW",
                Signature=signature,
                SigningAlgorithm=SIGNING_ALGORITHM,
            )
        except ClientError as exc:
            if _error_code(exc) == "KMSInvalidSignatureException":
                return False
            raise
        return bool(response.get("SignatureValid"))


@dataclass
class LoadedSeals:
    documents: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


class S3SealStore:
    """Seal objects in the seal bucket (Object Lock: the bucket's default retention applies)."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self.client = client if client is not None else boto3.client("s3")

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            # Object Lock uploads need an integrity checksum (S3 refuses them without one).
            ChecksumAlgorithm="SHA256",
        )

    def newest_keys(self, count: int, now: datetime, search_days: int = SEARCH_DAYS) -> list[str]:
        """The `count` newest seal keys, looking back day by day (keys sort by time)."""
        found: list[str] = []
        for back in range(search_days + 1):
            keys = sorted(self._list(day_prefix(now - timedelta(days=back))))
            found = keys[-(count - len(found)) :] + found if keys else found
            if len(found) >= count:
                break
        return found[-count:]

    def _list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

    def get(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())


def read_heads(table_name: str, client: Any, chains: int) -> dict[str, dict[str, Any]]:
    """Every chain's head (events#0..K-1 and the digest chain), from consistent Queries."""
    heads: dict[str, dict[str, Any]] = {}
    for chain in [f"{EVENT_CHAIN_PREFIX}{k}" for k in range(chains)] + [DIGEST_CHAIN]:
        try:
            item = newest_item(client, table_name, chain)
        except (ClientError, BotoCoreError) as exc:
            raise AuditReadError(f"audit table {table_name} unreadable: {_error_code(exc)}") from exc
        if item:
            heads[chain] = head_of_item(from_wire(item))
    return heads


@dataclass
class SealOutcome:
    key: str
    disputed: list[Problem] = field(default_factory=list)  # sealed heads the table no longer holds


def stored_hashes(
    table_name: str, client: Any, heads: Mapping[str, Mapping[str, Any]]
) -> dict[tuple[str, int], str | None]:
    """The table's hash at each (chain, seq) of `heads` (None where the item is gone)."""
    found: dict[tuple[str, int], str | None] = {}
    for chain, head in heads.items():
        seq = head.get("seq")
        if not isinstance(seq, int):
            continue
        try:
            response = client.get_item(
                TableName=table_name,
                Key={"chain": {"S": chain}, "seq": {"N": str(seq)}},
                ProjectionExpression="#h",
                ExpressionAttributeNames={"#h": "hash"},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise AuditReadError(f"audit table {table_name} unreadable: {_error_code(exc)}") from exc
        item = response.get("Item")
        found[(chain, seq)] = str(from_wire(item).get("hash")) if item else None
    return found


def write_seal(
    table_name: str,
    dynamodb: Any,
    signer: KmsSigner,
    store: S3SealStore,
    *,
    trigger: str,
    chains: int | None = None,
    retention_days: int | None = None,
    now: datetime | None = None,
) -> SealOutcome:
    """Read every chain's head, check the previous seal's heads are still there, sign, store.

    A chain whose previously sealed head changed keeps that head in the new seal (witan.audit.seal.
    continue_heads), and the outcome lists it. Raises SealWriteError, AuditReadError."""
    moment = now or datetime.now(UTC)
    heads = read_heads(table_name, dynamodb, chains if chains is not None else default_chains())
    disputed: list[Problem] = []
    previous = load_seals(store, signer, count=1, now=moment).documents
    if previous:
        sealed = previous[-1].get("heads", {})
        stored = stored_hashes(table_name, dynamodb, sealed)
        retention_s = retention_days * 86400 if retention_days is not None else None
        heads, disputed = continue_heads(sealed, heads, stored, int(moment.timestamp()), retention_s)
    document = seal_document(heads, time=moment, table=table_name, trigger=trigger)
    if disputed:
        document["disputed"] = [p.as_dict() for p in disputed]
    key = seal_key(moment, trigger)
    try:
        signature = signer.sign(signed_message(document))
        store.put(key, seal_object(document, signature, signer.key_id))
    except (ClientError, BotoCoreError) as exc:
        raise SealWriteError(f"seal {key} not written: {_error_code(exc)}") from exc
    return SealOutcome(key, disputed)


def load_seals(
    store: S3SealStore, signer: KmsSigner, *, count: int = DEFAULT_SEALS_CHECKED, now: datetime | None = None
) -> LoadedSeals:
    """The newest `count` seals whose signatures verify; the others as bad_seal problems."""
    loaded = LoadedSeals()
    moment = now or datetime.now(UTC)
    try:
        keys = store.newest_keys(count, moment)
    except (ClientError, BotoCoreError) as exc:
        raise AuditReadError(f"seal bucket {store.bucket} unreadable: {_error_code(exc)}") from exc
    for key in keys:
        try:
            document, signature = parse_seal(store.get(key))
            valid = signer.verify(signed_message(document), signature)
        except SealError as exc:
            loaded.problems.append(Problem(key, None, BAD_SEAL, str(exc)))
            continue
        except (ClientError, BotoCoreError) as exc:
            raise AuditReadError(f"seal {key} unreadable: {_error_code(exc)}") from exc
        if not valid:
            loaded.problems.append(Problem(key, None, BAD_SEAL, "the signature does not verify"))
            continue
        loaded.documents.append(document)
        loaded.keys.append(key)
    if not keys:
        loaded.problems.append(
            Problem(
                SEAL_PREFIX,
                None,
                NO_SEAL,
                f"no seal in s3://{store.bucket}/{SEAL_PREFIX} (last {SEARCH_DAYS} days)",
            )
        )
    return loaded


def verify_sealed(
    table_name: str,
    dynamodb: Any,
    store: S3SealStore,
    signer: KmsSigner,
    *,
    retention_days: int | None,
    chains: int | None = None,
    count: int = DEFAULT_SEALS_CHECKED,
    now: datetime | None = None,
) -> VerifyResult:
    """`verify` against the newest signed seals: chains, digests, seals, retention. Raises AuditReadError."""
    loaded = load_seals(store, signer, count=count, now=now)
    result = verify(
        table_name, dynamodb, now, chains=chains, retention_days=retention_days, seals=loaded.documents
    )
    result.problems.extend(loaded.problems)
    return result


def plain_stream_records(records: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """The audit table's stream records with their keys and images as plain values (what
    witan.audit.seal.stream_alerts reads): DynamoDB's typed attributes stay in this adapter."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    for record in records:
        data = dict(record.get("dynamodb") or {})
        for name in ("Keys", "OldImage", "NewImage"):
            if name in data:
                data[name] = {k: plain(deserializer.deserialize(v)) for k, v in (data[name] or {}).items()}
        yield {**record, "dynamodb": data}
