"""DynamoAuditTrail against moto: append, hash chain, digests, fail closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from witan.audit.chain import DIGEST_CHAIN, GENESIS_HASH, body_of, compute_hash
from witan.audit.records import AuditEvent, AuditTrail, AuditWriteError
from witan.aws.audit_table import DynamoAuditTrail, from_wire, verify
from witan.settings import Settings


def _event(i: int = 0, **overrides: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "action": "dataset.read",
        "decision": "allow",
        "reason": "grant:file-read via org-camden",
        "status": 200,
        "actor_sub": "user-1",
        "actor_email": "ann@example.org",
        "actor_groups": ("org-camden",),
        "resource": "dataset/send-2025",
        "purpose": "service planning",
        "request_id": f"req-{i}",
        "source_ip": "203.0.113.9",
        "user_agent": "pytest",
        "detail": {"version": 3},
    }
    fields.update(overrides)
    return AuditEvent(**fields)


def _items(client: Any, table: str, chain: str) -> list[dict[str, Any]]:
    response = client.query(
        TableName=table,
        KeyConditionExpression="#c = :c",
        ExpressionAttributeNames={"#c": "chain"},
        ExpressionAttributeValues={":c": {"S": chain}},
        ConsistentRead=True,
    )
    return [from_wire(i) for i in response["Items"]]


def test_record_appends_a_hash_chained_event(dynamodb: Any, audit_table: str) -> None:
    clock_time = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    trail: AuditTrail = DynamoAuditTrail(
        audit_table, dynamodb, chains=1, retention_days=30, clock=lambda: clock_time
    )
    first = trail.record(_event(1))
    second = trail.record(_event(2, decision="deny", status=403, detail={"subject": "child-42"}))
    assert (first, second) == ("events#0/1", "events#0/2")

    items = _items(dynamodb, audit_table, "events#0")
    assert [int(i["seq"]) for i in items] == [1, 2]
    one, two = items
    assert one["prev_hash"] == GENESIS_HASH
    assert two["prev_hash"] == one["hash"]
    assert one["hash"] == compute_hash(body_of(one))
    assert one["time"] == "2026-01-02T03:04:05.678901Z"
    assert int(one["expires_at"]) == int((clock_time + timedelta(days=30)).timestamp())
    assert two["prev_expires_at"] == one["expires_at"]
    assert one["actor_groups"] == ["org-camden"]
    assert two["decision"] == "deny" and int(two["status"]) == 403
    assert two["subject"] == "child-42"
    assert verify(audit_table, dynamodb).ok


def test_retention_defaults_to_settings(
    dynamodb: Any, audit_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "10")
    now = datetime(2026, 5, 1, tzinfo=UTC)
    DynamoAuditTrail(audit_table, dynamodb, chains=1, clock=lambda: now).record(_event())
    (item,) = _items(dynamodb, audit_table, "events#0")
    assert int(item["expires_at"]) == int((now + timedelta(days=10)).timestamp())


def test_events_of_one_request_share_a_chain(dynamodb: Any, audit_table: str) -> None:
    trail = DynamoAuditTrail(audit_table, dynamodb, chains=8)
    ids = [trail.record(_event(request_id="same-request")) for _ in range(3)]
    chains = {i.split("/")[0] for i in ids}
    assert len(chains) == 1
    assert [i.split("/")[1] for i in ids] == ["1", "2", "3"]
    spread = {trail.record(_event(i)).split("/")[0] for i in range(16)}
    assert len(spread) > 1  # distinct request ids spread over the chains


def test_digest_every_n_events_records_heads(dynamodb: Any, audit_table: str) -> None:
    trail = DynamoAuditTrail(audit_table, dynamodb, chains=2, digest_every=3)
    for i in range(7):
        trail.record(_event(request_id=f"r{i}"))
    digests = _items(dynamodb, audit_table, DIGEST_CHAIN)
    assert len(digests) == trail.stats.digests >= 1
    last = digests[-1]
    for chain, head in last["heads"].items():
        chain_items = _items(dynamodb, audit_table, chain)
        at_head = next(i for i in chain_items if int(i["seq"]) == int(head["seq"]))
        assert at_head["hash"] == head["hash"]
    on_demand = trail.write_digest()
    assert on_demand == f"{DIGEST_CHAIN}/{len(digests) + 1}"
    assert verify(audit_table, dynamodb).ok


def test_missing_table_fails_closed(dynamodb: Any) -> None:
    trail = DynamoAuditTrail("no-such-table", dynamodb)
    with pytest.raises(AuditWriteError, match="no-such-table"):
        trail.record(_event())


def test_invalid_event_fails_closed(dynamodb: Any, audit_table: str) -> None:
    trail = DynamoAuditTrail(audit_table, dynamodb)
    with pytest.raises(AuditWriteError, match="decision"):
        trail.record(_event(decision="maybe"))
    with pytest.raises(AuditWriteError, match="status"):
        trail.record(_event(status="200"))


def test_unserialisable_detail_is_kept_as_text(dynamodb: Any, audit_table: str) -> None:
    trail = DynamoAuditTrail(audit_table, dynamodb, chains=1)
    when = datetime(2026, 3, 1, tzinfo=UTC)
    trail.record(_event(detail={"at": when, "n": 1.5}))
    (item,) = _items(dynamodb, audit_table, "events#0")
    assert item["detail"] == '{"at":"2026-03-01 00:00:00+00:00","n":1.5}'
    assert verify(audit_table, dynamodb).ok


def _stale_trail(client: Any, table: str, max_attempts: int) -> DynamoAuditTrail:
    """A writer whose head read always says the chain is empty, as if it lost every race to read it."""
    trail = DynamoAuditTrail(table, client, chains=1, max_attempts=max_attempts, sleep=lambda _s: None)
    trail._read_head = lambda chain: None  # type: ignore[method-assign]
    return trail


def test_lost_race_builds_on_the_winner(dynamodb: Any, audit_table: str) -> None:
    """The conflicting put returns the winning item, and the retry chains onto it."""
    winner_id = DynamoAuditTrail(audit_table, dynamodb, chains=1).record(_event(1))
    loser = _stale_trail(dynamodb, audit_table, max_attempts=2)
    assert loser.record(_event(2)) == "events#0/2"
    assert loser.stats.conflicts == 1 and winner_id == "events#0/1"
    one, two = _items(dynamodb, audit_table, "events#0")
    assert two["prev_hash"] == one["hash"] and two["request_id"] == "req-2"
    assert verify(audit_table, dynamodb).ok


def test_conflicts_are_retried_until_the_attempt_limit(dynamodb: Any, audit_table: str) -> None:
    """A writer that cannot win within its attempts fails closed instead of forking the chain."""
    winner = DynamoAuditTrail(audit_table, dynamodb, chains=1)
    winner.record(_event(1))
    winner.record(_event(2))
    loser = _stale_trail(dynamodb, audit_table, max_attempts=1)
    with pytest.raises(AuditWriteError, match="gave up after 1 attempts"):
        loser.record(_event(3))
    assert loser.stats.conflicts == 2  # lost seq 1, then the quick retry lost seq 2
    assert len(_items(dynamodb, audit_table, "events#0")) == 2


def test_from_settings_uses_table_and_retention(dynamodb: Any, audit_table: str) -> None:
    config = Settings.from_env({"AUDIT_TABLE": audit_table, "AUDIT_RETENTION_DAYS": "3"})
    now = datetime(2026, 6, 1, tzinfo=UTC)
    trail = DynamoAuditTrail.from_settings(config, dynamodb, chains=1, clock=lambda: now)
    trail.record(_event())
    (item,) = _items(dynamodb, audit_table, "events#0")
    assert int(item["expires_at"]) == int((now + timedelta(days=3)).timestamp())


def test_query_only_verify_matches_the_scan(dynamodb: Any, audit_table: str) -> None:
    """Function roles may Query but not Scan: verifying chain by chain finds the same problems."""
    trail = DynamoAuditTrail(audit_table, dynamodb, chains=3, digest_every=4)
    for i in range(9):
        trail.record(_event(i))
    assert verify(audit_table, dynamodb, chains=3).as_dict() == verify(audit_table, dynamodb).as_dict()
    chain, seq = trail.record(_event(99)).split("/")
    dynamodb.delete_item(TableName=audit_table, Key={"chain": {"S": chain}, "seq": {"N": str(int(seq) - 1)}})
    by_query = verify(audit_table, dynamodb, chains=3)
    assert [p.kind for p in by_query.problems] == ["deleted"]
    assert by_query.as_dict() == verify(audit_table, dynamodb).as_dict()


def test_unreachable_endpoint_fails_closed() -> None:
    """No DynamoDB at all (connection refused) is an AuditWriteError too, not a stray botocore error."""
    client = boto3.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
        region_name="eu-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    with pytest.raises(AuditWriteError, match="EndpointConnectionError"):
        DynamoAuditTrail("audit", client).record(_event())
