"""DynamoDB stream -> Lambda in the in-process runtime: delivered in the background (never inside the
PutItem that made the record), in batches, retried when the function fails, dropped after the
mapping's attempts, as Lambda does."""

from __future__ import annotations

import io
import json
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import lambda_runtime

REGION = "eu-west-2"
ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
# Appends each batch (event names and keys) to the file named by $OUT; fails while $FAIL_FILE exists.
HANDLER = """
    import json, os

    def lambda_handler(event, context):
        if os.path.exists(os.environ["FAIL_FILE"]):
            raise RuntimeError("injected failure")
        batch = [[r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]] for r in event["Records"]]
        with open(os.environ["OUT"], "a") as out:
            out.write(json.dumps(batch) + "\\n")
        return {"records": len(batch)}
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", textwrap.dedent(HANDLER))
    return buffer.getvalue()


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[dict[str, Any]]:
    with mock_aws():
        lambda_runtime.install()
        try:
            ddb = boto3.client("dynamodb", region_name=REGION)
            table = ddb.create_table(
                TableName="t",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )["TableDescription"]
            iam = boto3.client("iam", region_name=REGION)
            role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
            functions = boto3.client("lambda", region_name=REGION)
            out, fail = tmp_path / "batches.jsonl", tmp_path / "fail"
            functions.create_function(
                FunctionName="sink",
                Runtime="python3.13",
                Role=role,
                Handler="handler.lambda_handler",
                Code={"ZipFile": _zip()},
                Environment={"Variables": {"OUT": str(out), "FAIL_FILE": str(fail)}},
            )
            functions.create_event_source_mapping(
                FunctionName="sink", EventSourceArn=table["LatestStreamArn"], StartingPosition="TRIM_HORIZON"
            )
            yield {"ddb": ddb, "out": out, "fail": fail}
        finally:
            lambda_runtime.uninstall()


def _batches(out: Path) -> list[list[list[str]]]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_records_reach_the_function_in_order(stream: dict[str, Any]) -> None:
    ddb = stream["ddb"]
    for n in range(5):
        ddb.put_item(TableName="t", Item={"id": {"S": f"k{n}"}})
    ddb.put_item(TableName="t", Item={"id": {"S": "k0"}, "v": {"N": "1"}})
    ddb.delete_item(TableName="t", Key={"id": {"S": "k1"}})
    assert lambda_runtime.wait_until_idle(30)
    delivered = [record for batch in _batches(stream["out"]) for record in batch]
    assert delivered == [["INSERT", f"k{n}"] for n in range(5)] + [["MODIFY", "k0"], ["REMOVE", "k1"]]


def test_a_failed_batch_is_retried_then_dropped(
    stream: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb, fail = stream["ddb"], stream["fail"]
    fail.write_text("x")
    ddb.put_item(TableName="t", Item={"id": {"S": "a"}})
    assert lambda_runtime.wait_until_idle(30)
    assert _batches(stream["out"]) == []  # failed: kept for the sweep
    fail.unlink()
    ddb.put_item(TableName="t", Item={"id": {"S": "b"}})
    assert lambda_runtime.wait_until_idle(30)
    assert [r for batch in _batches(stream["out"]) for r in batch] == [["INSERT", "a"], ["INSERT", "b"]]
    # A batch that never succeeds is dropped after the mapping's attempts (no endless retries).
    monkeypatch.setattr(lambda_runtime, "STREAM_MAX_RETRIES", 2)
    fail.write_text("x")
    ddb.put_item(TableName="t", Item={"id": {"S": "c"}})
    assert lambda_runtime.wait_until_idle(30)
    deadline = time.monotonic() + 10
    while lambda_runtime._stream_backlog and time.monotonic() < deadline:
        time.sleep(0.2)  # the sweep retries once a second
    assert not lambda_runtime._stream_backlog
    fail.unlink()
    ddb.put_item(TableName="t", Item={"id": {"S": "d"}})
    assert lambda_runtime.wait_until_idle(30)
    assert [r for batch in _batches(stream["out"]) for r in batch][-1] == ["INSERT", "d"]
    assert ["INSERT", "c"] not in [r for batch in _batches(stream["out"]) for r in batch]
