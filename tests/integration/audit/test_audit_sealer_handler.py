"""functions/audit_sealer against moto: a stream batch is checked (TTL removals told apart by their
userIdentity, early ones and everything else alerted) and sealed; the schedule seals a quiet trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_stack import REGION, Aws, LambdaContext, load_function
from boto3.dynamodb.types import TypeSerializer
from witan.audit.chain import format_time
from witan.audit.records import AuditEvent
from witan.aws.audit_table import DynamoAuditTrail

BUCKET = "witan-test-sealer"
RETENTION = 2557


class SealerContext(LambdaContext):
    function_name = "audit-sealer"


@pytest.fixture
def sealer(moto_aws: Aws, audit_table: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    key = boto3.client("kms", region_name=REGION).create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    moto_aws.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    monkeypatch.setenv("AUDIT_TABLE", audit_table)
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", str(RETENTION))
    monkeypatch.setenv("AUDIT_SEAL_BUCKET", BUCKET)
    monkeypatch.setenv("AUDIT_SEAL_KEY_ID", key["KeyMetadata"]["Arn"])
    monkeypatch.setenv("AUDIT_CHAINS", "2")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Witan")
    return load_function("audit_sealer", "audit_sealer_handler_under_test")


def _image(expires_in_days: int) -> dict[str, Any]:
    written = datetime.now(UTC) - timedelta(days=1)
    values = {
        "chain": "events#0",
        "seq": 1,
        "time": format_time(written),
        "expires_at": int((written + timedelta(days=expires_in_days)).timestamp()),
    }
    return {k: TypeSerializer().serialize(v) for k, v in values.items()}


def _record(name: str, image: dict[str, Any], ttl: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"Keys": {"chain": image["chain"], "seq": image["seq"]}}
    data["NewImage" if name == "INSERT" else "OldImage"] = image
    record: dict[str, Any] = {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": data}
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


def test_stream_batch_is_checked_then_sealed(
    sealer: Any, dynamodb: Any, audit_table: str, moto_aws: Aws
) -> None:
    trail = DynamoAuditTrail(audit_table, dynamodb, chains=2, retention_days=RETENTION)
    for i in range(3):
        trail.record(
            AuditEvent(action="dataset.read", decision="allow", reason="r", status=200, request_id=f"q{i}")
        )
    records = [
        _record("INSERT", _image(RETENTION)),
        _record("REMOVE", _image(RETENTION), ttl=True),  # TTL after the retention: fine
        _record("REMOVE", _image(3), ttl=True),  # TTL of an item given a 3-day expiry
        _record("INSERT", _image(3)),  # a writer setting a short expiry
        _record("MODIFY", _image(RETENTION)),
        _record("REMOVE", _image(RETENTION)),  # deleted by someone
    ]
    result = sealer.lambda_handler({"Records": records}, SealerContext())
    assert [a["kind"] for a in result["alerts"]] == ["early-ttl-expiry", "short-expiry", "modify", "remove"]
    assert result["records"] == 6 and result["seal"].startswith("seals/") and "-stream-" in result["seal"]
    stored = json.loads(moto_aws.s3.get_object(Bucket=BUCKET, Key=result["seal"])["Body"].read())
    assert sum(h["seq"] for h in stored["document"]["heads"].values()) == 3


def test_schedule_seals_a_quiet_trail(sealer: Any, moto_aws: Aws) -> None:
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": "2026-12-07T03:00:00Z"}
    result = sealer.lambda_handler(event, SealerContext())
    assert result["alerts"] == [] and "-schedule-" in result["seal"]
    stored = json.loads(moto_aws.s3.get_object(Bucket=BUCKET, Key=result["seal"])["Body"].read())
    assert stored["document"]["heads"] == {}  # nothing written yet: still sealed
