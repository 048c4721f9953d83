"""DynamoDB adapter for the audit trail: append (hash chains), digests, verification and reading.

Table (docs/contracts.md): hash key `chain` (S), range key `seq` (N), TTL `expires_at`, GSIs
`by-actor` (actor_sub, time) and `by-resource` (resource, time). Function roles may only PutItem,
Query and GetItem, so there is no mutable head pointer: appending reads a chain's last item
(consistent Query, newest first, Limit 1) and puts seq+1 with `attribute_not_exists`. A concurrent
writer that got there first makes the put fail its condition; the failure returns the winner's item
(ALL_OLD), we retry once at once on top of it, then back off with full jitter and re-read. After
`max_attempts` rounds we fail closed (AuditWriteError): an event is never written off-chain.

Throughput: one chain commits one item per read+put round trip, whatever the number of writers, and
every extra writer on it adds lost races. Events are therefore spread over K chains `events#0..K-1`
by a hash of the request id (one request's events stay in order on one chain; no request id -> a
random chain), so W concurrent writers meet on a chain about W/K at a time. K is $AUDIT_CHAINS
(default 8); writers and readers must agree, and K must never be lowered on a live table (digests
and the Query-only readers cover events#0..K-1 only). bench_audit.py measures the effect.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import threading
import time as _time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from witan import settings
from witan.audit.chain import (
    DIGEST_CHAIN,
    EVENT_CHAIN_PREFIX,
    GENESIS_HASH,
    AuditEventError,
    VerifyResult,
    compute_hash,
    digest_body,
    event_body,
    expiry,
    verify_groups,
    verify_items,
)
from witan.audit.query import Page
from witan.audit.records import AuditEvent, AuditReadError, AuditWriteError
from witan.aws.dynamo import query_items
from witan.aws.table_shapes import AUDIT
from witan.errors import InvalidNextTokenError

logger = logging.getLogger(__name__)

DEFAULT_DIGEST_EVERY = 100
DEFAULT_MAX_ATTEMPTS = 12
# Index name -> its partition key (by-actor: actor_sub, by-resource: resource; both sorted by time).
INDEX_KEYS = {index.name: index.partition.name for index in AUDIT.indexes}

# A chain's last item: (seq, hash, expires_at, time).
Head = tuple[int, str, int | None, str | None]
_HEAD_ATTRIBUTES = {"#s": "seq", "#h": "hash", "#e": "expires_at", "#t": "time"}

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def default_chains() -> int:
    """K as the stack sets it (Settings.audit_chains), for callers that are not wired (the CLIs)."""
    from witan.settings import Settings

    return Settings.from_env().audit_chains


def make_client(endpoint_url: str | None = None, region_name: str | None = None) -> Any:
    """A DynamoDB client; `endpoint_url` points at the embedded stack (moto server) when given."""
    session = boto3.session.Session()
    region = region_name or session.region_name or "eu-west-2"
    return session.client("dynamodb", endpoint_url=endpoint_url, region_name=region)


def newest_item(
    client: Any, table_name: str, chain: str, attributes: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """A chain's last item (wire form), from a consistent Query newest first; None for an empty chain.
    With `attributes` (placeholder -> name), only those. Raises botocore's errors."""
    projection = {"ProjectionExpression": ", ".join(attributes)} if attributes else {}
    response = client.query(
        TableName=table_name,
        KeyConditionExpression="#c = :c",
        ExpressionAttributeNames={"#c": "chain", **(attributes or {})},
        ExpressionAttributeValues={":c": {"S": chain}},
        ScanIndexForward=False,
        Limit=1,
        ConsistentRead=True,
        **projection,
    )
    items: list[dict[str, Any]] = response.get("Items", [])
    return items[0] if items else None


def to_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items()}


def from_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


@dataclass
class AppendStats:
    """Counters for benchmarks and metrics (updated under a lock: one trail may serve many threads)."""

    appends: int = 0
    conflicts: int = 0  # conditional puts lost to a concurrent writer, each followed by a retry
    digests: int = 0


class DynamoAuditTrail:
    """`AuditTrail` on DynamoDB: append-only, hash-chained, fails closed with AuditWriteError."""

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        *,
        chains: int | None = None,
        digest_every: int = DEFAULT_DIGEST_EVERY,
        retention_days: int | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = _time.sleep,
    ) -> None:
        if not table_name:
            raise ValueError("audit table name is required")
        chains = chains if chains is not None else default_chains()
        if chains < 1 or digest_every < 1 or max_attempts < 1:
            raise ValueError("chains, digest_every and max_attempts must be positive")
        self.table_name = table_name
        self.client = client if client is not None else make_client()
        self.chains = chains
        self.digest_every = digest_every
        self.retention_days = (
            retention_days
            if retention_days is not None
            else settings.Settings.from_env().audit_retention_days
        )
        self.max_attempts = max_attempts
        self._clock = clock or (lambda: datetime.now(UTC))
        self._rng = rng or random.Random()  # jitter and chain choice only; nothing secret
        self._sleep = sleep
        self._lock = threading.Lock()
        self.stats = AppendStats()

    @classmethod
    def from_settings(cls, config: settings.Settings, client: Any = None, **options: Any) -> DynamoAuditTrail:
        """The trail a handler uses: table and retention from the function's environment."""
        return cls(config.audit_table, client, retention_days=config.audit_retention_days, **options)

    # -- writing -----------------------------------------------------------------------------------

    def chain_for(self, event: AuditEvent) -> str:
        """Which event chain this event goes to (stable per request id)."""
        if event.request_id:
            digest = hashlib.sha256(event.request_id.encode("utf-8")).digest()
            return f"{EVENT_CHAIN_PREFIX}{int.from_bytes(digest[:4], 'big') % self.chains}"
        return f"{EVENT_CHAIN_PREFIX}{self._rng.randrange(self.chains)}"

    def record(self, event: AuditEvent) -> str:
        """Append the event to its chain; return its id `chain/seq`. Raises AuditWriteError."""
        chain = self.chain_for(event)

        def build(now: datetime, prev: Head | None) -> dict[str, Any]:
            return event_body(event, time=now, **self._links(now, prev))

        try:
            seq = self._append(chain, build)
        except AuditEventError as exc:
            raise AuditWriteError(f"audit event rejected: {exc}") from exc
        if seq % self.digest_every == 0:
            try:
                self.write_digest()
            except AuditWriteError:
                # The event itself is recorded; a missed digest only widens the window in which tail
                # deletion goes unseen, and the next one (or `witan audit digest`) closes it.
                logger.warning("audit digest after %s/%s failed", chain, seq, exc_info=True)
        return f"{chain}/{seq}"

    def write_digest(self) -> str:
        """Append a digest recording every event chain's current head; return its id."""
        heads: dict[str, dict[str, Any]] = {}
        for k in range(self.chains):
            chain = f"{EVENT_CHAIN_PREFIX}{k}"
            head = self._read_head(chain)
            if head is not None:
                heads[chain] = {"seq": head[0], "hash": head[1], "expires_at": head[2]}

        def build(now: datetime, prev: Head | None) -> dict[str, Any]:
            return digest_body(heads, time=now, **self._links(now, prev))

        seq = self._append(DIGEST_CHAIN, build)
        with self._lock:
            self.stats.digests += 1
        return f"{DIGEST_CHAIN}/{seq}"

    def _links(self, now: datetime, prev: Head | None) -> dict[str, Any]:
        """What a new item records of the head it follows (none: the genesis), and its own expiry."""
        return {
            "prev_hash": prev[1] if prev else GENESIS_HASH,
            "prev_expires_at": prev[2] if prev else None,
            "prev_time": prev[3] if prev else None,
            "expires_at": expiry(now, self.retention_days),
        }

    def _read_head(self, chain: str) -> Head | None:
        """(seq, hash, expires_at, time) of the chain's last item, or None for an empty chain."""
        try:
            item = newest_item(self.client, self.table_name, chain, _HEAD_ATTRIBUTES)
        except (ClientError, BotoCoreError) as exc:
            raise AuditWriteError(f"audit table {self.table_name} unreadable: {_error_code(exc)}") from exc
        return _head_of(item) if item else None

    def _append(self, chain: str, build: Callable[[datetime, Head | None], dict[str, Any]]) -> int:
        """Conditional append at head+1; on conflict retry, backing off with jitter; fail closed.

        Each attempt reads the head and puts head+1. A lost race returns the winner's item
        (ReturnValuesOnConditionCheckFailure=ALL_OLD), which is the new head, so we first retry at
        once on top of it (one PutItem, no read). Losing that too means the chain is busy: back off
        with full jitter and start the next attempt from a fresh read (others appended meanwhile).
        """
        for attempt in range(self.max_attempts):
            head = self._read_head(chain)
            for _quick_retry in range(2):
                seq = self._put_next(chain, head, build)
                if isinstance(seq, int):
                    with self._lock:
                        self.stats.appends += 1
                    return seq
                with self._lock:
                    self.stats.conflicts += 1
                head = seq[1]
                if head is None:
                    break
            self._sleep(self._rng.uniform(0, min(0.2, 0.004 * (2**attempt))))
        raise AuditWriteError(f"audit chain {chain} busy: gave up after {self.max_attempts} attempts")

    def _put_next(
        self,
        chain: str,
        head: Head | None,
        build: Callable[[datetime, Head | None], dict[str, Any]],
    ) -> int | tuple[None, Head | None]:
        """Put the item after `head`: its seq, or (None, the winner's head) if the seq was taken."""
        seq = head[0] + 1 if head else 1
        body = build(self._clock(), head)
        item = {**body, "chain": chain, "seq": seq, "hash": compute_hash(body)}
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_wire(item),
                ConditionExpression="attribute_not_exists(#c)",
                ExpressionAttributeNames={"#c": "chain"},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise AuditWriteError(f"audit write to {self.table_name} failed: {_error_code(exc)}") from exc
            # ALL_OLD puts the winner's item beside the error (botocore's types do not say so).
            old: Mapping[str, Any] | None = getattr(exc, "response", {}).get("Item")
            winner = _head_of(old)
            return None, winner if winner is not None and winner[0] == seq else None
        except BotoCoreError as exc:
            raise AuditWriteError(f"audit write to {self.table_name} failed: {_error_code(exc)}") from exc
        return seq


def _head_of(wire_item: Mapping[str, Any] | None) -> Head | None:
    """(seq, hash, expires_at, time) of an item in wire format, or None if it lacks them."""
    if not wire_item:
        return None
    try:
        item = from_wire(wire_item)
        expires = item.get("expires_at")
        written = item.get("time")
        return (
            int(item["seq"]),
            str(item["hash"]),
            int(expires) if expires is not None else None,
            str(written) if written is not None else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


# -- verification ----------------------------------------------------------------------------------


def scan_items(table_name: str, client: Any) -> Iterator[dict[str, Any]]:
    """Every item in the table (consistent reads), as plain Python values."""
    kwargs: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        try:
            response = client.scan(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise AuditReadError(f"audit table {table_name} unreadable: {_error_code(exc)}") from exc
        for item in response.get("Items", []):
            yield from_wire(item)
        if "LastEvaluatedKey" not in response:
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def query_chain_items(table_name: str, client: Any, chain: str) -> Iterator[dict[str, Any]]:
    """Every item of one chain in seq order (consistent reads)."""
    items = query_items(
        client,
        TableName=table_name,
        KeyConditionExpression="#c = :c",
        ExpressionAttributeNames={"#c": "chain"},
        ExpressionAttributeValues={":c": {"S": chain}},
        ConsistentRead=True,
    )
    try:
        for item in items:
            yield from_wire(item)
    except (ClientError, BotoCoreError) as exc:
        raise AuditReadError(f"audit table {table_name} unreadable: {_error_code(exc)}") from exc


def verify(
    table_name: str,
    client: Any = None,
    now: datetime | None = None,
    *,
    chains: int | None = None,
    retention_days: int | None = None,
    seals: Sequence[Mapping[str, Any]] = (),
) -> VerifyResult:
    """Verify every chain and digest, and the heads signed in `seals`. Raises AuditReadError.

    By default the whole table is scanned, which also finds items slipped into chains no writer
    uses (operators: needs dynamodb:Scan). With `chains=K` only events#0..K-1 and the digest chain
    are read, with Query alone, as a function role may. With `retention_days` (the shortest ever
    configured) an expiry shorter than it, or a TTL removal before it, is reported.
    """
    client = client if client is not None else make_client()
    options: dict[str, Any] = {"now": now, "retention_days": retention_days, "seals": seals}
    if chains is None:
        return verify_items(scan_items(table_name, client), **options)
    names = sorted([f"{EVENT_CHAIN_PREFIX}{k}" for k in range(chains)] + [DIGEST_CHAIN])
    groups = ((name, query_chain_items(table_name, client, name)) for name in names)
    result = verify_groups(groups, **options)
    result.chains = {name: n for name, n in result.chains.items() if n}  # as a scan reports them
    return result


# -- reading (the AuditReader port of witan.audit.query) ----------------------------------------------


def _continuation(key: Mapping[str, Any], attribute: str | None = None, value: str = "") -> dict[str, Any]:
    """A continuation key that came back in a client's next_token. The token is not signed, so it may
    only hold table key values (strings, numbers) and must stay inside the query's partition."""
    well_formed = all(
        isinstance(v, dict)
        and len(v) == 1
        and next(iter(v)) in ("S", "N")
        and isinstance(next(iter(v.values())), str)
        for v in key.values()
    )
    if not well_formed or (attribute is not None and key.get(attribute) != {"S": value}):
        raise InvalidNextTokenError("next_token does not fit this query")
    return dict(key)


class DynamoAuditReader:
    """Queries the audit table for witan.audit.query; keys it returns are DynamoDB wire-format JSON."""

    def __init__(self, table_name: str, client: Any = None, *, chains: int | None = None) -> None:
        self.table_name = table_name
        self.client = client if client is not None else make_client()
        self.chains = chains if chains is not None else default_chains()

    def query_index(
        self,
        index: str,
        key_value: str,
        *,
        since: str | None,
        until: str | None,
        filters: Mapping[str, str],
        limit: int,
        start_key: Mapping[str, Any] | None,
        newest_first: bool = True,
    ) -> Page:
        if index not in INDEX_KEYS:
            raise ValueError(f"unknown index {index!r}")
        names = {"#k": INDEX_KEYS[index], "#t": "time"}
        values: dict[str, Any] = {":k": key_value}
        condition = "#k = :k"
        if since and until:
            condition += " AND #t BETWEEN :since AND :until"
            values.update({":since": since, ":until": until})
        elif since:
            condition += " AND #t >= :since"
            values[":since"] = since
        elif until:
            condition += " AND #t <= :until"
            values[":until"] = until
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        filter_expr = _equality_filter(filters, (), names, values)
        if filter_expr:
            kwargs["FilterExpression"] = filter_expr
        kwargs["ExpressionAttributeNames"] = _used(names, condition, filter_expr)
        kwargs["ExpressionAttributeValues"] = {k: _serializer.serialize(v) for k, v in values.items()}
        if start_key:
            kwargs["ExclusiveStartKey"] = _continuation(start_key, INDEX_KEYS[index], key_value)
        return self._call("query", kwargs)

    def query_chains(
        self,
        *,
        since: str | None,
        until: str | None,
        filters: Mapping[str, str],
        any_of: Sequence[tuple[str, str]] = (),
        limit: int,
        start_key: Mapping[str, Any] | None,
    ) -> Page:
        """Events across all chains, chain by chain in seq order, filtered server-side.

        One Query per event chain rather than a Scan: function roles get Query but not Scan, and
        the chains are few and known (events#0..K-1). The continuation key is a table key; moving on
        to the next chain is written as that chain with seq 0 ("start after 0").
        """
        chain_index, key = 0, None
        if start_key:
            start_key = _continuation(start_key)
            chain_name = start_key.get("chain", {}).get("S", "")
            index_text = chain_name.removeprefix(EVENT_CHAIN_PREFIX)
            if not chain_name.startswith(EVENT_CHAIN_PREFIX) or not index_text.isdigit():
                raise InvalidNextTokenError("next_token does not fit this query")
            chain_index, key = int(index_text), dict(start_key)
            if chain_index >= self.chains:
                return Page(items=[], next_key=None)
        names: dict[str, str] = {"#c": "chain", "#t": "time"}
        values: dict[str, Any] = {":c": f"{EVENT_CHAIN_PREFIX}{chain_index}"}
        parts = []
        if since:
            parts.append("#t >= :since")
            values[":since"] = since
        if until:
            parts.append("#t <= :until")
            values[":until"] = until
        equality = _equality_filter(filters, any_of, names, values)
        if equality:
            parts.append(equality)
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#c = :c",
            "Limit": limit,
        }
        if parts:
            kwargs["FilterExpression"] = " AND ".join(parts)
        kwargs["ExpressionAttributeNames"] = _used(names, "#c", kwargs.get("FilterExpression", ""))
        kwargs["ExpressionAttributeValues"] = {k: _serializer.serialize(v) for k, v in values.items()}
        if key and key.get("seq") != {"N": "0"}:
            kwargs["ExclusiveStartKey"] = key
        page = self._call("query", kwargs)
        if page.next_key is None and chain_index + 1 < self.chains:
            page.next_key = {"chain": {"S": f"{EVENT_CHAIN_PREFIX}{chain_index + 1}"}, "seq": {"N": "0"}}
        return page

    def _call(self, operation: str, kwargs: dict[str, Any]) -> Page:
        try:
            response = getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            if "ExclusiveStartKey" in kwargs and _error_code(exc) == "ValidationException":
                # A crafted or corrupted token: the caller's mistake, not an outage.
                raise InvalidNextTokenError("next_token does not fit this query") from exc
            raise AuditReadError(f"audit table {self.table_name} unreadable: {_error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise AuditReadError(f"audit table {self.table_name} unreadable: {_error_code(exc)}") from exc
        return Page(
            items=[from_wire(i) for i in response.get("Items", [])],
            next_key=response.get("LastEvaluatedKey"),
        )


def _used(names: Mapping[str, str], *expressions: str) -> dict[str, str]:
    """DynamoDB rejects placeholders that no expression uses."""
    text = " ".join(expressions)
    return {k: v for k, v in names.items() if re.search(re.escape(k) + r"\b", text)}


def _equality_filter(
    filters: Mapping[str, str],
    any_of: Sequence[tuple[str, str]],
    names: dict[str, str],
    values: dict[str, Any],
) -> str:
    """`a = :v AND ... AND (x = :w OR ...)` with placeholders for every name (many are reserved words)."""
    clauses = []
    for i, (attr, value) in enumerate(sorted(filters.items())):
        names[f"#f{i}"] = attr
        values[f":f{i}"] = value
        clauses.append(f"#f{i} = :f{i}")
    alternatives = []
    for i, (attr, value) in enumerate(any_of):
        names[f"#o{i}"] = attr
        values[f":o{i}"] = value
        alternatives.append(f"#o{i} = :o{i}")
    if alternatives:
        clauses.append("(" + " OR ".join(alternatives) + ")")
    return " AND ".join(clauses)
