"""`make demo`: the real stack and handlers in embedded AWS, one numbered step at a time.

Each step is a small function taking the shared `Demo` and raising `StepFailed` with a plain reason
(both live in local/story.py, with the API call helpers); add a step by appending to STEPS. A handler
that is not in the repository makes its step fail (and the demo exit non-zero): nothing here stands in
for a missing part.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from local import lambda_runtime, outbox
from local.deploy import embedded_stack
from local.gateway import LocalGateway
from local.story import Demo, StepFailed, api_call, require_handler
from local.story_collect import COLLECT_STEPS
from local.story_datapacks import DATAPACK_STEPS
from local.story_datastore import DATASTORE_STEPS
from local.story_models import MODEL_STEPS

MODEL_RUN_TIMEOUT_S = 150.0
_deserializer = TypeDeserializer()


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def scan(demo: Demo, table_output: str) -> list[dict[str, Any]]:
    client = demo.deployment.client("dynamodb")
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=demo.deployment.outputs[table_output]):
        items.extend(plain(item) for item in page["Items"])
    return items


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
    from witan.aws.submissions import DynamoRequestStore, put_request, put_submission
    from witan.collect.records import CheckRecord, CollectionRequest, Submission

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
    parts = DynamoRequestStore(table, dynamodb).request_items(request_id)
    checks = {part.submission_id: part for part in parts if isinstance(part, CheckRecord)}
    for submission_id in files:
        check = checks.get(submission_id)
        if check is None:
            raise StepFailed(f"no check record for {submission_id}: the validator did not record a result")
        demo.say(
            f"{submission_id}: status={check.status.value} rows={check.rows} "
            f"errors={check.error_count} reports={len(check.report_keys)}"
            + (f" parquet={check.parquet_key}" if check.parquet_key else "")
        )
    if checks["sub-valid"].status.value != "valid" or checks["sub-invalid"].status.value != "invalid":
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
    """An allowed and a denied API call, each with one audit event; a call without a token refused by
    the gateway, whose access log leaves one `api.gateway-refused` event."""
    require_handler("access_api")
    audit_before = {_audit_key(e) for e in scan(demo, "AuditTableName")}
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
    new = sorted(
        (
            e
            for e in scan(demo, "AuditTableName")
            if _audit_key(e) not in audit_before and e.get("type", "event") == "event"
        ),
        key=lambda e: str(e.get("time", "")),
    )
    for event in new:
        # A refused request's resource is the request itself: show what was asked, and from where.
        detail = json.loads(event["detail"]) if isinstance(event.get("detail"), str) else {}
        target = event.get("resource")
        if event.get("action") == "api.gateway-refused":
            target = f"{detail.get('method')} {detail.get('path')} from {event.get('source_ip')}"
        demo.say(f"audit: {event.get('action')} {event.get('decision')} ({event.get('reason')}) {target}")
    found = sorted((str(e.get("action")), str(e.get("decision"))) for e in new)
    expected = sorted(
        [("dataset.create", "allow"), ("dataset.read", "deny"), ("api.gateway-refused", "deny")]
    )
    if found != expected:
        raise StepFailed(
            f"expected one audit event each for the allowed, the denied and the refused call, found {found}"
        )


def _audit_key(event: dict[str, Any]) -> tuple[str, str]:
    """An audit item's identity: its chain and its place in it."""
    return str(event.get("chain")), str(event.get("seq"))


MODEL_SCENARIO = {
    "name": "fewer-oob-joiners",
    "description": "Half as many children join out-of-borough placements (the costliest setting)",
    "modify_transitions": [{"match": {"kind": "joiner", "to_setting": "OOB"}, "factor": 0.5}],
}


def _model_run_tables(demo: Demo, key: str) -> dict[int, dict[str, float]]:
    """A run output CSV (read with the data bucket client: presigned URLs point at AWS, not at moto)."""
    import csv
    import io

    d = demo.deployment
    body = d.client("s3").get_object(Bucket=d.outputs["DataBucketName"], Key=key)["Body"].read()
    rows: dict[int, dict[str, float]] = {}
    for row in csv.DictReader(io.StringIO(body.decode("utf-8"))):
        name = f"{row['measure']}:" if "measure" in row else ""
        for column in ("mean", "ci_low", "ci_high"):
            rows.setdefault(int(row["calendar_year"]), {})[name + column] = float(row[column])
    return rows


def step_model_run(demo: Demo) -> None:
    """POST /model-runs (baseline + one policy scenario) -> Step Functions: plan -> Distributed Map of
    model_run chunks -> aggregate; polled through GET /model-runs/{id}; the comparison printed."""
    require_handler("model_run")
    require_handler("access_api")
    from witan.models.send.synthetic import SyntheticSpec, synthetic_tables

    d = demo.deployment
    s3, bucket = d.client("s3"), d.outputs["DataBucketName"]
    inputs: dict[str, str] = {}
    for name, text in synthetic_tables(SyntheticSpec(children=200, population=1500)).items():
        status, body = api_call(
            demo,
            "POST",
            "datasets",
            "requester",
            {"title": f"SEND {name} (synthetic)", "file_name": f"{name}.csv", "tags": ["send"]},
        )
        if status != 201:
            raise StepFailed(
                f"expected 201 creating the {name} dataset, got {status}: {json.dumps(body)[:200]}"
            )
        # The file goes to the key the presigned POST allows (in-process moto takes no HTTP form posts).
        s3.put_object(Bucket=bucket, Key=body["upload"]["key"], Body=text.encode())
        inputs[name.replace("-", "_")] = body["dataset"]["id"]
    demo.say("requester created 4 input datasets (transitions, population, costs, valid-states)")
    started = time.monotonic()
    request = {"inputs": {"datasets": inputs}, "scenarios": [MODEL_SCENARIO], "simulations": 40, "seed": 7}
    status, body = api_call(demo, "POST", "model-runs", "requester", request)
    demo.say(f"requester POST /model-runs (40 simulations, baseline + {MODEL_SCENARIO['name']}) -> {status}")
    if status != 202:
        raise StepFailed(f"expected 202 starting the run, got {status}: {json.dumps(body)[:300]}")
    run_id = body["id"]
    status_other, body_other = api_call(demo, "GET", f"model-runs/{run_id}", "analyst")
    demo.say(f"analyst (org-hackney) GET /model-runs/{run_id} -> {status_other} {body_other.get('code', '')}")
    if status_other != 404:
        raise StepFailed(f"another organisation must not see the run, got {status_other}")
    view: dict[str, Any] = {"status": "RUNNING"}
    polls = 0
    while view.get("status") == "RUNNING" and time.monotonic() - started < MODEL_RUN_TIMEOUT_S:
        time.sleep(0.5)
        status, view = api_call(demo, "GET", f"model-runs/{run_id}", "requester")
        polls += 1
        if status != 200:
            raise StepFailed(f"GET /model-runs/{run_id} -> {status}: {json.dumps(view)[:300]}")
    demo.say(
        f"run {view.get('status')} after {time.monotonic() - started:.1f}s ({polls} polls of GET "
        f"/model-runs/{{id}}; chunks {view.get('chunks_done')}/{view.get('chunks_total')}, "
        f"progress {view.get('progress')})"
    )
    if view.get("status") != "SUCCEEDED":
        raise StepFailed(f"run {view.get('status')}: {json.dumps(view.get('error'))[:400]}")
    links = {link["name"]: link for link in view.get("outputs", [])}
    kinds = Counter(link["kind"] for link in links.values())
    listed = ", ".join(f"{kind} x{n}" for kind, n in sorted(kinds.items()))
    demo.say(f"output links (presigned GET, 5 min): {listed}")
    scenario_dir = f"scenarios/{MODEL_SCENARIO['name']}/"
    wanted = [
        "count.csv",
        "cost.csv",
        *(scenario_dir + n for n in ("count.csv", "cost.csv", "comparison.csv")),
    ]
    missing = [name for name in [*wanted, "summaries.xlsx"] if name not in links]
    if missing:
        raise StepFailed(f"the run has no link for {', '.join(missing)}")
    base_n, base_c, scen_n, scen_c, diff = (_model_run_tables(demo, links[n]["key"]) for n in wanted)
    demo.say(f"baseline vs {MODEL_SCENARIO['name']}: mean over simulations; difference = scenario - baseline")
    demo.say("(paired by simulation) with its 95% interval")
    demo.say(
        f"{'year':>6} {'count':>8} {'scenario':>9} {'diff':>7} {'interval':>17} {'cost':>11} "
        f"{'scenario':>11} {'diff':>10} {'interval':>23}"
    )
    for year in sorted(diff):
        dy = diff[year]
        demo.say(
            f"{year:>6} {base_n[year]['mean']:>8.1f} {scen_n[year]['mean']:>9.1f} {dy['count:mean']:>7.1f} "
            f"[{dy['count:ci_low']:>7.1f},{dy['count:ci_high']:>7.1f}] {base_c[year]['mean']:>11,.0f} "
            f"{scen_c[year]['mean']:>11,.0f} {dy['cost:mean']:>10,.0f} "
            f"[{dy['cost:ci_low']:>10,.0f},{dy['cost:ci_high']:>10,.0f}]"
        )
    projected = [y for y in sorted(diff) if y > min(diff)]
    if not projected or all(diff[y]["cost:mean"] == 0 for y in projected):
        raise StepFailed("the scenario changed nothing: expected a cost difference in projected years")


STEPS: list[tuple[str, Callable[[Demo], None]]] = [
    ("Stack deployed", step_stack),
    ("Upload checked (S3 -> SQS -> upload_validator)", step_upload),
    ("API calls authorised, refused and audited (gateway -> access_api)", step_api),
    ("Model run fans out and gathers (Step Functions -> model_run)", step_model_run),
    *MODEL_STEPS,
    *DATAPACK_STEPS,
    *DATASTORE_STEPS,
    *COLLECT_STEPS,
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
    print(
        "console: run `.venv/bin/witan local up` and open the `console:` URL it prints in a browser; "
        "sign in as requester, analyst or admin"
    )
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
