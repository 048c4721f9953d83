"""Audit trail throughput: concurrent writers x number of chains, over HTTP to a local moto server.

Each writer thread has its own client and DynamoAuditTrail, like separate Lambda instances. For
1, 4 and 16 writers and K = 1 and 8 chains we write the same number of events and report events/s,
conflict retries (conditional puts lost to another writer) and writes that gave up. Then verify
speed: a full-table verify over HTTP, and the pure chain check on items already in memory.

moto's PutItem is not atomic across threads (its condition check and store are separate steps), so
it is serialised here as real DynamoDB's conditional writes are; without that, moto itself can fork.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from moto.dynamodb.models.table import Table
from moto.server import ThreadedMotoServer
from witan.audit.chain import verify_items
from witan.audit.records import AuditEvent, AuditWriteError
from witan.aws.audit_table import DynamoAuditTrail, scan_items, verify

from tests.integration.dynamo_tables import create_audit_table

EVENTS_PER_RUN = int(os.environ.get("BENCH_AUDIT_EVENTS", "160"))
VERIFY_EVENTS = int(os.environ.get("BENCH_AUDIT_VERIFY_EVENTS", "800"))
WRITERS = (1, 4, 16)
CHAINS = (1, 8)


def _atomic_moto_puts() -> None:
    """Serialise moto's put_item (and the reads beside it) as DynamoDB's conditional writes are atomic."""
    lock = threading.RLock()
    for name in ("put_item", "query", "scan"):
        original = getattr(Table, name)

        def locked(self: Table, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(Table, name, functools.wraps(original)(locked))


def _client(endpoint: str) -> Any:
    return boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name="eu-west-2")


def _event(writer: int, i: int) -> AuditEvent:
    return AuditEvent(
        action="dataset.read",
        decision="allow",
        reason="grant:file-read via org-bench",
        status=200,
        actor_sub=f"user-{writer}",
        actor_email=f"user-{writer}@example.org",
        actor_groups=("org-bench",),
        resource=f"dataset/d{i % 5}",
        purpose="benchmark",
        request_id=f"w{writer}-{i}-{time.monotonic_ns()}",
        source_ip="127.0.0.1",
        user_agent="bench_audit",
        detail={"version": 1},
    )


def _write_run(endpoint: str, table: str, writers: int, chains: int, events: int) -> dict[str, Any]:
    create_audit_table(_client(endpoint), table)
    per_writer = max(1, events // writers)
    trails = [DynamoAuditTrail(table, _client(endpoint), chains=chains) for _ in range(writers)]
    failures = [0] * writers

    def work(w: int) -> None:
        for i in range(per_writer):
            try:
                trails[w].record(_event(w, i))
            except AuditWriteError:
                failures[w] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(work, range(writers)))
    elapsed = time.perf_counter() - start
    written = writers * per_writer - sum(failures)
    result = verify(table, _client(endpoint))
    return {
        "writers": writers,
        "chains": chains,
        "events": written,
        "seconds": elapsed,
        "rate": written / elapsed,
        "conflicts": sum(t.stats.conflicts for t in trails),
        "gave_up": sum(failures),
        "intact": result.ok,
    }


def main() -> int:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    _atomic_moto_puts()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    ok = True
    try:
        print(f"audit writes: {EVENTS_PER_RUN} events per run, moto server over HTTP at {endpoint}")
        header = f"{'writers':>7} {'chains':>6} {'events':>6} {'seconds':>8} {'events/s':>9} {'retries':>8} "
        print(header + f"{'retries/ev':>10} {'gave up':>7} {'verify':>7}")
        for chains in CHAINS:
            for writers in WRITERS:
                r = _write_run(endpoint, f"bench-w{writers}-k{chains}", writers, chains, EVENTS_PER_RUN)
                ok = ok and r["intact"]
                per_event = r["conflicts"] / max(1, r["events"])
                print(
                    f"{r['writers']:>7} {r['chains']:>6} {r['events']:>6} {r['seconds']:>8.2f} "
                    f"{r['rate']:>9.1f} {r['conflicts']:>8} {per_event:>10.2f} {r['gave_up']:>7} "
                    f"{'intact' if r['intact'] else 'BROKEN':>7}",
                    flush=True,
                )

        # Verify speed on a bigger table, filled with 8 writers over 8 chains.
        table = "bench-verify"
        fill = _write_run(endpoint, table, 8, 8, VERIFY_EVENTS)
        client = _client(endpoint)
        start = time.perf_counter()
        items = list(scan_items(table, client))
        scanned = time.perf_counter() - start
        start = time.perf_counter()
        result = verify_items(items)
        checked = time.perf_counter() - start
        ok = ok and result.ok
        print(f"\nverify: {len(items)} items ({fill['events']} events + {result.digests} digests)")
        print(f"{'step':<28} {'seconds':>8} {'items/s':>9}")
        print(f"{'scan over HTTP':<28} {scanned:>8.2f} {len(items) / scanned:>9.0f}")
        print(f"{'chain check (in memory)':<28} {checked:>8.3f} {len(items) / checked:>9.0f}")
        total = scanned + checked
        print(f"{'total (scan + check)':<28} {total:>8.2f} {len(items) / total:>9.0f}")
        start = time.perf_counter()
        by_query = verify(table, client, chains=8)
        queried = time.perf_counter() - start
        ok = ok and by_query.ok and by_query.items == len(items)
        print(f"{'Query per chain + check':<28} {queried:>8.2f} {by_query.items / queried:>9.0f}")
        print("verify result:", "intact" if result.ok else f"{len(result.problems)} problems")
    finally:
        server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
