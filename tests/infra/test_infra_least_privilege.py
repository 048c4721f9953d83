"""Least privilege (issue 15, item 7) on the synthesized template: access_api's S3 rights per prefix and
action, no X-Ray on the API stage (partner paths hold tokens), the validator's grant writes narrowed."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

Tpl = dict[str, Any]
ENV = "local"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _refs(value: Any) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("Ref"), str):
                found.add(node["Ref"])
            if "Fn::GetAtt" in node:
                found.add(node["Fn::GetAtt"][0])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return found


def _role_statements(template: Tpl, folder: str) -> list[dict[str, Any]]:
    name = f"witan-{ENV}-{folder.replace('_', '-')}"
    (fn,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("FunctionName") == name
    ]
    (role_id,) = _refs(fn["Role"])
    statements: list[dict[str, Any]] = []
    for r in template["Resources"].values():
        if r["Type"] == "AWS::IAM::Policy" and role_id in _refs(r["Properties"]["Roles"]):
            statements += r["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _data_bucket_id(template: Tpl) -> str:
    (found,) = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket" and "-data-" in json.dumps(r["Properties"].get("BucketName"))
    ]
    return found


def _object_rights(template: Tpl, folder: str) -> dict[str, set[str]]:
    """prefix -> S3 object actions the function's role holds on the data bucket."""
    bucket = _data_bucket_id(template)
    rights: dict[str, set[str]] = defaultdict(set)
    for s in _role_statements(template, folder):
        for resource in _as_list(s["Resource"]):
            if not (isinstance(resource, dict) and "Fn::Join" in resource and bucket in _refs(resource)):
                continue
            prefix = resource["Fn::Join"][1][-1].lstrip("/").removesuffix("*")
            rights[prefix] |= {a for a in _as_list(s["Action"]) if a.startswith("s3:")}
    return dict(rights)


def test_access_api_s3_rights_are_split_per_prefix_and_action(template: Tpl) -> None:
    assert _object_rights(template, "access_api") == {
        # presigned POST of new versions, presigned GET of downloads, versions read for datapacks
        "datasets/": {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"},
        "reports/": {"s3:GetObject"},  # report downloads and report.json for the partner page
        "models/": {"s3:GetObject", "s3:GetObjectVersion"},  # run outputs; never written by the API
        "uploads/": {"s3:PutObject"},  # partners' presigned POST; never read through the API
    }


def test_no_xray_on_the_api_stage(template: Tpl) -> None:
    """X-Ray segments of API Gateway record the request URL, and /collect/{token}/... holds a token.
    Tracing is a stage-wide setting, so it is off; the function's own segments hold no URL."""
    (stage,) = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::Stage"
    ]
    assert stage.get("TracingEnabled", False) is False
    for settings in stage.get("MethodSettings", []):
        assert settings.get("DataTraceEnabled", False) is False
    assert "$context.path" not in stage["AccessLogSetting"]["Format"]


def test_validator_grant_writes_are_narrowed(template: Tpl) -> None:
    """IAM cannot compare a grant with the request's share_with (no value conditions in DynamoDB), so:
    grant items only, with a grant's attributes only, and share_with never written by the validator."""
    statements = {s.get("Sid"): s for s in _role_statements(template, "upload_validator")}
    put = statements["ShareCollectedVersions"]
    assert put["Action"] == "dynamodb:PutItem"
    assert put["Condition"]["ForAllValues:StringLike"] == {"dynamodb:LeadingKeys": ["DATASET#*"]}
    assert set(put["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]) == {
        "pk", "sk", "gsi1pk", "gsi1sk", "record", "expires_at",
    }  # fmt: skip
    query = statements["ReadDatasetGrants"]
    assert query["Action"] == "dynamodb:Query" and "LeadingKeys" in json.dumps(query["Condition"])
    deny = statements["NeverWriteShareWith"]
    assert deny["Effect"] == "Deny"
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= set(_as_list(deny["Action"]))
    denied = set(_as_list(deny["Condition"]["ForAnyValue:StringEquals"]["dynamodb:Attributes"]))
    assert denied == {"share_with", "share_until", "requester_sub", "requester_groups", "dataset_owner_org"}
    # Nothing else of the validator's may write the grants table.
    grants = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::DynamoDB::Table" and r["Properties"].get("TableName") == f"witan-{ENV}-grants"
    ]
    writers = [
        s.get("Sid")
        for s in statements.values()
        if s.get("Effect", "Allow") == "Allow"
        and set(grants) & _refs(s["Resource"])
        and any("Put" in a or "Update" in a or "Write" in a for a in _as_list(s["Action"]))
    ]
    assert writers == ["ShareCollectedVersions"]


def test_admins_need_mfa(template: Tpl) -> None:
    """Cognito MFA is per pool (OPTIONAL here, TOTP); the API requires it of platform admins."""
    name = f"witan-{ENV}-access-api"
    (fn,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("FunctionName") == name
    ]
    assert fn["Environment"]["Variables"]["ADMIN_MFA"] == "required"
    (pool,) = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Cognito::UserPool"
    ]
    assert pool["MfaConfiguration"] == "OPTIONAL"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
