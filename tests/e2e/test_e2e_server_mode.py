"""The same stack deployed into a ThreadedMotoServer (what `witan local up` runs): every AWS call of the
test, the gateway and the handlers goes over HTTP to 127.0.0.1. A separate environment name keeps its
resource names apart from the session's in-process stack (both share moto's backends in one process)."""

# ruff: noqa: S310 - every URL opened here is the local gateway on 127.0.0.1

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local import lambda_runtime
from local.deploy import Deployment, embedded_stack
from local.gateway import LocalGateway

pytestmark = pytest.mark.xdist_group("e2e")


@pytest.fixture(scope="module")
def server_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, LocalGateway]]:
    # Its own outbox, so that its install and uninstall of the outbox hook pair up (local/outbox.py):
    # embedded_stack undoes one install on exit even when it was given no outbox.
    outbox_dir = tmp_path_factory.mktemp("server-outbox")
    with (
        embedded_stack(
            server=True, context={"witan:environment": "srvtest"}, outbox_dir=outbox_dir
        ) as deployment,
        LocalGateway(deployment) as gateway,
    ):
        yield deployment, gateway


def test_server_mode_deploys_and_serves_the_api(server_stack: tuple[Deployment, LocalGateway]) -> None:
    deployment, gateway = server_stack
    assert deployment.endpoint_url and deployment.endpoint_url.startswith("http://127.0.0.1:")
    assert deployment.stack_name == "Witan-srvtest"
    assert deployment.outputs["DataBucketName"].startswith("witan-srvtest-")
    request = urllib.request.Request(
        gateway.url + "datasets", headers={"Authorization": deployment.id_token("admin")}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        assert "items" in json.loads(response.read())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(gateway.url + "datasets", timeout=60)
    assert refused.value.code == 401


def test_server_mode_upload_reaches_the_validator(server_stack: tuple[Deployment, LocalGateway]) -> None:
    from witan.aws.submissions import put_request, put_submission, request_pk
    from witan.collect.records import CollectionRequest, Submission

    deployment, _ = server_stack
    dynamodb, table = deployment.client("dynamodb"), deployment.outputs["RequestsTableName"]
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    put_request(
        dynamodb, table, CollectionRequest(request_id, "Population", "population-by-age", "r@camden.example")
    )
    put_submission(dynamodb, table, Submission(request_id, "s1", "p@school.example"))
    body = "area-code,area-name,year,sex,age,population\nE09000007,Camden,2024,persons,3,2000\n"
    deployment.client("s3").put_object(
        Bucket=deployment.outputs["DataBucketName"], Key=f"uploads/{request_id}/s1/data.csv", Body=body
    )
    assert lambda_runtime.wait_until_idle(120)
    items: list[dict[str, Any]] = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": request_pk(request_id)}},
    )["Items"]
    statuses = [i["status"]["S"] for i in items if i.get("type", {}).get("S") == "check"]
    assert statuses == ["valid"]
