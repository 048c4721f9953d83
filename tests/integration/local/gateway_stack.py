"""A small template for the local gateway's tests: one proxy function behind a REST API with a Cognito
user pool, shaped like the real stack's API (ANY / and ANY /{proxy+} behind the authorizer, ANY
/collect/{proxy+} open), with optional binary media types and an access log subscribed to a sink."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local.deploy import Deployment, embedded_stack

ACCESS_LOG_GROUP = "/test/api/access"
# A subscription needs a destination; moto invokes it with every record (it applies no filter pattern).
SINK = "def handler(event, context):\n    return None\n"
INVOKE_ARN = "arn:aws:apigateway:eu-west-2:lambda:path/2015-03-31/functions/"


def _function(code: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.13",
            "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": code},
        },
    }


def _method(resource: Any, authorized: bool) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "RestApiId": {"Ref": "Api"},
            "ResourceId": resource,
            "HttpMethod": "ANY",
            "AuthorizationType": "COGNITO_USER_POOLS" if authorized else "NONE",
            "Integration": {
                "Type": "AWS_PROXY",
                "IntegrationHttpMethod": "POST",
                "Uri": {"Fn::Join": ["", [INVOKE_ARN, {"Fn::GetAtt": ["Fn", "Arn"]}, "/invocations"]]},
            },
        },
    }


def _resource(parent: Any, part: str) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGateway::Resource",
        "Properties": {"RestApiId": {"Ref": "Api"}, "ParentId": parent, "PathPart": part},
    }


def gateway_template(
    function_code: str,
    *,
    signed_in_routes: bool = True,
    binary_media_types: list[str] | None = None,
    access_log_format: str | None = None,
    filter_pattern: str = "",
) -> dict[str, Any]:
    """The template; with `access_log_format`, a stage writing that format to ACCESS_LOG_GROUP, which
    is subscribed (with `filter_pattern`) to a sink function."""
    root = {"Fn::GetAtt": ["Api", "RootResourceId"]}
    api: dict[str, Any] = {"Name": "api"}
    if binary_media_types is not None:
        api["BinaryMediaTypes"] = binary_media_types
    resources: dict[str, Any] = {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
        },
        "Fn": _function(function_code),
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UsernameAttributes": ["email"]}},
        "Client": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {"UserPoolId": {"Ref": "Pool"}, "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"]},
        },
        "OtherClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {"UserPoolId": {"Ref": "Pool"}},
        },
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": api},
        "Collect": _resource(root, "collect"),
        "CollectProxy": _resource({"Ref": "Collect"}, "{proxy+}"),
        "CollectAny": _method({"Ref": "CollectProxy"}, False),
        "Unauthorized": {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResponseType": "UNAUTHORIZED",
                "ResponseTemplates": {
                    "application/json": '{"code": "unauthorized", "message": $context.error.messageString}'
                },
            },
        },
    }
    if signed_in_routes:
        resources["Proxy"] = _resource(root, "{proxy+}")
        resources["RootAny"] = _method(root, True)
        resources["ProxyAny"] = _method({"Ref": "Proxy"}, True)
    if access_log_format is not None:
        resources["AccessLogs"] = {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": ACCESS_LOG_GROUP},
        }
        resources["Stage"] = {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "StageName": "v1",
                "AccessLogSetting": {
                    "DestinationArn": {"Fn::GetAtt": ["AccessLogs", "Arn"]},
                    "Format": access_log_format,
                },
            },
        }
        resources["Sink"] = _function(SINK)
        resources["Refusals"] = {
            "Type": "AWS::Logs::SubscriptionFilter",
            "Properties": {
                "LogGroupName": {"Ref": "AccessLogs"},
                "FilterName": "refusals",
                "FilterPattern": filter_pattern,
                "DestinationArn": {"Fn::GetAtt": ["Sink", "Arn"]},
            },
        }
    return {
        "Resources": resources,
        "Outputs": {
            "UserPoolId": {"Value": {"Ref": "Pool"}},
            "UserPoolClientId": {"Value": {"Ref": "Client"}},
            "OtherClientId": {"Value": {"Ref": "OtherClient"}},
            "AccessApiFunctionName": {"Value": {"Ref": "Fn"}},
        },
    }


@contextmanager
def deployed(template: dict[str, Any], folder: Path, *, server: bool = False) -> Iterator[Deployment]:
    """The template deployed on an embedded stack (in-process moto, or moto's server)."""
    path = folder / "Gateway-test.template.json"
    path.write_text(json.dumps(template))
    with embedded_stack(server=server, template_path=path) as deployment:
        yield deployment
