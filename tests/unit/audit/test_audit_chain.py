"""Pure hash-chain logic: canonical JSON, hashing, record bodies and verification of item sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from witan.audit.chain import (
    BROKEN_LINK,
    DELETED,
    DIGEST_CHAIN,
    DIGEST_MISMATCH,
    GENESIS_HASH,
    INSERTED,
    MALFORMED,
    MODIFIED,
    REORDERED,
    TRUNCATED,
    AuditEventError,
    body_of,
    canonical_json,
    compute_hash,
    digest_body,
    event_body,
    expiry,
    format_time,
    parse_time,
    verify_chain,
    verify_items,
)
from witan.audit.records import AuditEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = int((T0 + timedelta(days=1)).timestamp())
CHAIN = "events#0"


def _event(i: int) -> AuditEvent:
    return AuditEvent(
        action="dataset.read", decision="allow", reason="r", status=200, actor_sub=f"u{i}", request_id=f"r{i}"
    )


def build_chain(
    n: int, chain: str = CHAIN, retention_days: int = 30, start: datetime = T0
) -> list[dict[str, Any]]:
    """What the appender writes: n items linked by prev_hash, keyed (chain, seq)."""
    items: list[dict[str, Any]] = []
    prev, prev_exp = GENESIS_HASH, None
    for i in range(n):
        moment = start + timedelta(minutes=i)
        body = event_body(
            _event(i),
            time=moment,
            prev_hash=prev,
            prev_expires_at=prev_exp,
            expires_at=expiry(moment, retention_days),
        )
        item = {**body, "chain": chain, "seq": i + 1, "hash": compute_hash(body)}
        items.append(item)
        prev, prev_exp = item["hash"], item["expires_at"]
    return items


def kinds(items: list[dict[str, Any]], now: int = NOW) -> list[tuple[Any, str]]:
    problems, _ = verify_chain(CHAIN, items, now)
    return [(p.seq, p.kind) for p in problems]


def test_canonical_json_is_order_independent_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1, "é"]}) == canonical_json({"a": [1, "é"], "b": 1})
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_hash_covers_every_field_including_prev_hash() -> None:
    body = body_of(build_chain(1)[0])
    base = compute_hash(body)
    assert len(base) == 64
    for key in body:
        changed = {**body, key: "tampered" if body[key] != "tampered" else "x"}
        assert compute_hash(changed) != base, key
    assert compute_hash({**body, "extra": None}) != base


def test_values_read_back_from_dynamodb_hash_the_same() -> None:
    item = build_chain(1)[0]
    as_read = {k: Decimal(v) if isinstance(v, int) else v for k, v in item.items()}
    assert compute_hash(body_of(as_read)) == item["hash"]


def test_event_body_fields_and_absent_values() -> None:
    event = AuditEvent(
        action="dataset.download",
        decision="deny",
        reason="no grant",
        status=403,
        actor_sub="",
        actor_groups=("a", "b"),
        detail={"subject": "child-1", "n": 2},
    )
    body = event_body(event, time=T0, prev_hash=GENESIS_HASH, prev_expires_at=None, expires_at=123)
    assert body["time"] == "2026-01-01T00:00:00.000000Z"
    assert body["detail"] == '{"n":2,"subject":"child-1"}'
    assert body["subject"] == "child-1"
    assert body["actor_groups"] == ["a", "b"]
    assert "actor_sub" not in body and "prev_expires_at" not in body and "resource" not in body


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"decision": "perhaps"}, "decision"), ({"action": ""}, "action"), ({"status": True}, "status")],
)
def test_event_body_rejects_bad_events(overrides: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"action": "a", "decision": "allow", "reason": "r", "status": 0, **overrides}
    with pytest.raises(AuditEventError, match=message):
        event_body(AuditEvent(**fields), time=T0, prev_hash=GENESIS_HASH, prev_expires_at=None, expires_at=1)


def test_time_formats_sort_as_time() -> None:
    east = timezone(timedelta(hours=5))
    a = format_time(datetime(2026, 1, 1, 4, 0, tzinfo=east))  # 23:00 UTC the day before
    b = format_time(datetime(2025, 12, 31, 23, 30, tzinfo=UTC))
    assert a == "2025-12-31T23:00:00.000000Z" and a < b
    assert parse_time(a) == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert parse_time("2026-01-01T00:00:00").tzinfo is UTC
    with pytest.raises(AuditEventError):
        format_time(datetime(2026, 1, 1))  # naive
    with pytest.raises(AuditEventError):
        expiry(T0, 0)


def test_intact_chain_has_no_problems() -> None:
    assert kinds(build_chain(5)) == []
    assert kinds(list(reversed(build_chain(5)))) == []  # input order does not matter


def test_modified_item() -> None:
    items = build_chain(5)
    items[2]["reason"] = "edited"
    assert kinds(items) == [(3, MODIFIED)]


def test_deleted_middle_and_prefix() -> None:
    items = build_chain(6)
    assert kinds(items[:2] + items[4:]) == [(3, DELETED)]
    assert kinds(items[1:]) == [(1, DELETED)]


def test_expired_prefix_is_not_a_problem() -> None:
    items = build_chain(4, retention_days=1, start=T0 - timedelta(days=3))
    problems, gaps = verify_chain(CHAIN, items[2:], NOW)
    assert problems == [] and gaps == 1


def test_swap_is_reordered_not_modified() -> None:
    items = build_chain(6)
    items[2]["seq"], items[3]["seq"] = 4, 3
    assert kinds(items) == [(3, REORDERED), (4, REORDERED)]


def test_insertion_by_renumbering() -> None:
    items = build_chain(5)
    for item in items[3:]:
        item["seq"] += 1
    body = {**body_of(items[2]), "actor_sub": "ghost"}
    body["prev_hash"] = items[2]["hash"]
    items.append({**body, "chain": CHAIN, "seq": 4, "hash": compute_hash(body)})
    assert kinds(items) == [(4, INSERTED)]


def test_fractional_seq_is_inserted_and_malformed_items_reported() -> None:
    items = build_chain(3)
    items.append({**items[0], "seq": Decimal("1.5")})
    items.append({"chain": CHAIN, "seq": 9})
    assert kinds(items) == [(1.5, INSERTED), (9, MALFORMED)]


def test_rehashed_edit_is_a_broken_link() -> None:
    items = build_chain(4)
    body = {**body_of(items[1]), "purpose": "edited"}
    items[1] = {**body, "chain": CHAIN, "seq": 2, "hash": compute_hash(body)}
    assert kinds(items) == [(3, BROKEN_LINK)]


def _digest(heads: dict[str, dict[str, Any]], seq: int = 1, prev: str = GENESIS_HASH) -> dict[str, Any]:
    body = digest_body(heads, time=T0, prev_hash=prev, prev_expires_at=None, expires_at=NOW + 10**6)
    return {**body, "chain": DIGEST_CHAIN, "seq": seq, "hash": compute_hash(body)}


def test_digests_catch_truncation_and_rewrites() -> None:
    items = build_chain(5)
    head = {CHAIN: {"seq": 5, "hash": items[4]["hash"], "expires_at": items[4]["expires_at"]}}
    digest = _digest(head)
    assert verify_items([*items, digest], now=T0).ok
    truncated = verify_items([*items[:3], digest], now=T0)
    assert [(p.chain, p.seq, p.kind) for p in truncated.problems] == [(CHAIN, 4, TRUNCATED)]
    rewritten = [*items[:4], {**items[4], "hash": "f" * 64}]
    kinds_found = [p.kind for p in verify_items([*rewritten, digest], now=T0).problems]
    assert kinds_found == [MODIFIED, DIGEST_MISMATCH]
    # A truncated head that has itself expired is TTL at work, not tampering.
    expired_head = {CHAIN: {"seq": 5, "hash": items[4]["hash"], "expires_at": 1}}
    assert verify_items([*items[:3], _digest(expired_head)], now=T0).ok


def test_digest_chain_is_itself_verified() -> None:
    items = build_chain(2)
    head = {CHAIN: {"seq": 2, "hash": items[1]["hash"], "expires_at": items[1]["expires_at"]}}
    d1 = _digest(head)
    d2 = _digest(head, seq=2, prev=d1["hash"])
    assert verify_items([*items, d1, d2], now=T0).ok
    d1["heads"] = {}
    result = verify_items([*items, d1, d2], now=T0)
    assert [(p.chain, p.seq, p.kind) for p in result.problems] == [(DIGEST_CHAIN, 1, MODIFIED)]
    assert result.as_dict()["chains"] == {CHAIN: 2, DIGEST_CHAIN: 2}


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=3, max_value=12), data=st.data())
def test_any_single_tampering_is_detected(n: int, data: st.DataObject) -> None:
    items = build_chain(n)
    i = data.draw(st.integers(min_value=0, max_value=n - 2), label="index")
    action = data.draw(st.sampled_from(["modify", "delete", "swap"]), label="action")
    if action == "modify":
        items[i]["status"] = 500
        expected = [(i + 1, MODIFIED)]
    elif action == "delete":
        del items[i]
        expected = [(i + 1, DELETED)]
    else:
        items[i]["seq"], items[i + 1]["seq"] = i + 2, i + 1
        expected = [(i + 1, REORDERED), (i + 2, REORDERED)]
    assert kinds(items) == expected


def test_items_outside_known_chains_or_of_the_wrong_type_are_inserted() -> None:
    forged_chain = build_chain(2, chain="events#x")
    result = verify_items([*build_chain(2), *forged_chain], now=T0)
    assert [(p.chain, p.seq, p.kind) for p in result.problems] == [("events#x", None, INSERTED)]
    wrong_type = build_chain(2, chain=DIGEST_CHAIN)  # event items posing as digests
    kinds_found = {(p.chain, p.kind) for p in verify_items(wrong_type, now=T0).problems}
    assert kinds_found == {(DIGEST_CHAIN, INSERTED)}
