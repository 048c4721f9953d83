"""`make demo`: the real stack and handlers in embedded AWS, one numbered step at a time.

Each step is a small function taking the shared `Demo` and raising `StepFailed` with a plain reason;
add a step by appending to STEPS. A handler that is not in the repository makes its step fail (and
the demo exit non-zero): nothing here stands in for a missing part.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from local import lambda_runtime, outbox
from local.deploy import REPO_ROOT, Deployment, embedded_stack
from local.gateway import LocalGateway

MODEL_RUN_TIMEOUT_S = 150.0
_deserializer = TypeDeserializer()


class StepFailed(Exception):
    """A step's expectation did not hold; the message says which."""


@dataclass
class Demo:
    deployment: Deployment
    gateway: LocalGateway
    outbox_dir: Path
    facts: dict[str, Any] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(f"    {text}", flush=True)


def require_handler(name: str) -> None:
    if not (REPO_ROOT / "functions" / name / "handler.py").is_file():
        raise StepFailed(f"functions/{name}/handler.py is missing: this step cannot run yet")


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def scan(demo: Demo, table_output: str) -> list[dict[str, Any]]:
    client = demo.deployment.client("dynamodb")
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=demo.deployment.outputs[table_output]):
        items.extend(plain(item) for item in page["Items"])
    return items


def api_call(
    demo: Demo, method: str, path: str, user: str | None, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if user:
        headers["Authorization"] = demo.deployment.id_token(user)
    data = json.dumps(body).encode() if body is not None else None
    url = demo.gateway.url + path  # the local gateway on 127.0.0.1
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - local gateway
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


# --- steps ----------------------------------------------------------------------------------------


def step_stack(demo: Demo) -> None:
    """The synthesized stack, deployed into moto."""
    d = demo.deployment
    counts = Counter(d.resource_counts)
    mode = f"moto server at {d.endpoint_url}" if d.endpoint_url else "moto in-process"
    demo.say(
        f"stack {d.stack_name} in {d.region} ({mode}): {sum(counts.values())} resources, "
        f"{len(counts)} types; synth {d.synth_seconds:.1f}s (0 = cached), deploy {d.deploy_seconds:.1f}s"
    )
    demo.say("most: " + ", ".join(f"{t.split('::', 1)[1]} x{n}" for t, n in counts.most_common(6)))
    demo.say(
        f"types moto's CloudFormation cannot create (placeholders): {', '.join(d.ignored_types) or 'none'}"
    )
    demo.say(f"API (local gateway): {demo.gateway.url}")
    demo.say(
        f"data bucket: {d.outputs.get('DataBucketName')}; state machine: {d.outputs.get('StateMachineArn')}"
    )
    demo.say("users: " + ", ".join(f"{u.key}={u.email} [{u.group}]" for u in d.users.values()))
    missing = [
        k
        for k in ("DataBucketName", "UserPoolId", "StateMachineArn", "AccessApiFunctionName")
        if not d.outputs.get(k)
    ]
    if missing:
        raise StepFailed(f"stack outputs missing: {', '.join(missing)}")


POPULATION_HEADER = "area-code,area-name,year,sex,age,population\n"


def step_upload(demo: Demo) -> None:
    """S3 -> SQS -> upload_validator, for one valid and one invalid file; read back its records."""
    require_handler("upload_validator")
    from witan.aws.submissions import put_request, put_submission
    from witan.collect.model import CollectionRequest, Submission, request_pk

    d = demo.deployment
    dynamodb, table, bucket = (
        d.client("dynamodb"),
        d.outputs["RequestsTableName"],
        d.outputs["DataBucketName"],
    )
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    requester, uploader = d.users["requester"].email, "partner@school.example"
    put_request(
        dynamodb, table, CollectionRequest(request_id, "Population by age", "population-by-age", requester)
    )
    files = {
        "sub-valid": POPULATION_HEADER
        + "".join(f"E09000007,Camden,2024,persons,{a},{2000 + a}\n" for a in range(6)),
        "sub-invalid": POPULATION_HEADER
        + "E09000007,Camden,2024,persons,1,2000\nX123,Camden,2024,people,-3,12\n",
    }
    emails_before = len(outbox.sent(demo.outbox_dir))
    for submission_id, text in files.items():
        put_submission(dynamodb, table, Submission(request_id, submission_id, uploader))
        key = (
            f"uploads/{request_id}/{submission_id}/population by age.csv"  # a space: keys arrive URL-encoded
        )
        d.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())
        demo.say(f"put s3://{bucket}/{key} ({len(text)} bytes)")
    if not lambda_runtime.wait_until_idle(120):
        raise StepFailed("the upload queue was not drained within 120 s")
    response = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": request_pk(request_id)}},
    )
    checks = {
        item["submission_id"]: item for item in map(plain, response["Items"]) if item.get("type") == "check"
    }
    for submission_id in files:
        check = checks.get(submission_id)
        if check is None:
            raise StepFailed(f"no check record for {submission_id}: the validator did not record a result")
        demo.say(
            f"{submission_id}: status={check.get('status')} rows={check.get('rows')} "
            f"errors={check.get('error_count')} reports={len(check.get('report_keys') or {})}"
            + (f" parquet={check['parquet_key']}" if check.get("parquet_key") else "")
        )
    if checks["sub-valid"].get("status") != "valid" or checks["sub-invalid"].get("status") != "invalid":
        raise StepFailed("expected the first file valid and the second invalid")
    emails = outbox.sent(demo.outbox_dir)[emails_before:]
    demo.say(f"{len(emails)} email(s) in the outbox:")
    for path in emails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        demo.say(f"  to {message['To']}: {message['Subject']!r} ({path.name[:40]}...)")
    if not emails:
        raise StepFailed("the validator sent no email to the requester or the uploader")
    demo.say(
        "dead-letter queue depth: "
        + d.client("sqs").get_queue_attributes(
            QueueUrl=d.outputs["UploadDeadLetterQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    )


def step_api(demo: Demo) -> None:
    """An allowed and a denied API call, each with one audit event; a call without a token refused."""
    require_handler("access_api")
    audit_before = len(scan(demo, "AuditTableName"))
    status, body = api_call(
        demo, "POST", "datasets", "requester", {"title": "Camden population", "file_name": "population.csv"}
    )
    demo.say(f"requester POST /datasets -> {status}")
    if status != 201:
        raise StepFailed(f"expected 201 creating a dataset, got {status}: {json.dumps(body)[:300]}")
    dataset_id = body["dataset"]["id"]
    demo.facts["dataset_id"] = dataset_id
    status_denied, body_denied = api_call(demo, "GET", f"datasets/{dataset_id}", "analyst")
    demo.say(
        f"analyst (org-hackney) GET /datasets/{dataset_id} -> {status_denied} {body_denied.get('code', '')}"
    )
    if status_denied not in (403, 404):
        raise StepFailed(f"expected the analyst to be refused, got {status_denied}")
    invocations = demo.gateway.invocations
    status_anon, body_anon = api_call(demo, "GET", "datasets", None)
    demo.say(
        f"no token GET /datasets -> {status_anon} {json.dumps(body_anon)} (refused by the gateway's "
        f"Cognito check; the function did not run: {demo.gateway.invocations == invocations})"
    )
    if status_anon != 401 or demo.gateway.invocations != invocations:
        raise StepFailed("a call without a token must get 401 without invoking the function")
    events = sorted(scan(demo, "AuditTableName"), key=lambda e: str(e.get("time", "")))
    new = len(events) - audit_before
    for event in events[-new:] if new else []:
        demo.say(
            f"audit: {event.get('action')} {event.get('decision')} ({event.get('reason')}) "
            f"resource={event.get('resource')}"
        )
    if new != 2:
        raise StepFailed(f"expected exactly 2 new audit events (allowed + denied), found {new}")


def step_model_run(demo: Demo) -> None:
    """Step Functions: plan -> Distributed Map of model_run chunks -> aggregate."""
    require_handler("model_run")
    from witan.models.send.synthetic import SyntheticSpec, synthetic_tables

    d = demo.deployment
    s3, bucket = d.client("s3"), d.outputs["DataBucketName"]
    prefix = "datasets/send-demo/1/"
    for name, text in synthetic_tables(SyntheticSpec(children=200, population=1500)).items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}{name}.csv", Body=text.encode())
    run_id = f"demo-{uuid.uuid4().hex[:8]}"
    run_input = {
        "run_id": run_id,
        "model": "send",
        "inputs": {"prefix": prefix},
        "scenarios": [],
        "simulations": 40,
        "chunk_size": 10,
        "seed": 7,
        "email": d.users["requester"].email,
    }
    sfn = d.client("stepfunctions")
    started = time.monotonic()
    execution = sfn.start_execution(
        stateMachineArn=d.outputs["StateMachineArn"], name=run_id, input=json.dumps(run_input)
    )["executionArn"]
    demo.say(f"started execution {run_id}: 40 simulations in chunks of 10")
    description = sfn.describe_execution(executionArn=execution)
    while description["status"] == "RUNNING" and time.monotonic() - started < MODEL_RUN_TIMEOUT_S:
        time.sleep(0.25)
        description = sfn.describe_execution(executionArn=execution)
    chunks = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"models/{run_id}/chunks/").get("Contents", [])
    ]
    manifest = (
        json.loads(s3.get_object(Bucket=bucket, Key=f"models/{run_id}/manifest.json")["Body"].read())
        if description["status"] != "RUNNING"
        else []
    )
    demo.say(
        f"execution {description['status']} after {time.monotonic() - started:.1f}s; "
        f"manifest items {len(manifest)}, chunk files written {len(chunks)}"
    )
    if description["status"] != "SUCCEEDED":
        raise StepFailed(
            f"execution {description['status']}: {description.get('error')} "
            f"{description.get('cause', '')[:400]}"
        )
    outputs = s3.list_objects_v2(Bucket=bucket, Prefix=f"models/{run_id}/").get("KeyCount", 0)
    demo.say(f"{outputs} objects under models/{run_id}/ (plan, chunks, summaries, charts, xlsx)")
    if not manifest or len(chunks) < len(manifest):
        raise StepFailed(f"expected one chunk file per manifest item ({len(manifest)}), found {len(chunks)}")


STEPS: list[tuple[str, Callable[[Demo], None]]] = [
    ("Stack deployed", step_stack),
    ("Upload checked (S3 -> SQS -> upload_validator)", step_upload),
    ("API calls authorised, refused and audited (gateway -> access_api)", step_api),
    ("Model run fans out and gathers (Step Functions -> model_run)", step_model_run),
]


def run(*, server: bool = False, outbox_dir: Path | None = None) -> int:
    started = time.perf_counter()
    outbox_dir = outbox_dir or Path(tempfile.mkdtemp(prefix="witan-outbox-"))
    failures: list[str] = []
    print("Witan demo: the real stack and handlers on embedded AWS (moto), no Docker, no network", flush=True)
    with (
        embedded_stack(server=server, outbox_dir=outbox_dir) as deployment,
        LocalGateway(deployment) as gateway,
    ):
        demo = Demo(deployment, gateway, outbox_dir)
        for number, (title, step) in enumerate(STEPS, start=1):
            print(f"\n[{number}] {title}", flush=True)
            try:
                step(demo)
                print("    ok", flush=True)
            except StepFailed as failure:
                print(f"    FAILED: {failure}", flush=True)
                failures.append(f"[{number}] {title}: {failure}")
    elapsed = time.perf_counter() - started
    print(f"\noutbox: {outbox_dir} ({len(outbox.sent(outbox_dir))} .eml files)")
    if failures:
        print(f"demo FAILED after {elapsed:.1f}s:\n  " + "\n  ".join(failures))
        return 1
    print(f"demo passed: {len(STEPS)} steps in {elapsed:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__)
    parser.add_argument(
        "--server", action="store_true", help="run moto as a local server instead of in-process"
    )
    parser.add_argument("--outbox", type=Path, help="folder for sent emails (default: a new temp folder)")
    args = parser.parse_args(argv)
    return run(server=args.server, outbox_dir=args.outbox)


if __name__ == "__main__":
    sys.exit(main())
