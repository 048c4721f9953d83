"""Load and faults on the embedded stack (in-process moto, loopback only, bounded): issue 15, item 9.

Scenarios, each with its invariants checked and its figures printed:
- `uploads`: N uploads (default 200) put into uploads/ at once from 16 threads; every upload ends in
  exactly one check outcome, nothing waits in the DLQ.
- `writers`: 16 concurrent writers on one audit chain (K=1), 10 events each: every event recorded
  once (one per request id), conflicts counted, the chain verifies against the seals.
- `ses-down`: SES refuses every email while uploads are checked: outcomes still recorded once each
  (the email failures are counted, not retried through the DLQ).
- `killed`: the validator dies half-way through each upload's first delivery; the redelivery checks
  it: one outcome and one audit event per upload, nothing in the DLQ.
- `throttled`: DynamoDB throttles 20% of the audit table's writes; API calls through the local
  gateway: each request leaves exactly one audit event (botocore retries the throttled puts), or
  fails closed; the trail verifies.

Run with `python -m benchmarks load`; sizes with BENCH_LOAD_UPLOADS, BENCH_LOAD_CALLS.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

UPLOADS = int(os.environ.get("BENCH_LOAD_UPLOADS", "200"))
SES_UPLOADS = int(os.environ.get("BENCH_LOAD_SES_UPLOADS", "20"))
KILLED_UPLOADS = int(os.environ.get("BENCH_LOAD_KILLED_UPLOADS", "10"))
CALLS = int(os.environ.get("BENCH_LOAD_CALLS", "60"))
WRITERS = 16
EVENTS_PER_WRITER = 10
THROTTLE_RATE = 0.2
RETENTION_DAYS = 2557
POPULATION = "area-code,area-name,year,sex,age,population\nE09000007,Camden,2024,persons,0,2000\n"
BAD_POPULATION = "area-code,area-name,year,sex,age,population\nE09000007,Camden,notayear,persons,0,x\n"


def _atomic_moto_tables() -> Callable[[], None]:
    """moto's conditional PutItem is not atomic across threads (DynamoDB's is): serialise it."""
    from moto.dynamodb.models.table import Table

    lock = threading.RLock()
    originals = {name: getattr(Table, name) for name in ("put_item", "query", "scan", "get_item")}
    for name, original in originals.items():

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(Table, name, functools.wraps(original)(locked))

    def undo() -> None:
        for name, original in originals.items():
            setattr(Table, name, original)

    return undo


@contextlib.contextmanager
def _patched(target: Any, name: str, replacement: Any) -> Iterator[None]:
    original = getattr(target, name)
    setattr(target, name, replacement)
    try:
        yield
    finally:
        setattr(target, name, original)


def _dlq_depth(deployment: Any) -> int:
    sqs = deployment.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=deployment.outputs["UploadDeadLetterQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _outcomes(deployment: Any, request_id: str) -> Counter[str]:
    """submission -> number of final check outcomes recorded for it."""
    from boto3.dynamodb.types import TypeDeserializer

    ddb = deployment.client("dynamodb")
    items = []
    pages = ddb.get_paginator("query").paginate(
        TableName=deployment.outputs["RequestsTableName"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"REQUEST#{request_id}"}},
    )
    for page in pages:
        items += [{k: TypeDeserializer().deserialize(v) for k, v in i.items()} for i in page["Items"]]
    final = {"valid", "invalid", "unusable", "not-accepted"}
    return Counter(
        str(i["submission_id"]) for i in items if i.get("type") == "check" and str(i.get("status")) in final
    )


def _request(deployment: Any, submissions: int) -> str:
    from witan.aws.submissions import put_request, put_submission
    from witan.collect.records import CollectionRequest, Submission

    ddb, table = deployment.client("dynamodb"), deployment.outputs["RequestsTableName"]
    request_id = f"load-{uuid.uuid4().hex[:8]}"
    put_request(
        ddb,
        table,
        CollectionRequest(request_id, "Load test", "population-by-age", "requester@camden.example"),
        status="open",
    )
    for n in range(submissions):
        put_submission(ddb, table, Submission(request_id, f"s{n}", f"partner{n}@school.example"))
    return request_id


def _upload_all(deployment: Any, request_id: str, count: int) -> float:
    from local import lambda_runtime

    s3, bucket = deployment.client("s3"), deployment.outputs["DataBucketName"]

    def put(n: int) -> None:
        body = POPULATION if n % 4 else BAD_POPULATION  # one in four invalid: reports too
        s3.put_object(Bucket=bucket, Key=f"uploads/{request_id}/s{n}/data.csv", Body=body.encode())

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count)))
    if not lambda_runtime.wait_until_idle(900):
        raise RuntimeError("uploads still being delivered after 15 minutes")
    return time.perf_counter() - started


def scenario_uploads(deployment: Any, count: int) -> list[str]:
    request_id = _request(deployment, count)
    seconds = _upload_all(deployment, request_id, count)
    outcomes = _outcomes(deployment, request_id)
    once = sum(1 for n in range(count) if outcomes.get(f"s{n}") == 1)
    dlq = _dlq_depth(deployment)
    ok = once == count and dlq == 0
    return [
        f"uploads at once        {count:>6}  checked in {seconds:6.1f} s ({count / seconds:5.1f}/s)",
        f"  exactly one outcome  {once:>6}/{count}   DLQ {dlq}   {'OK' if ok else 'FAILED'}",
    ]


def scenario_writers(deployment: Any) -> list[str]:
    from witan.audit.records import AuditEvent, AuditWriteError
    from witan.aws.audit_table import DynamoAuditTrail

    table = deployment.outputs["AuditTableName"]
    run = uuid.uuid4().hex[:6]
    trails = [
        DynamoAuditTrail(table, deployment.client("dynamodb"), chains=1, retention_days=RETENTION_DAYS)
        for _ in range(WRITERS)
    ]

    gave_up: Counter[str] = Counter()

    def write(writer: int) -> None:
        for i in range(EVENTS_PER_WRITER):
            event = AuditEvent(
                action="bench.write",
                decision="allow",
                reason="load",
                status=200,
                request_id=f"{run}-{writer}-{i}",
            )
            try:
                trails[writer].record(event)
            except AuditWriteError:  # fails closed: the request would be refused (503), not unrecorded
                gave_up[f"{run}-{writer}-{i}"] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))
    seconds = time.perf_counter() - started
    events = WRITERS * EVENTS_PER_WRITER
    conflicts = sum(t.stats.conflicts for t in trails)
    per_request = _audit_events_by_request(deployment, prefix=run)
    once = sum(1 for n in per_request.values() if n == 1)
    # Each event is recorded exactly once, or (chain too busy) not at all and its request refused.
    ok = once == len(per_request) and once + len(gave_up) == events and not set(gave_up) & set(per_request)
    return [
        f"writers on one chain   {WRITERS:>6} x {EVENTS_PER_WRITER}  {once / seconds:6.1f} events/s, "
        f"{conflicts} lost races retried, {len(gave_up)} gave up (fail closed)",
        f"  recorded exactly once {once:>5}/{events - len(gave_up)}   {'OK' if ok else 'FAILED'}",
    ]


def _audit_events_by_request(deployment: Any, prefix: str, attribute: str = "request_id") -> Counter[str]:
    """How many audit events carry each value of `attribute` starting with `prefix`."""
    from boto3.dynamodb.types import TypeDeserializer

    ddb = deployment.client("dynamodb")
    counts: Counter[str] = Counter()
    for page in ddb.get_paginator("scan").paginate(TableName=deployment.outputs["AuditTableName"]):
        for item in page["Items"]:
            value = TypeDeserializer().deserialize(item[attribute]) if attribute in item else ""
            if str(value).startswith(prefix):
                counts[str(value)] += 1
    return counts


def scenario_ses_down(deployment: Any, count: int) -> list[str]:
    from moto.ses.exceptions import MessageRejectedError
    from moto.ses.models import SESBackend

    refused = Counter[str]()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        refused["emails"] += 1
        raise MessageRejectedError("injected: SES is down")

    request_id = _request(deployment, count)
    with _patched(SESBackend, "send_email", refuse), _patched(SESBackend, "send_raw_email", refuse):
        seconds = _upload_all(deployment, request_id, count)
    outcomes = _outcomes(deployment, request_id)
    once = sum(1 for n in range(count) if outcomes.get(f"s{n}") == 1)
    dlq = _dlq_depth(deployment)
    ok = once == count and dlq == 0 and refused["emails"] > 0
    return [
        f"SES refusing email     {count:>6}  checked in {seconds:6.1f} s, {refused['emails']} emails refused",
        f"  exactly one outcome  {once:>6}/{count}   DLQ {dlq}   {'OK' if ok else 'FAILED'}",
    ]


def scenario_killed(deployment: Any, count: int) -> list[str]:
    """The validator dies half-way (after its claim, while writing reports) on each upload's first
    delivery; SQS redelivers once the message's visibility and the claim's lease have run out. Time is
    compressed: the queue's visibility timeout is set to 1 s and the lease margin made negative, as if
    the dead invocation's deadline had long passed. Each upload then ends with one outcome and one
    `upload.checked` audit event, nothing in the DLQ."""
    from witan.collect.uploads import check as service

    from local import lambda_runtime

    sqs, queue_url = deployment.client("sqs"), deployment.outputs["UploadQueueUrl"]
    visibility = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"
    ]
    killed: Counter[str] = Counter()
    original = service.UploadCheckService._store_reports

    def dies_once(self: Any, upload: Any, *args: Any, **kwargs: Any) -> Any:
        if not killed[upload.key]:
            killed[upload.key] += 1
            raise RuntimeError("injected: the function was killed half-way")
        return original(self, upload, *args, **kwargs)

    request_id = _request(deployment, count)
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "1"})
    started = time.perf_counter()
    try:
        with (
            _patched(service.UploadCheckService, "_store_reports", dies_once),
            _patched(service, "LEASE_MARGIN_SECONDS", -3600),
        ):
            _upload_all(deployment, request_id, count)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and sum(_outcomes(deployment, request_id).values()) < count:
                time.sleep(0.5)  # redeliveries come from the poller's sweep
            lambda_runtime.wait_until_idle(60)
    finally:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=visibility)
    seconds = time.perf_counter() - started
    outcomes = _outcomes(deployment, request_id)
    once = sum(1 for n in range(count) if outcomes.get(f"s{n}") == 1)
    audited = _audit_events_by_request(deployment, prefix=f"request/{request_id}/", attribute="resource")
    audited_once = sum(1 for n in range(count) if audited.get(f"request/{request_id}/submission/s{n}") == 1)
    dlq = _dlq_depth(deployment)
    ok = once == count and audited_once == count and dlq == 0 and len(killed) == count
    return [
        f"validator killed once  {count:>6}  all retried and checked in {seconds:6.1f} s",
        f"  exactly one outcome  {once:>6}/{count}   one audit event {audited_once}/{count}   DLQ {dlq}   "
        + ("OK" if ok else "FAILED"),
    ]


def scenario_throttled(deployment: Any, gateway: Any, calls: int) -> list[str]:
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.models.table import Table

    class Throttled(JsonRESTError):
        def __init__(self) -> None:
            super().__init__("ProvisionedThroughputExceededException", "injected throttling")

    audit_table = deployment.outputs["AuditTableName"]
    rng = random.Random(15)
    throttled = Counter[str]()
    original = Table.put_item

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.name == audit_table and rng.random() < THROTTLE_RATE:
            throttled["puts"] += 1
            raise Throttled()
        return original(self, *args, **kwargs)

    token = deployment.id_token("analyst")
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    run = f"witan-bench-{uuid.uuid4().hex[:6]}"  # each call's user agent names it in its audit event

    def call(n: int) -> None:
        headers = {"Authorization": token, "User-Agent": f"{run}-{n}"}
        request = urllib.request.Request(gateway.url + "datasets", headers=headers)  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - 127.0.0.1
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        with lock:
            statuses[status] += 1

    started = time.perf_counter()
    with _patched(Table, "put_item", put_item), ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(calls)))
    seconds = time.perf_counter() - started
    per_call = _audit_events_by_request(deployment, prefix=run, attribute="user_agent")
    once = sum(1 for n in range(calls) if per_call.get(f"{run}-{n}") == 1)
    # A call whose audit write still failed after botocore's retries is refused (503), with no event.
    refused = statuses.get(503, 0)
    ok = once + refused == calls and statuses.get(200, 0) == once and sum(per_call.values()) == once
    return [
        f"audit writes throttled {calls:>6} calls in {seconds:6.1f} s, "
        f"{throttled['puts']} puts throttled ({THROTTLE_RATE:.0%})",
        f"  statuses {dict(sorted(statuses.items()))}; one audit event per request {once}/{calls}   "
        + ("OK" if ok else "FAILED"),
    ]


def verify_line(deployment: Any) -> list[str]:
    from witan.aws.audit_seals import KmsSigner, S3SealStore, verify_sealed

    from local import lambda_runtime

    lambda_runtime.wait_until_idle(120)
    signer = KmsSigner(deployment.outputs["AuditSealKeyId"], deployment.client("kms"))
    store = S3SealStore(deployment.outputs["AuditSealBucketName"], deployment.client("s3"))
    result = verify_sealed(
        deployment.outputs["AuditTableName"],
        deployment.client("dynamodb"),
        store,
        signer,
        retention_days=RETENTION_DAYS,
    )
    kinds = sorted({p.kind for p in result.problems})
    return [
        f"audit verify (sealed)  {result.items:>6} items, {result.seals} seals   "
        + ("OK" if result.ok else f"FAILED {kinds}")
    ]


def main() -> int:
    logging.disable(logging.WARNING)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    from local.deploy import embedded_stack
    from local.gateway import LocalGateway

    lines: list[str] = []
    undo = _atomic_moto_tables()
    try:
        with tempfile.TemporaryDirectory() as outbox:
            started = time.perf_counter()
            with embedded_stack(outbox_dir=Path(outbox)) as deployment, LocalGateway(deployment) as gateway:
                lines.append(f"embedded stack deployed in {time.perf_counter() - started:.1f} s")
                lines += scenario_uploads(deployment, UPLOADS)
                lines += scenario_writers(deployment)
                lines += scenario_ses_down(deployment, SES_UPLOADS)
                lines += scenario_killed(deployment, KILLED_UPLOADS)
                lines += scenario_throttled(deployment, gateway, CALLS)
                lines += verify_line(deployment)
    finally:
        undo()
        logging.disable(logging.NOTSET)
    print("\n".join(lines))
    return 0 if not any("FAILED" in line for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
