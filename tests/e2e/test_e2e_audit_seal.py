"""The audit seal on the deployed stack: every audit write reaches audit_sealer through the table's
stream, which signs the heads into the seal bucket; GET /audit/verify checks against them, and a
head overwritten behind the API's back is reported (and alerted) until it is restored."""

# ruff: noqa: S310 - every URL opened here is the local gateway on 127.0.0.1

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from witan.audit.chain import body_of, compute_hash
from witan.aws.audit_seals import KmsSigner, S3SealStore, verify_sealed

from local import lambda_runtime

pytestmark = pytest.mark.xdist_group("e2e")
RETENTION_DAYS = 2557


def _get(stack: Any, path: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(stack.gateway.url + path, headers={"Authorization": token})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _seal_keys(stack: Any) -> list[str]:
    s3 = stack.deployment.client("s3")
    bucket = stack.deployment.outputs["AuditSealBucketName"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="seals/")
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def _sealer_alerts(stack: Any) -> list[dict[str, Any]]:
    logs = stack.deployment.client("logs")
    group = f"/aws/lambda/{stack.deployment.outputs['AuditSealerFunctionName']}"
    events = logs.filter_log_events(logGroupName=group).get("events", [])
    found = []
    for event in events:
        for line in event["message"].splitlines():
            if "audit trail tampered" in line:
                found.append(json.loads(line).get("alert", {}))
    return found


def test_writes_are_sealed_and_verify_uses_the_seals(e2e_stack: Any) -> None:
    admin = e2e_stack.deployment.id_token("admin")
    before = len(_seal_keys(e2e_stack))
    status, _ = _get(e2e_stack, "datasets", admin)  # one audited request
    assert status == 200
    assert lambda_runtime.wait_until_idle(60)
    assert len(_seal_keys(e2e_stack)) > before
    status, report = _get(e2e_stack, "audit/verify", admin)
    assert status == 200 and report["ok"] is True, report["problems"]
    assert report["seals"] >= 1


def test_overwritten_head_is_reported_and_alerted(e2e_stack: Any) -> None:
    deployment = e2e_stack.deployment
    admin = deployment.id_token("admin")
    _get(e2e_stack, "datasets", admin)
    assert lambda_runtime.wait_until_idle(60)
    ddb = deployment.client("dynamodb")
    table = deployment.outputs["AuditTableName"]
    # The newest event of the busiest chain, rewritten with a consistent hash (a writer holding PutItem).
    items = [
        {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
        for page in ddb.get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
    ]
    events = [i for i in items if str(i["chain"]).startswith("events#")]
    head = max(events, key=lambda i: (int(i["seq"]), str(i["chain"])))
    head = max((i for i in events if i["chain"] == head["chain"]), key=lambda i: int(i["seq"]))
    body = {**body_of(head), "decision": "deny" if head["decision"] != "deny" else "allow"}
    forged = {**body, "chain": head["chain"], "seq": head["seq"], "hash": compute_hash(body)}

    def put(item: dict[str, Any]) -> None:
        serializer = TypeSerializer()
        ddb.put_item(TableName=table, Item={k: serializer.serialize(v) for k, v in item.items()})

    put(forged)
    try:
        assert lambda_runtime.wait_until_idle(60)
        # Checked with the library, not GET /audit/verify: that request's own audit event could land on
        # the forged head, and restoring the head would then break the link to it.
        signer = KmsSigner(deployment.outputs["AuditSealKeyId"], deployment.client("kms"))
        store = S3SealStore(deployment.outputs["AuditSealBucketName"], deployment.client("s3"))
        result = verify_sealed(table, ddb, store, signer, retention_days=RETENTION_DAYS)
        kinds = {(p.chain, p.kind) for p in result.problems}
        assert (head["chain"], "seal_mismatch") in kinds, result.problems
        alerts = _sealer_alerts(e2e_stack)
        assert any(a.get("kind") == "modify" and a.get("chain") == head["chain"] for a in alerts), alerts
    finally:
        put(head)  # restore, so the other e2e modules sharing this stack see an intact trail
        assert lambda_runtime.wait_until_idle(60)
    status, report = _get(e2e_stack, "audit/verify", admin)
    assert status == 200 and report["ok"] is True, report["problems"]
