"""Reading the audit trail through the GSIs in moto: filtered pages, usage report, subject export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aws_stack
import pytest
from dynamo_tables import create_audit_table
from witan.audit.query import (
    encode_token,
    find_events,
    subject_export,
    usage_report,
    usage_report_csv,
)
from witan.audit.records import AuditEvent, AuditReadError
from witan.aws.audit_table import DynamoAuditReader, DynamoAuditTrail
from witan.errors import WitanError

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _populate(client: Any, table: str) -> None:
    """Ann reads/downloads d1 and d2 over two days; Bob is denied once; an admin grants about Ann."""
    times = iter(T0 + timedelta(hours=h) for h in range(100))
    trail = DynamoAuditTrail(table, client, chains=4, clock=lambda: next(times))
    rows = [
        ("ann", "dataset.read", "d1", "allow"),  # day 1
        ("ann", "dataset.download", "d1", "allow"),
        ("bob", "dataset.download", "d1", "deny"),
        ("ann", "dataset.read", "d2", "allow"),
        ("bob", "dataset.read", "d2", "allow"),
    ] + [("ann", "dataset.read", "d1", "allow")] * 20  # hours 5..24: spills into day 2
    for i, (actor, action, ds, decision) in enumerate(rows):
        trail.record(
            AuditEvent(
                action=action,
                decision=decision,
                reason="grant" if decision == "allow" else "no grant",
                status=200 if decision == "allow" else 403,
                actor_sub=actor,
                actor_email=f"{actor}@example.org",
                resource=f"dataset/{ds}",
                request_id=f"q{i}",
            )
        )
    trail.record(
        AuditEvent(
            action="grant.put",
            decision="allow",
            reason="admin",
            status=201,
            actor_sub="admin-1",
            resource="grant/g1",
            request_id="grant-1",
            detail={"subject": "ann", "note": '=HYPERLINK("http://x")'},
        )
    )
    trail.write_digest()


@pytest.fixture(scope="module")
def reader() -> Iterator[DynamoAuditReader]:
    """One populated table for the module: these tests only read it."""
    with pytest.MonkeyPatch.context() as mp, aws_stack.mocked(mp) as aws:
        create_audit_table(aws.ddb, "witan-test-audit-queries")
        _populate(aws.ddb, "witan-test-audit-queries")
        yield DynamoAuditReader("witan-test-audit-queries", aws.ddb)


def test_events_by_dataset_newest_first(reader: DynamoAuditReader) -> None:
    page = find_events(reader, dataset="d2")
    assert [(e["actor_sub"], e["action"]) for e in page.events] == [
        ("bob", "dataset.read"),
        ("ann", "dataset.read"),
    ]
    assert page.next_token is None
    assert page.events[0]["detail"] == {}
    assert page.events[0]["id"].startswith("events#")


def test_events_by_actor_and_action_in_a_time_range(reader: DynamoAuditReader) -> None:
    page = find_events(
        reader,
        actor="bob",
        action="dataset.download",
        since="2026-03-01T00:00:00Z",
        until=T0 + timedelta(hours=3),
    )
    assert [(e["resource"], e["decision"], e["status"]) for e in page.events] == [("dataset/d1", "deny", 403)]
    assert find_events(reader, actor="bob", since=T0 + timedelta(hours=5)).events == []
    both = find_events(reader, actor="ann", dataset="d2")
    assert [e["request_id"] for e in both.events] == ["q3"]


def test_pagination_walks_every_event_once(reader: DynamoAuditReader) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = find_events(reader, actor="ann", action="dataset.read", limit=7, next_token=token)
        pages += 1
        assert len(page.events) <= 7
        seen += [e["request_id"] for e in page.events]
        token = page.next_token
        if token is None:
            break
    assert pages >= 3
    assert len(seen) == len(set(seen)) == 22  # 21 reads of d1/d2 ... plus one of d2
    times = [e["time"] for e in find_events(reader, actor="ann", limit=100).events]
    assert times == sorted(times, reverse=True)


def test_token_from_another_query_is_refused(reader: DynamoAuditReader) -> None:
    token = find_events(reader, actor="ann", limit=2).next_token
    assert token
    with pytest.raises(WitanError) as err:
        find_events(reader, actor="bob", limit=2, next_token=token)
    assert err.value.code == "invalid-next-token"
    with pytest.raises(WitanError) as err:
        find_events(reader, actor="ann", limit=2, next_token="not-a-token")
    assert err.value.code == "invalid-next-token"
    # A well-formed token whose key belongs to another partition is refused as bad input too.
    query = {"resource": None, "actor": "ann", "action": None, "since": None, "until": None}
    forged = encode_token(
        {
            "chain": {"S": "events#0"},
            "seq": {"N": "1"},
            "actor_sub": {"S": "bob"},
            "time": {"S": "2026-03-01T09:00:00.000000Z"},
        },
        query,
    )
    with pytest.raises(WitanError) as err:
        find_events(reader, actor="ann", limit=2, next_token=forged)
    assert err.value.code == "invalid-next-token"


def test_scan_without_actor_or_resource_returns_only_events(reader: DynamoAuditReader) -> None:
    page = find_events(reader, action="grant.put", limit=50)
    assert [e["request_id"] for e in page.events] == ["grant-1"]
    everything: list[dict[str, Any]] = []
    token = None
    while True:
        page = find_events(reader, limit=10, next_token=token)
        everything += page.events
        token = page.next_token
        if token is None:
            break
    assert len(everything) == len({e["id"] for e in everything}) == 26
    assert all(e["type"] == "event" for e in everything)


def test_usage_report_per_day_dataset_and_user(reader: DynamoAuditReader) -> None:
    rows = usage_report(reader)
    table = [(r.day, r.dataset, r.actor_sub, r.reads, r.downloads, r.denied) for r in rows]
    assert table == [
        ("2026-03-01", "d1", "ann", 11, 1, 0),  # events hourly from 09:00: reads at 09:00 and 14:00..23:00
        ("2026-03-01", "d1", "bob", 0, 0, 1),
        ("2026-03-01", "d2", "ann", 1, 0, 0),
        ("2026-03-01", "d2", "bob", 1, 0, 0),
        ("2026-03-02", "d1", "ann", 10, 0, 0),
    ]
    only_d2 = usage_report(reader, dataset="d2")
    assert [(r.actor_sub, r.reads) for r in only_d2] == [("ann", 1), ("bob", 1)]
    day_two = usage_report(reader, since="2026-03-02T00:00:00Z")
    assert [(r.day, r.reads) for r in day_two] == [("2026-03-02", 10)]
    text = usage_report_csv(rows)
    assert text.splitlines()[0] == "day,dataset,actor_sub,actor_email,reads,downloads,denied"
    assert "2026-03-01,d1,ann,ann@example.org,11,1,0" in text


def test_subject_access_export_json_and_csv(reader: DynamoAuditReader) -> None:
    export = subject_export(reader, "ann", now=T0)
    actions = [e["action"] for e in export.events]
    assert len(actions) == 24 and actions.count("grant.put") == 1  # 23 as actor + 1 naming her
    assert all(e["actor_sub"] == "ann" or e["detail"].get("subject") == "ann" for e in export.events)
    as_json = json.loads(export.to_json())
    assert as_json["count"] == 24 and as_json["subject"] == "ann"

    rows = list(csv.DictReader(io.StringIO(export.to_csv())))
    assert len(rows) == 24
    grant = next(r for r in rows if r["action"] == "grant.put")
    assert json.loads(grant["detail"])["subject"] == "ann"
    assert "=HYPERLINK" in grant["detail"] and not grant["detail"].startswith("=")

    by_email = subject_export(reader, "nobody", email="bob@example.org")
    assert {e["actor_sub"] for e in by_email.events} == {"bob"}


def test_read_errors_and_bad_input(reader: DynamoAuditReader) -> None:
    reader = DynamoAuditReader("absent", reader.client)
    with pytest.raises(AuditReadError):
        find_events(reader, actor="ann")
    with pytest.raises(WitanError) as err:
        find_events(reader, actor="ann", since="yesterday")
    assert err.value.code == "invalid-time"
    with pytest.raises(WitanError) as err:
        find_events(reader, actor="ann", limit=0)
    assert err.value.code == "invalid-limit"
    with pytest.raises(WitanError) as err:
        find_events(reader, dataset="d1", resource="dataset/d2")
    assert err.value.code == "conflicting-filters"
    with pytest.raises(WitanError) as err:
        subject_export(reader, " ")
    assert err.value.code == "invalid-subject"


NEXT_KEY = {
    "chain": {"S": "events#1"},
    "seq": {"N": "7"},
    "resource": {"S": "dataset/d1"},
    "time": {"S": "t"},
}
D1_QUERY = {"resource": "dataset/d1", "actor": None, "action": None, "since": None, "until": None}


@pytest.mark.parametrize(
    "key",
    [
        {**NEXT_KEY, "resource": {"S": "dataset/other"}},  # another partition
        {**NEXT_KEY, "seq": {"N": 7}},  # not wire format
        {**NEXT_KEY, "seq": {"B": "x"}},
    ],
)
def test_tokens_outside_the_query_are_refused_by_the_store(reader: DynamoAuditReader, key: Any) -> None:
    """A next_token is not signed: the store takes only key values inside the query's partition."""
    with pytest.raises(WitanError) as err:
        find_events(reader, dataset="d1", next_token=encode_token(key, D1_QUERY))
    assert err.value.code == "invalid-next-token"
    with pytest.raises(WitanError) as err:  # across the chains (no actor or dataset): shape only
        find_events(
            reader, next_token=encode_token({**NEXT_KEY, "seq": {"N": 7}}, {**D1_QUERY, "resource": None})
        )
    assert err.value.code == "invalid-next-token"
