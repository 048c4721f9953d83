"""Seal documents, the check of signed heads against the table, and the stream check (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from witan.audit.chain import format_time
from witan.audit.seal import (
    ALERT_EARLY_TTL,
    ALERT_MODIFY,
    ALERT_REMOVE,
    ALERT_SHORT_EXPIRY,
    SEAL_MISMATCH,
    SEAL_MISSING,
    check_seals,
    parse_seal,
    seal_document,
    seal_key,
    seal_object,
    signed_message,
    stream_alerts,
    unsealed,
)

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
NOW = int(T0.timestamp()) + 3600
DAY = 86400
RETENTION_DAYS = 10


def _head(seq: int, digest: str, expires_at: int, time: datetime = T0) -> dict[str, object]:
    return {"seq": seq, "hash": digest, "expires_at": expires_at, "time": format_time(time)}


def _seal(heads: dict[str, dict[str, object]]) -> dict[str, object]:
    return seal_document(heads, time=T0, table="audit", trigger="test")


def test_seal_object_round_trip_and_message() -> None:
    document = _seal({"events#0": _head(3, "c" * 64, NOW + 10 * DAY)})
    parsed, signature = parse_seal(seal_object(document, b"\x01\x02", "key-1"))
    assert parsed == document and signature == b"\x01\x02"
    assert signed_message(parsed) == signed_message(document)
    changed = {**document, "heads": {"events#0": _head(2, "c" * 64, NOW + 10 * DAY)}}
    assert signed_message(changed) != signed_message(document)
    assert len(signed_message(document)) < 4096  # KMS RAW signing limit


def test_seal_keys_sort_by_time_and_never_repeat() -> None:
    first, second = seal_key(T0, "stream"), seal_key(T0.replace(minute=31), "schedule")
    assert first.startswith("seals/2026/01/05/") and first < second
    assert seal_key(T0, "stream") != first


def test_check_seals_kinds() -> None:
    index = {"events#0": {1: "a" * 64, 2: "b" * 64}, "events#1": {1: "x" * 64}}
    seal = _seal(
        {
            "events#0": _head(2, "b" * 64, NOW + 10 * DAY),  # intact
            "events#1": _head(1, "y" * 64, NOW + 10 * DAY),  # overwritten / rebuilt
            "events#2": _head(4, "z" * 64, NOW + 10 * DAY),  # deleted
            "digest": _head(1, "d" * 64, NOW - 1, time=datetime(2025, 1, 1, tzinfo=UTC)),  # expired
        }
    )
    problems = check_seals(index, [seal], NOW, RETENTION_DAYS * DAY)
    assert [(p.chain, p.seq, p.kind) for p in problems] == [
        ("events#1", 1, SEAL_MISMATCH),
        ("events#2", 4, SEAL_MISSING),
    ]
    # A sealed head that expired before its retention is missing, not legitimately expired.
    early = _seal({"events#0": _head(3, "q" * 64, NOW - 1)})
    assert [p.kind for p in check_seals(index, [early], NOW, RETENTION_DAYS * DAY)] == [SEAL_MISSING]
    assert check_seals(index, [early], NOW) == []  # without a retention to check against


def test_unsealed_counts_items_after_the_newest_seal() -> None:
    index = {"events#0": {1: "a", 2: "b", 3: "c"}, "events#1": {1: "x"}}
    assert unsealed(index, []) == 4
    assert unsealed(index, [_seal({"events#0": _head(2, "b", NOW)})]) == 2


def _record(name: str, image: dict[str, object], *, ttl: bool = False) -> dict[str, object]:
    data: dict[str, object] = {"Keys": {"chain": "events#0", "seq": 7}}
    data["OldImage" if name != "INSERT" else "NewImage"] = image
    record: dict[str, object] = {"eventName": name, "dynamodb": data}
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


def test_stream_alerts() -> None:
    written = format_time(T0)
    full = {"time": written, "expires_at": int(T0.timestamp()) + RETENTION_DAYS * DAY}
    short = {"time": written, "expires_at": int(T0.timestamp()) + DAY}
    records = [
        _record("INSERT", full),
        _record("INSERT", short),
        _record("MODIFY", full),
        _record("REMOVE", full),
        _record("REMOVE", full, ttl=True),
        _record("REMOVE", short, ttl=True),
    ]
    alerts = stream_alerts(records, RETENTION_DAYS)
    assert [a.kind for a in alerts] == [ALERT_SHORT_EXPIRY, ALERT_MODIFY, ALERT_REMOVE, ALERT_EARLY_TTL]
    assert all(a.chain == "events#0" and a.seq == 7 for a in alerts)
    # A principal that only claims to be DynamoDB under another type is still a REMOVE.
    forged = _record("REMOVE", full)
    forged["userIdentity"] = {"type": "AWS", "principalId": "dynamodb.amazonaws.com"}
    assert [a.kind for a in stream_alerts([forged], RETENTION_DAYS)] == [ALERT_REMOVE]


def test_continue_heads_pins_a_tampered_chain() -> None:
    from witan.audit.seal import continue_heads

    previous = {"events#0": _head(2, "b" * 64, NOW + DAY), "events#1": _head(5, "e" * 64, NOW + DAY)}
    now_heads = {"events#0": _head(3, "c" * 64, NOW + DAY), "events#1": _head(6, "f" * 64, NOW + DAY)}
    stored = {("events#0", 2): "b" * 64, ("events#1", 5): "X" * 64}
    heads, problems = continue_heads(previous, now_heads, stored, NOW)
    assert heads["events#0"]["seq"] == 3  # intact: moves on
    assert heads["events#1"] == previous["events#1"]  # rewritten: stays on what was sealed
    assert [(p.chain, p.kind) for p in problems] == [("events#1", SEAL_MISMATCH)]
    heads, problems = continue_heads(previous, now_heads, {("events#0", 2): "b" * 64}, NOW)
    assert [(p.chain, p.kind) for p in problems] == [("events#1", SEAL_MISSING)]
