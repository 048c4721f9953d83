"""Tampering with the stored audit table is detected by verify, with the right kind of problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from witan.audit.chain import (
    BROKEN_LINK,
    DELETED,
    DIGEST_MISMATCH,
    INSERTED,
    MODIFIED,
    REORDERED,
    TRUNCATED,
    body_of,
    compute_hash,
)
from witan.audit.records import AuditEvent
from witan.aws.audit_table import DynamoAuditTrail, from_wire, to_wire, verify

CHAIN = "events#0"


def _fill(client: Any, table: str, n: int = 6, digest_every: int = 100) -> DynamoAuditTrail:
    trail = DynamoAuditTrail(table, client, chains=1, digest_every=digest_every)
    for i in range(n):
        trail.record(
            AuditEvent(
                action="dataset.download",
                decision="allow",
                reason="grant",
                status=200,
                actor_sub=f"user-{i % 2}",
                resource="dataset/d1",
                request_id=f"r{i}",
            )
        )
    return trail


def _get(client: Any, table: str, seq: int, chain: str = CHAIN) -> dict[str, Any]:
    key = {"chain": {"S": chain}, "seq": {"N": str(seq)}}
    return from_wire(client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])


def _put(client: Any, table: str, item: dict[str, Any]) -> None:
    client.put_item(TableName=table, Item=to_wire(item))


def _delete(client: Any, table: str, seq: int, chain: str = CHAIN) -> None:
    client.delete_item(TableName=table, Key={"chain": {"S": chain}, "seq": {"N": str(seq)}})


def _problems(client: Any, table: str) -> list[tuple[str, int | float | None, str]]:
    return [(p.chain, p.seq, p.kind) for p in verify(table, client).problems]


def test_intact_table_verifies(dynamodb: Any, audit_table: str) -> None:
    _fill(dynamodb, audit_table).write_digest()
    result = verify(audit_table, dynamodb)
    assert result.ok, result.problems
    assert result.chains == {CHAIN: 6, "digest": 1}


def test_edited_field_is_modified(dynamodb: Any, audit_table: str) -> None:
    _fill(dynamodb, audit_table)
    item = _get(dynamodb, audit_table, 3)
    item["actor_sub"] = "someone-else"
    _put(dynamodb, audit_table, item)
    assert _problems(dynamodb, audit_table) == [(CHAIN, 3, MODIFIED)]


def test_added_attribute_is_modified(dynamodb: Any, audit_table: str) -> None:
    _fill(dynamodb, audit_table)
    item = _get(dynamodb, audit_table, 2)
    item["note"] = "harmless?"
    _put(dynamodb, audit_table, item)
    assert _problems(dynamodb, audit_table) == [(CHAIN, 2, MODIFIED)]


def test_deleted_middle_event_is_deleted(dynamodb: Any, audit_table: str) -> None:
    _fill(dynamodb, audit_table)
    _delete(dynamodb, audit_table, 3)
    assert _problems(dynamodb, audit_table) == [(CHAIN, 3, DELETED)]


def test_deleted_first_event_is_deleted(dynamodb: Any, audit_table: str) -> None:
    _fill(dynamodb, audit_table)
    _delete(dynamodb, audit_table, 1)
    _delete(dynamodb, audit_table, 2)
    problems = verify(audit_table, dynamodb).problems
    assert [(p.seq, p.kind) for p in problems] == [(1, DELETED)]
    assert "1..2" in problems[0].message


def test_deleted_tail_is_caught_by_the_digest(dynamodb: Any, audit_table: str) -> None:
    trail = _fill(dynamodb, audit_table)
    trail.write_digest()
    _delete(dynamodb, audit_table, 6)
    _delete(dynamodb, audit_table, 5)
    assert _problems(dynamodb, audit_table) == [(CHAIN, 5, TRUNCATED)]


def test_tail_deletion_after_the_last_digest_is_not_detectable(dynamodb: Any, audit_table: str) -> None:
    """The documented limit: a chain cannot show that its newest, undigested items were removed."""
    trail = _fill(dynamodb, audit_table, n=4)
    trail.write_digest()
    trail.record(AuditEvent(action="x", decision="allow", reason="r", status=0, request_id="late"))
    _delete(dynamodb, audit_table, 5)
    assert verify(audit_table, dynamodb).ok


def test_automatic_digest_catches_tail_deletion(dynamodb: Any, audit_table: str) -> None:
    _fill(dynamodb, audit_table, n=6, digest_every=3)  # digests written after seq 3 and seq 6
    _delete(dynamodb, audit_table, 6)
    assert _problems(dynamodb, audit_table) == [(CHAIN, 6, TRUNCATED)]


def test_forged_event_inserted_by_renumbering_is_inserted(dynamodb: Any, audit_table: str) -> None:
    """Shift seq 4..6 up by one and slip a forged, correctly hashed event in at seq 4."""
    _fill(dynamodb, audit_table)
    originals = {s: _get(dynamodb, audit_table, s) for s in range(1, 7)}
    for s in (6, 5, 4):
        _put(dynamodb, audit_table, {**originals[s], "seq": s + 1})
    forged_body = {**body_of(originals[4]), "actor_sub": "ghost", "request_id": "forged"}
    forged_body["prev_hash"] = originals[3]["hash"]
    _put(dynamodb, audit_table, {**forged_body, "chain": CHAIN, "seq": 4, "hash": compute_hash(forged_body)})
    assert _problems(dynamodb, audit_table) == [(CHAIN, 4, INSERTED)]


def test_forged_event_at_fractional_seq_is_inserted(dynamodb: Any, audit_table: str) -> None:
    _fill(dynamodb, audit_table)
    base = _get(dynamodb, audit_table, 2)
    body = {**body_of(base), "actor_sub": "ghost"}
    _put(dynamodb, audit_table, {**body, "chain": CHAIN, "seq": Decimal("2.5"), "hash": compute_hash(body)})
    assert [(seq, kind) for _c, seq, kind in _problems(dynamodb, audit_table)] == [(2.5, INSERTED)]


def test_swapped_events_are_reordered(dynamodb: Any, audit_table: str) -> None:
    _fill(dynamodb, audit_table)
    three, four = _get(dynamodb, audit_table, 3), _get(dynamodb, audit_table, 4)
    _put(dynamodb, audit_table, {**three, "seq": 4})
    _put(dynamodb, audit_table, {**four, "seq": 3})
    assert _problems(dynamodb, audit_table) == [(CHAIN, 3, REORDERED), (CHAIN, 4, REORDERED)]


def test_rehashed_edit_breaks_the_link_and_the_digest(dynamodb: Any, audit_table: str) -> None:
    """An attacker who recomputes the edited item's hash still breaks the next link and the digest."""
    trail = _fill(dynamodb, audit_table)
    trail.write_digest()
    item = _get(dynamodb, audit_table, 3)
    body = {**body_of(item), "purpose": "nothing to see"}
    _put(dynamodb, audit_table, {**body, "chain": CHAIN, "seq": 3, "hash": compute_hash(body)})
    assert _problems(dynamodb, audit_table) == [(CHAIN, 4, BROKEN_LINK)]


def test_rewritten_tail_disagrees_with_the_digest(dynamodb: Any, audit_table: str) -> None:
    """Rewriting the whole tail consistently still contradicts the head a digest recorded."""
    trail = _fill(dynamodb, audit_table)
    trail.write_digest()
    prev = _get(dynamodb, audit_table, 4)["hash"]
    for s in (5, 6):
        body = {**body_of(_get(dynamodb, audit_table, s)), "purpose": "rewritten", "prev_hash": prev}
        prev = compute_hash(body)
        _put(dynamodb, audit_table, {**body, "chain": CHAIN, "seq": s, "hash": prev})
    assert _problems(dynamodb, audit_table) == [(CHAIN, 6, DIGEST_MISMATCH)]


def test_expired_items_removed_by_ttl_are_not_tampering(dynamodb: Any, audit_table: str) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    times = iter([start, start, start + timedelta(days=40), start + timedelta(days=40)])
    trail = DynamoAuditTrail(audit_table, dynamodb, chains=1, retention_days=30, clock=lambda: next(times))
    for i in range(4):
        trail.record(AuditEvent(action="a", decision="allow", reason="r", status=0, request_id=f"t{i}"))
    _delete(dynamodb, audit_table, 1)  # what DynamoDB TTL does once expires_at has passed
    _delete(dynamodb, audit_table, 2)
    now = start + timedelta(days=35)
    result = verify(audit_table, dynamodb, now=now)
    assert result.ok and result.expired_gaps == 1
    _delete(dynamodb, audit_table, 3)  # not yet expired at `now`: tampering
    assert [(p.seq, p.kind) for p in verify(audit_table, dynamodb, now=now).problems] == [(1, DELETED)]


@pytest.mark.parametrize("field", ["hash", "prev_hash"])
def test_item_without_chain_fields_is_malformed(dynamodb: Any, audit_table: str, field: str) -> None:
    _fill(dynamodb, audit_table, n=2)
    item = _get(dynamodb, audit_table, 2)
    del item[field]
    _put(dynamodb, audit_table, item)
    assert _problems(dynamodb, audit_table) == [(CHAIN, 2, "malformed")]
