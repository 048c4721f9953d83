"""The local gateway writes the stage's access log as API Gateway does: one record per request, in the
template's format, to the stage's log group, whose subscription moto then delivers (to access_api in
the real stack: see tests/e2e/test_e2e_flows.py for the audit event it records)."""

# ruff: noqa: S310 - every URL opened here is the local gateway on 127.0.0.1

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_stack import ACCESS_LOG_GROUP, deployed, gateway_template
from witan.api.gateway_log import ACCESS_LOG_FORMAT, REFUSED_FILTER_PATTERN

from local.deploy import Deployment
from local.gateway import LocalGateway, render_access_log

ECHO_REQUEST_ID = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"requestId": event["requestContext"]["requestId"]})}
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    template = gateway_template(
        ECHO_REQUEST_ID, access_log_format=ACCESS_LOG_FORMAT, filter_pattern=REFUSED_FILTER_PATTERN
    )
    with deployed(template, Path(tmp_path_factory.mktemp("access-log"))) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def gateway(stack: Deployment) -> Iterator[LocalGateway]:
    with LocalGateway(stack) as running:
        yield running


def send(gateway: LocalGateway, path: str, **headers: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(gateway.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def records(stack: Deployment, agent: str) -> list[dict[str, Any]]:
    """This test's records (by its own user agent) in the stage's access log group."""
    logs = stack.client("logs")
    found = []
    for stream in logs.describe_log_streams(logGroupName=ACCESS_LOG_GROUP)["logStreams"]:
        events = logs.get_log_events(logGroupName=ACCESS_LOG_GROUP, logStreamName=stream["logStreamName"])
        found += [json.loads(e["message"]) for e in events["events"]]
    return [r for r in found if r["userAgent"] == agent]


def test_a_refused_request_is_logged_without_an_integration(stack: Deployment, gateway: LocalGateway) -> None:
    agent = f"test/{uuid.uuid4().hex[:8]}"
    status, _ = send(gateway, "datasets", **{"User-Agent": agent})
    assert status == 401
    (record,) = records(stack, agent)
    assert record["integrationStatus"] == "-"
    assert (record["status"], record["errorResponseType"]) == ("401", "UNAUTHORIZED")
    assert (record["httpMethod"], record["resourcePath"], record["ip"]) == ("GET", "/{proxy+}", "127.0.0.1")
    assert record["requestId"] != "-"


def test_a_proxied_request_is_logged_with_its_request_id_and_no_path(
    stack: Deployment, gateway: LocalGateway
) -> None:
    """The partner path holds its capability token: the record has the resource path only."""
    agent = f"test/{uuid.uuid4().hex[:8]}"
    token = f"secret-{uuid.uuid4().hex}"
    status, body = send(gateway, f"collect/{token}", **{"User-Agent": agent})
    assert status == 200
    (record,) = records(stack, agent)
    assert record["integrationStatus"] == "200"
    assert record["errorResponseType"] == "-"
    assert record["requestId"] == body["requestId"]
    assert record["resourcePath"] == "/collect/{proxy+}"
    assert token not in json.dumps(record)


def test_the_template_subscription_is_in_place(stack: Deployment) -> None:
    (found,) = stack.client("logs").describe_subscription_filters(logGroupName=ACCESS_LOG_GROUP)[
        "subscriptionFilters"
    ]
    assert found["filterName"] == "refusals"
    assert found["filterPattern"] == REFUSED_FILTER_PATTERN
    sink = stack.client("cloudformation").describe_stack_resource(
        StackName=stack.stack_name, LogicalResourceId="Sink"
    )["StackResourceDetail"]["PhysicalResourceId"]
    function = stack.client("lambda").get_function(FunctionName=sink)["Configuration"]
    assert found["destinationArn"] == function["FunctionArn"]


def test_rendering_escapes_values_and_marks_missing_ones() -> None:
    rendered = render_access_log(
        '{"a":"$context.identity.userAgent","b":"$context.error.responseType","c":"$context.status"}',
        {"identity.userAgent": 'say "hi"\\', "status": "200"},
    )
    assert json.loads(rendered) == {"a": 'say "hi"\\', "b": "-", "c": "200"}
