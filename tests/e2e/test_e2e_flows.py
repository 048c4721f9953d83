"""The three flows end to end through the real handlers, on the stack deployed from the CDK template.

A handler missing from functions/ makes its test fail (the deployment itself would, first).
"""

# ruff: noqa: S310 - every URL opened here is the local gateway on 127.0.0.1

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import jwt
import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer

from local import lambda_runtime, outbox
from local.deploy import REPO_ROOT

pytestmark = pytest.mark.xdist_group("e2e")

_deserializer = TypeDeserializer()
POPULATION_HEADER = "area-code,area-name,year,sex,age,population\n"


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def audit_events(stack: Any) -> list[dict[str, Any]]:
    client = stack.deployment.client("dynamodb")
    table = stack.deployment.outputs["AuditTableName"]
    return [
        plain(i) for page in client.get_paginator("scan").paginate(TableName=table) for i in page["Items"]
    ]


def call(
    stack: Any, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", **({"Authorization": token} if token else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(stack.gateway.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.mark.parametrize("name", ["upload_validator", "access_api", "model_run"])
def test_handler_exists_and_is_deployed(e2e_stack: Any, name: str) -> None:
    assert (REPO_ROOT / "functions" / name / "handler.py").is_file(), (
        f"functions/{name}/handler.py is missing"
    )
    output = {
        "upload_validator": "UploadValidatorFunctionName",
        "access_api": "AccessApiFunctionName",
        "model_run": "ModelRunFunctionName",
    }[name]
    function = e2e_stack.deployment.client("lambda").get_function(
        FunctionName=e2e_stack.deployment.outputs[output]
    )
    assert function["Configuration"]["Handler"] == "handler.lambda_handler"


def test_upload_goes_through_sqs_to_validator_and_result_is_recorded(e2e_stack: Any) -> None:
    from witan.aws.submissions import put_request, put_submission, request_pk
    from witan.collect.records import CollectionRequest, Submission

    d = e2e_stack.deployment
    dynamodb, table, bucket = (
        d.client("dynamodb"),
        d.outputs["RequestsTableName"],
        d.outputs["DataBucketName"],
    )
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    put_request(
        dynamodb,
        table,
        CollectionRequest(request_id, "Population", "population-by-age", "requester@camden.example"),
    )
    files = {
        "valid": POPULATION_HEADER
        + "E09000007,Camden,2024,persons,0,2000\nE09000007,Camden,2024,persons,1,2100\n",
        "invalid": POPULATION_HEADER + "E09000007,Camden,2024,persons,1,2000\nX1,Camden,2024,persons,-3,12\n",
    }
    emails_before = len(outbox.sent(e2e_stack.outbox_dir))
    for submission_id, text in files.items():
        put_submission(dynamodb, table, Submission(request_id, submission_id, "partner@school.example"))
        d.client("s3").put_object(
            Bucket=bucket, Key=f"uploads/{request_id}/{submission_id}/my file.csv", Body=text
        )
    assert lambda_runtime.wait_until_idle(120)

    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": request_pk(request_id)}},
    )["Items"]
    checks = {c["submission_id"]: c for c in map(plain, items) if c.get("type") == "check"}
    assert checks["valid"]["status"] == "valid"
    assert checks["valid"]["object_key"] == f"uploads/{request_id}/valid/my file.csv"  # decoded key
    assert checks["invalid"]["status"] == "invalid"
    assert checks["invalid"]["error_count"] >= 1
    s3 = d.client("s3")
    for check in checks.values():
        for key in (check.get("report_keys") or {}).values():
            assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert s3.head_object(Bucket=bucket, Key=checks["valid"]["parquet_key"])["ContentLength"] > 0
    assert "parquet_key" not in checks["invalid"] or not checks["invalid"]["parquet_key"]
    # The upload itself is never modified or removed by checking.
    assert (
        s3.get_object(Bucket=bucket, Key=f"uploads/{request_id}/invalid/my file.csv")["Body"].read().decode()
        == files["invalid"]
    )
    assert len(outbox.sent(e2e_stack.outbox_dir)) > emails_before
    dlq = d.client("sqs").get_queue_attributes(
        QueueUrl=d.outputs["UploadDeadLetterQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_valid_upload_becomes_a_version_of_the_destination_dataset(e2e_stack: Any) -> None:
    """The deployed validator (its env and role as synthesized) adds a valid upload to the request's
    dataset and shares it as the request says; the datastore API then serves it to that person only.
    The META item is written as the Collect+Share API writes it after its destination check."""
    from witan.aws.submissions import put_request, put_submission
    from witan.collect.records import CollectionRequest, Submission

    d = e2e_stack.deployment
    requester, analyst = d.id_token("requester"), d.id_token("analyst")
    status, body = call(e2e_stack, "POST", "datasets", requester, {"title": "Returns", "file_name": "r.csv"})
    assert status == 201, body
    dataset_id = body["dataset"]["id"]
    analyst_sub = jwt.decode(analyst, options={"verify_signature": False})["sub"]
    requester_sub = jwt.decode(requester, options={"verify_signature": False})["sub"]
    dynamodb, table = d.client("dynamodb"), d.outputs["RequestsTableName"]
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    put_request(
        dynamodb,
        table,
        CollectionRequest(request_id, "Population", "population-by-age", "requester@camden.example"),
        status="open",
        dataset_id=dataset_id,
        dataset_owner_org="org-camden",
        requester_sub=requester_sub,
        requester_groups=["org-camden"],  # stored at creation: delivery decides again with them
        share_with=[{"type": "user", "id": analyst_sub}],
    )
    put_submission(dynamodb, table, Submission(request_id, "s1", "partner@school.example"))
    status, _ = call(e2e_stack, "GET", f"datasets/{dataset_id}/download?purpose=check", analyst)
    assert status in (403, 404)  # not shared yet

    text = POPULATION_HEADER + "E09000007,Camden,2024,persons,0,2000\nE09000007,Camden,2024,persons,1,2100\n"
    d.client("s3").put_object(
        Bucket=d.outputs["DataBucketName"], Key=f"uploads/{request_id}/s1/p.csv", Body=text
    )
    assert lambda_runtime.wait_until_idle(120)

    status, dataset = call(e2e_stack, "GET", f"datasets/{dataset_id}", requester)
    assert status == 200 and dataset["file"]["version"] == 2  # version 1 was the API's own, never sent
    assert dataset["file"]["created_by"] == f"collect:{request_id}/s1"
    status, link = call(e2e_stack, "GET", f"datasets/{dataset_id}/download?purpose=check", analyst)
    assert status == 200, link
    assert link["key"] == f"datasets/{dataset_id}/2/p.csv"
    fetched = requests.get(link["url"], timeout=60)
    assert fetched.status_code == 200
    assert fetched.content.decode().replace('"', "").splitlines() == text.strip().splitlines()
    status, _ = call(e2e_stack, "GET", f"datasets/{dataset_id}/download?purpose=check", None)
    assert status == 401
    events = [e for e in audit_events(e2e_stack) if e.get("action") == "dataset.version.collect"]
    assert [e["resource"] for e in events if e["resource"].endswith(dataset_id)] == [f"dataset/{dataset_id}"]


def test_good_token_gets_2xx_and_exactly_one_audit_event(e2e_stack: Any) -> None:
    token = e2e_stack.deployment.id_token("requester")
    sub = jwt.decode(token, options={"verify_signature": False})["sub"]
    before = [e for e in audit_events(e2e_stack) if e.get("actor_sub") == sub]
    status, body = call(e2e_stack, "GET", "datasets", token)
    assert status == 200, body
    after = [e for e in audit_events(e2e_stack) if e.get("actor_sub") == sub]
    assert len(after) == len(before) + 1
    (event,) = [e for e in after if e not in before]
    assert event["decision"] == "allow"
    assert event["action"] == "dataset.list"


def test_no_token_gets_401_without_running_the_function_and_is_audited(e2e_stack: Any) -> None:
    """The authorizer refuses the call (no proxy invocation); the stage's access-log record reaches
    access_api through the log subscription and leaves exactly one `api.gateway-refused` event."""
    before = {(e["chain"], e["seq"]) for e in audit_events(e2e_stack)}
    invocations = e2e_stack.gateway.invocations
    agent = f"witan-e2e/{uuid.uuid4().hex[:8]}"
    request = urllib.request.Request(e2e_stack.gateway.url + "datasets", headers={"User-Agent": agent})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=60)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["message"] == "Unauthorized"
    assert e2e_stack.gateway.invocations == invocations
    new = [
        e for e in audit_events(e2e_stack) if (e["chain"], e["seq"]) not in before and e["type"] == "event"
    ]
    assert [(e["action"], e["decision"], e["status"]) for e in new] == [("api.gateway-refused", "deny", 401)]
    (event,) = new
    assert event["reason"] == "gateway:UNAUTHORIZED"
    assert event["user_agent"] == agent
    assert event["source_ip"] == "127.0.0.1"
    assert event.get("actor_sub") is None
    detail = json.loads(event["detail"])
    assert (detail["method"], detail["path"], detail["error"]) == ("GET", "/{proxy+}", "unauthorized")


def test_each_proxied_request_still_leaves_exactly_one_audit_event(e2e_stack: Any) -> None:
    """The access log of a request the function served reaches access_api too; it records nothing more."""
    token = e2e_stack.deployment.id_token("requester")
    before = {(e["chain"], e["seq"]) for e in audit_events(e2e_stack)}
    for path in ("datasets", "datasets/not-a-valid-id!", "audit/events"):
        call(e2e_stack, "GET", path, token)
    new = [
        e for e in audit_events(e2e_stack) if (e["chain"], e["seq"]) not in before and e["type"] == "event"
    ]
    assert len(new) == 3
    assert len({e["request_id"] for e in new}) == 3
    assert not [e for e in new if e["action"] == "api.gateway-refused"]


def test_refused_call_is_audited_as_denied(e2e_stack: Any) -> None:
    d = e2e_stack.deployment
    status, body = call(
        e2e_stack,
        "POST",
        "datasets",
        d.id_token("requester"),
        {"title": "Camden population", "file_name": "population.csv"},
    )
    assert status == 201, body
    dataset_id = body["dataset"]["id"]
    token = d.id_token("analyst")
    sub = jwt.decode(token, options={"verify_signature": False})["sub"]
    # Scan order is not time order (events spread over chains), so compare by (chain, seq).
    before = {(e["chain"], e["seq"]) for e in audit_events(e2e_stack) if e.get("actor_sub") == sub}
    status, body = call(e2e_stack, "GET", f"datasets/{dataset_id}", token)
    assert status in (403, 404)
    new = [
        e
        for e in audit_events(e2e_stack)
        if e.get("actor_sub") == sub and (e["chain"], e["seq"]) not in before
    ]
    assert len(new) == 1
    assert new[0]["decision"] == "deny"
    assert new[0]["resource"].endswith(dataset_id)


def test_state_machine_fans_out_chunks_and_succeeds(e2e_stack: Any) -> None:
    from witan.models.send.synthetic import SyntheticSpec, synthetic_tables

    d = e2e_stack.deployment
    s3, bucket = d.client("s3"), d.outputs["DataBucketName"]
    prefix = f"datasets/send-e2e-{uuid.uuid4().hex[:6]}/1/"
    for name, text in synthetic_tables(SyntheticSpec(children=150, population=1200)).items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}{name}.csv", Body=text.encode())
    run_id = f"e2e-{uuid.uuid4().hex[:8]}"
    sfn = d.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=d.outputs["StateMachineArn"],
        name=run_id,
        input=json.dumps(
            {
                "run_id": run_id,
                "model": "send",
                "inputs": {"prefix": prefix},
                "scenarios": [],
                "simulations": 30,
                "chunk_size": 10,
                "seed": 3,
            }
        ),
    )["executionArn"]
    deadline = time.monotonic() + 180
    description = sfn.describe_execution(executionArn=execution)
    while description["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.25)
        description = sfn.describe_execution(executionArn=execution)
    assert description["status"] == "SUCCEEDED", (description.get("error"), description.get("cause"))
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"models/{run_id}/manifest.json")["Body"].read())
    assert len(manifest) == 3
    chunks = s3.list_objects_v2(Bucket=bucket, Prefix=f"models/{run_id}/chunks/").get("Contents", [])
    assert len(chunks) == len(manifest)


def test_state_machine_failure_is_caught_and_recorded(e2e_stack: Any) -> None:
    d = e2e_stack.deployment
    sfn = d.client("stepfunctions")
    run_id = f"e2e-bad-{uuid.uuid4().hex[:6]}"
    execution = sfn.start_execution(
        stateMachineArn=d.outputs["StateMachineArn"],
        name=run_id,
        input=json.dumps({"run_id": run_id, "model": "send", "inputs": {"prefix": "datasets/none/"}}),
    )["executionArn"]
    deadline = time.monotonic() + 60
    description = sfn.describe_execution(executionArn=execution)
    while description["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.25)
        description = sfn.describe_execution(executionArn=execution)
    assert description["status"] == "FAILED"
    # The Catch ran model_run's `fail` step: the run record says FAILED and why.
    client = d.client("dynamodb")
    records = [
        plain(i)
        for page in client.get_paginator("scan").paginate(TableName=d.outputs["ModelRunsTableName"])
        for i in page["Items"]
        if run_id in json.dumps(plain(i), default=str)
    ]
    assert records, "no model-run record for the failed run"
    assert any(r.get("status") == "FAILED" and r.get("error") for r in records)
