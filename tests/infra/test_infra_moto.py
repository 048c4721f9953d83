"""The synthesized template stays deployable by moto's CloudFormation (what local/ builds on).

Custom resources are left out here (local/ runs them with its in-process Lambda runner); everything
else must create, and the resource types moto ignores are pinned so that a new one is noticed."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
# Created by moto's CloudFormation as no-ops (warned, not failed); local/ stands in where it matters
# (Cognito user pool and client, API Gateway stage and authorizer, SES identity, log subscription).
IGNORED_BY_MOTO = {
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::Stage",
    "AWS::CloudWatch::Alarm",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::Cognito::UserPoolDomain",
    "AWS::Cognito::UserPoolGroup",
    "AWS::Logs::SubscriptionFilter",
    "AWS::S3::BucketPolicy",
    "AWS::SES::ConfigurationSet",
    "AWS::SES::EmailIdentity",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
}


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    return buffer.getvalue()


def _deployable(template: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(json.dumps(template))
    body.get("Parameters", {}).pop("BootstrapVersion", None)
    body.get("Rules", {}).pop("CheckBootstrapVersions", None)
    body["Resources"] = {k: v for k, v in body["Resources"].items() if not v["Type"].startswith("Custom::")}
    return body


@pytest.mark.filterwarnings("ignore:Tried to parse")
def test_template_creates_on_moto_cloudformation(
    template: dict[str, Any], template_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's own AWS::KMS::Key makes every key symmetric and fails on CloudFormation's tag spelling
    # (Key/Value); local/ creates keys with cfn_resources.KmsKey (the audit seal key signs), so here too.
    from moto.cloudformation import parsing

    from local.cfn_resources import KmsKey

    models = parsing.get_model_map
    monkeypatch.setattr(parsing, "get_model_map", lambda: {**models(), "AWS::KMS::Key": KmsKey})
    assets = json.loads(
        template_path.with_name(template_path.name.replace(".template.json", ".assets.json")).read_text()
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        bucket = f"cdk-hnb659fds-assets-123456789012-{REGION}"
        s3.create_bucket(Bucket=bucket)
        for asset in assets["files"].values():
            source = template_path.parent / asset["source"]["path"]
            body = _zip(source) if source.is_dir() else source.read_bytes()
            for destination in asset["destinations"].values():
                s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cloudformation.create_stack(
                StackName="Witan-local",
                TemplateBody=json.dumps(_deployable(template)),
                Capabilities=["CAPABILITY_NAMED_IAM"],
            )
        (stack,) = cloudformation.describe_stacks(StackName="Witan-local")["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        ignored = {
            str(w.message).split("parse ")[1].split(" but")[0]
            for w in caught
            if "not supported by moto" in str(w.message)
        }
        assert ignored == IGNORED_BY_MOTO
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["AuditTableName"] == "witan-local-audit"
        assert outputs["StateMachineArn"].endswith(":stateMachine:witan-local-model-run")
        functions = boto3.client("lambda", region_name=REGION)
        (mapping,) = functions.list_event_source_mappings(FunctionName="witan-local-upload-validator")[
            "EventSourceMappings"
        ]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # The audit table's stream reaches the sealer (moto registers stream mappings on the table).
        (stream,) = functions.list_event_source_mappings(FunctionName="witan-local-audit-sealer")[
            "EventSourceMappings"
        ]
        assert ":table/witan-local-audit/stream/" in stream["EventSourceArn"]
        # moto's CloudFormation keeps a function's Environment (not its Layers or TracingConfig).
        config = functions.get_function(FunctionName="witan-local-access-api")["Configuration"]
        assert config["Environment"]["Variables"]["STATE_MACHINE_ARN"] == outputs["StateMachineArn"]
