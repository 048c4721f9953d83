"""Concurrent writers on one chain end with one unforked chain (moto in-process, real threads)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from witan.audit.records import AuditEvent
from witan.aws.audit_table import DynamoAuditTrail, from_wire, verify


@pytest.mark.usefixtures("atomic_conditional_puts")
def test_concurrent_writers_do_not_fork_one_chain(dynamodb: Any, audit_table: str) -> None:
    writers, per_writer = 5, 6

    def slow_clock() -> datetime:
        time.sleep(0.002)  # widen the read-then-put window so writers really race
        return datetime.now(UTC)

    # Generous attempts: this test is about forks, and on a loaded machine one writer can lose many
    # races in a row; giving up (AuditWriteError) is tested separately.
    trails = [
        DynamoAuditTrail(audit_table, dynamodb, chains=1, digest_every=10, clock=slow_clock, max_attempts=100)
        for _ in range(writers)
    ]

    def work(w: int) -> list[str]:
        return [
            trails[w].record(
                AuditEvent(
                    action="dataset.read", decision="allow", reason="r", status=200, request_id=f"w{w}-{i}"
                )
            )
            for i in range(per_writer)
        ]

    with ThreadPoolExecutor(max_workers=writers) as pool:
        ids = [i for batch in pool.map(work, range(writers)) for i in batch]

    total = writers * per_writer
    assert len(ids) == len(set(ids)) == total  # every writer got its own seq
    response = dynamodb.query(
        TableName=audit_table,
        KeyConditionExpression="#c = :c",
        ExpressionAttributeNames={"#c": "chain"},
        ExpressionAttributeValues={":c": {"S": "events#0"}},
        ConsistentRead=True,
    )
    items = [from_wire(i) for i in response["Items"]]
    assert sorted(int(i["seq"]) for i in items) == list(range(1, total + 1))
    assert sorted(i["request_id"] for i in items) == sorted(
        f"w{w}-{i}" for w in range(writers) for i in range(per_writer)
    )
    result = verify(audit_table, dynamodb)
    assert result.ok, result.problems
    assert result.digests >= 1
    print("conflicts retried:", sum(t.stats.conflicts for t in trails))
    assert sum(t.stats.appends for t in trails) == total + sum(t.stats.digests for t in trails)
