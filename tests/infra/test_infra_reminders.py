"""The daily Collect+Share schedule in the template: an EventBridge cron rule invoking access_api with
the scheduled event, the permission that lets it, the link base for reminder emails, and the role's
requests-table and SES rights. No custom resource is involved."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

Tpl = dict[str, Any]


def _of(template: Tpl, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _access_api(template: Tpl) -> tuple[str, dict[str, Any]]:
    found = [
        (k, v)
        for k, v in _of(template, "AWS::Lambda::Function").items()
        if v["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        == "access_api"
    ]
    assert len(found) == 1
    return found[0]


def test_daily_cron_rule_targets_access_api(template: Tpl) -> None:
    fn_id, _ = _access_api(template)
    rules = [r["Properties"] for r in _of(template, "AWS::Events::Rule").values()]
    daily = [r for r in rules if r.get("ScheduleExpression") == "cron(0 7 * * ? *)"]
    assert len(daily) == 1, rules
    rule = daily[0]
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    # The scheduled event's own fields, passed through, plus the base of the reminder links.
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "source": "$.source",
        "detail-type": "$.detail-type",
        "id": "$.id",
        "time": "$.time",
    }
    template_text = json.dumps(transformer["InputTemplate"])
    assert '\\"source\\":<source>' in template_text and '\\"time\\":<time>' in template_text
    rest_apis = list(_of(template, "AWS::ApiGateway::RestApi"))
    assert len(rest_apis) == 1 and rest_apis[0] in template_text
    assert ".execute-api." in template_text and "/v1" in template_text
    Template.from_json(template).has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [fn_id, "Arn"]},
            "SourceArn": Match.any_value(),
        },
    )


def test_no_custom_resources_for_the_schedule(template: Tpl) -> None:
    kinds = {v["Type"] for v in template["Resources"].values()}
    assert not any(k.startswith("Custom::") and "Event" in k for k in kinds)
    assert "AWS::Scheduler::Schedule" not in kinds


def test_function_environment_is_unchanged_by_the_schedule(template: Tpl) -> None:
    _, fn = _access_api(template)
    assert not any("LINK" in name for name in fn["Properties"]["Environment"]["Variables"])


def test_access_api_role_may_run_reminders(template: Tpl) -> None:
    _, fn = _access_api(template)
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    tables = {
        k
        for k, v in _of(template, "AWS::DynamoDB::Table").items()
        if "requests" in json.dumps(v["Properties"].get("TableName", ""))
    }
    assert len(tables) == 1
    (requests_table,) = tables
    allowed: dict[str, set[str]] = {}
    for policy in _of(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for resource in json.dumps(statement["Resource"]).split("Fn::GetAtt")[1:]:
                allowed.setdefault(resource.split('"')[2], set()).update(actions)
            if "ses:SendEmail" in actions:
                allowed.setdefault("ses", set()).add("ses:SendEmail")
    # A transaction is authorised item by item: open-list delete, META update, conditional puts.
    needed = {
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
    }
    assert needed <= allowed.get(requests_table, set())
    assert "dynamodb:Scan" not in allowed.get(requests_table, set())
    assert "ses:SendEmail" in allowed.get("ses", set())
