"""The audit seal in the template: stream -> sealer, a signing key only the sealer may use, a
compliance-mode Object Lock bucket, a schedule and the tamper alarms (infra/audit_seal.py)."""

from __future__ import annotations

import json
from typing import Any

Tpl = dict[str, Any]
RETENTION_DAYS = 2557


def _resources(template: Tpl, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _one(template: Tpl, kind: str, **match: Any) -> tuple[str, dict[str, Any]]:
    found = [
        (k, v["Properties"])
        for k, v in _resources(template, kind).items()
        if all(v["Properties"].get(name) == want for name, want in match.items())
    ]
    assert len(found) == 1, (kind, match, len(found))
    return found[0]


def _statements(template: Tpl, role_name_part: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to the roles whose name contains `role_name_part`."""
    roles = {
        k
        for k, v in _resources(template, "AWS::IAM::Role").items()
        if role_name_part in json.dumps(v["Properties"].get("RoleName", ""))
    }
    out: list[dict[str, Any]] = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        attached = {r.get("Ref") for r in policy["Properties"].get("Roles", []) if isinstance(r, dict)}
        if attached & roles:
            out.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for s in statements:
        actions = s["Action"]
        found.update([actions] if isinstance(actions, str) else actions)
    return found


def test_audit_table_streams_to_the_sealer(template: Tpl) -> None:
    table_id, table = _one(template, "AWS::DynamoDB::Table", TableName="witan-local-audit")
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    _, mapping = _one(template, "AWS::Lambda::EventSourceMapping", StartingPosition="TRIM_HORIZON")
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert mapping["MaximumBatchingWindowInSeconds"] <= 10
    sealer_id, sealer = _one(template, "AWS::Lambda::Function", FunctionName="witan-local-audit-sealer")
    assert mapping["FunctionName"] == {"Ref": sealer_id}
    assert sealer["Environment"]["Variables"]["AUDIT_RETENTION_DAYS"] == str(RETENTION_DAYS)
    # The schedule seals a quiet trail too.
    _, rule = _one(template, "AWS::Events::Rule", Name="witan-local-audit-seal")
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [sealer_id, "Arn"]}


def test_only_the_sealer_may_sign(template: Tpl) -> None:
    key_id, key = _one(template, "AWS::KMS::Key", KeySpec="ECC_NIST_P256")
    assert key["KeyUsage"] == "SIGN_VERIFY"
    deny = [s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == "OnlyTheSealerSigns"]
    assert len(deny) == 1 and deny[0]["Effect"] == "Deny" and deny[0]["Action"] == "kms:Sign"
    assert deny[0]["Principal"] == {"AWS": "*"}
    assert "witan-local-audit-sealer-role" in json.dumps(deny[0]["Condition"]["ArnNotEquals"])
    sealer = _statements(template, "audit-sealer-role")
    assert {"kms:Sign", "kms:Verify"} <= _actions(sealer)
    # The sealer never writes the audit table.
    writes = ("Put", "Update", "Delete", "BatchWrite", "PartiQL")
    assert not {a for a in _actions(sealer) if a.startswith("dynamodb:") and any(w in a for w in writes)}
    for role in ("access-api-role", "upload-validator-role", "model-run-role"):
        actions = _actions(_statements(template, role))
        assert "kms:Sign" not in actions and "kms:*" not in actions, role
    assert "kms:Verify" in _actions(_statements(template, "access-api-role"))
    assert key_id


def test_seal_bucket_is_locked_in_compliance_mode(template: Tpl) -> None:
    buckets = [
        v["Properties"]
        for v in _resources(template, "AWS::S3::Bucket").values()
        if "audit-seals" in json.dumps(v["Properties"].get("BucketName"))
    ]
    assert len(buckets) == 1
    bucket = buckets[0]
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Mode": "COMPLIANCE",
        "Days": RETENTION_DAYS,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


def test_tamper_and_missing_seal_alarms(template: Tpl) -> None:
    alarms = {
        v["Properties"]["AlarmName"]: v["Properties"]
        for v in _resources(template, "AWS::CloudWatch::Alarm").values()
    }

    def metric(alarm: dict[str, Any]) -> dict[str, Any]:
        return alarm["Metrics"][0]["MetricStat"]["Metric"]

    tampered = alarms["witan-local-audit-tampered"]
    assert metric(tampered)["MetricName"] == "AuditTamperAlerts" and tampered["Threshold"] == 1
    assert metric(tampered)["Dimensions"] == [{"Name": "service", "Value": "audit_sealer"}]
    missing = alarms["witan-local-audit-seals-missing"]
    assert metric(missing)["MetricName"] == "AuditSealsWritten"
    assert missing["ComparisonOperator"] == "LessThanThreshold" and missing["TreatMissingData"] == "breaching"
    assert "witan-local-audit-sealer-errors" in alarms
    outputs = template["Outputs"]
    assert {"AuditSealBucketName", "AuditSealKeyId", "AuditSealerFunctionName"} <= set(outputs)
