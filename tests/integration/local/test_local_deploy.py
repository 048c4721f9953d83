"""Template preparation and the CloudFormation types added for moto, on small hand-written templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local import cfn_resources
from local.deploy import DeployError, embedded_stack, prepare_template


def test_prepare_template_drops_bootstrap_check_and_completes_mock_integrations() -> None:
    template = {
        "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}},
        "Rules": {"CheckBootstrapVersion": {"Assertions": []}},
        "Resources": {
            "Options": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {"HttpMethod": "OPTIONS", "Integration": {"Type": "MOCK"}},
            }
        },
    }
    prepared = prepare_template(template)
    assert "Parameters" not in prepared
    assert "Rules" not in prepared
    assert prepared["Resources"]["Options"]["Properties"]["Integration"] == {
        "Type": "MOCK",
        "IntegrationHttpMethod": "POST",
        "Uri": "",
    }
    assert "IntegrationHttpMethod" not in template["Resources"]["Options"]["Properties"]["Integration"]


TEMPLATE = {
    "Resources": {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "people"}},
        "Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {"UserPoolId": {"Ref": "Pool"}}},
        "Admins": {
            "Type": "AWS::Cognito::UserPoolGroup",
            "Properties": {"UserPoolId": {"Ref": "Pool"}, "GroupName": "platform-admin"},
        },
        "Sender": {"Type": "AWS::SES::EmailIdentity", "Properties": {"EmailIdentity": "noreply@witan.local"}},
        "Mail": {"Type": "AWS::SES::ConfigurationSet", "Properties": {"Name": "witan-mail"}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Threshold": 1}},
    },
    "Outputs": {
        "UserPoolId": {"Value": {"Ref": "Pool"}},
        "UserPoolClientId": {"Value": {"Ref": "Client"}},
        "PoolArn": {"Value": {"Fn::GetAtt": ["Pool", "Arn"]}},
        "AlarmArn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}},
        "ConfigSet": {"Value": {"Ref": "Mail"}},
    },
}


def test_cognito_ses_and_placeholders_deploy(tmp_path: Path) -> None:
    path = tmp_path / "Small.template.json"
    path.write_text(json.dumps(TEMPLATE))
    with embedded_stack(template_path=path) as deployment:
        outputs = deployment.outputs
        assert deployment.ignored_types == ["AWS::CloudWatch::Alarm"]
        cognito = deployment.client("cognito-idp")
        pool = cognito.describe_user_pool(UserPoolId=outputs["UserPoolId"])["UserPool"]
        assert pool["Name"] == "people"
        assert outputs["PoolArn"] == pool["Arn"]
        groups = {g["GroupName"] for g in cognito.list_groups(UserPoolId=outputs["UserPoolId"])["Groups"]}
        assert {"platform-admin", "org-camden", "org-hackney"} <= groups
        assert outputs["AlarmArn"].startswith("arn:aws:cloudwatch:")
        ses = deployment.client("ses")
        assert "noreply@witan.local" in ses.list_verified_email_addresses()["VerifiedEmailAddresses"]
        assert outputs["ConfigSet"] == "witan-mail"
        token = deployment.id_token("analyst")
        assert token.count(".") == 2


def test_failed_custom_resource_fails_the_deploy_with_its_reason(tmp_path: Path) -> None:
    code = (
        "import json, urllib.request\n"
        "def handler(event, context):\n"
        "    body = json.dumps({'Status': 'FAILED', 'Reason': 'bucket policy refused',"
        " 'PhysicalResourceId': 'x',"
        " 'StackId': event['StackId'], 'RequestId': event['RequestId'],"
        " 'LogicalResourceId': event['LogicalResourceId']}).encode()\n"
        "    urllib.request.urlopen(urllib.request.Request(event['ResponseURL'], data=body, method='PUT'))\n"
    )
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.13",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": code},
                },
            },
            "Thing": {"Type": "Custom::Thing", "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}}},
        }
    }
    path = tmp_path / "Failing.template.json"
    path.write_text(json.dumps(template))
    with pytest.raises(DeployError, match="bucket policy refused"), embedded_stack(template_path=path):
        pass


def test_ignored_types_lists_what_moto_lacks() -> None:
    template = {"Resources": {"A": {"Type": "AWS::S3::Bucket"}, "B": {"Type": "AWS::SNS::TopicPolicy"}}}
    assert cfn_resources.ignored_types(template) == ["AWS::SNS::TopicPolicy"]


def test_buckets_the_template_locks_are_locked(tmp_path: Path) -> None:
    """moto's CloudFormation ignores ObjectLockEnabled: the deploy turns it on as the template says."""
    template = {
        "Resources": {
            "Sealed": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "ObjectLockEnabled": True,
                    "ObjectLockConfiguration": {
                        "ObjectLockEnabled": "Enabled",
                        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3}},
                    },
                },
            },
            "Plain": {"Type": "AWS::S3::Bucket"},
        },
        "Outputs": {"Sealed": {"Value": {"Ref": "Sealed"}}, "Plain": {"Value": {"Ref": "Plain"}}},
    }
    path = tmp_path / "Locks.template.json"
    path.write_text(json.dumps(template))
    with embedded_stack(template_path=path) as deployment:
        s3 = deployment.client("s3")
        config = s3.get_object_lock_configuration(Bucket=deployment.outputs["Sealed"])[
            "ObjectLockConfiguration"
        ]
        assert config["ObjectLockEnabled"] == "Enabled"
        retention = config["Rule"]["DefaultRetention"]
        assert (retention["Mode"], retention["Days"]) == ("COMPLIANCE", 3)
        assert s3.get_bucket_versioning(Bucket=deployment.outputs["Sealed"])["Status"] == "Enabled"
        with pytest.raises(s3.exceptions.ClientError):
            s3.get_object_lock_configuration(Bucket=deployment.outputs["Plain"])
