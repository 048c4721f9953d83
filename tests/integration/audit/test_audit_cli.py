"""`witan audit verify|digest` against moto: exit codes 0 intact, 1 tampered, 2 unusable."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_stack import FAKE_CREDENTIALS
from dynamo_tables import create_audit_table
from moto.server import ThreadedMotoServer
from witan import cli
from witan.audit import cli as audit_cli
from witan.audit.records import AuditEvent
from witan.aws.audit_table import DynamoAuditTrail


def main(argv: list[str]) -> int:
    """`witan` with only the audit commands, so other areas' modules cannot break these tests."""
    parser = argparse.ArgumentParser(prog="witan")
    audit_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_audit_commands_are_registered_with_witan() -> None:
    assert "witan.audit.cli" in cli.COMMAND_MODULES


def _record(client: Any, table: str, n: int) -> DynamoAuditTrail:
    trail = DynamoAuditTrail(table, client, chains=2)
    for i in range(n):
        trail.record(
            AuditEvent(action="dataset.read", decision="allow", reason="r", status=200, request_id=f"c{i}")
        )
    return trail


def test_verify_intact_then_tampered(
    dynamodb: Any, audit_table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _record(dynamodb, audit_table, 5)
    assert main(["audit", "verify", "--table", audit_table]) == 0
    assert "INTACT" in capsys.readouterr().out

    key = {"chain": {"S": "events#0"}, "seq": {"N": "1"}}
    chain = "events#0"
    if "Item" not in dynamodb.get_item(TableName=audit_table, Key=key):
        chain, key = "events#1", {"chain": {"S": "events#1"}, "seq": {"N": "1"}}
    dynamodb.update_item(
        TableName=audit_table,
        Key=key,
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"N": "500"}},
    )
    assert main(["audit", "verify", "--table", audit_table]) == 1
    out = capsys.readouterr().out
    assert f"PROBLEM modified chain={chain} seq=1" in out and "TAMPERED: 1 problem(s)" in out

    assert main(["audit", "verify", "--table", audit_table, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["problems"] == [
        {
            "chain": chain,
            "seq": 1,
            "kind": "modified",
            "message": "stored hash does not match the item's content",
        }
    ]


def test_verify_missing_table_is_unusable(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--table", "absent"]) == 2
    assert "ResourceNotFoundException" in capsys.readouterr().err


def test_digest_on_demand(dynamodb: Any, audit_table: str, capsys: pytest.CaptureFixture[str]) -> None:
    _record(dynamodb, audit_table, 3)
    assert main(["audit", "digest", "--table", audit_table, "--chains", "2"]) == 0
    assert capsys.readouterr().out.strip() == "wrote digest/1"
    item = dynamodb.get_item(TableName=audit_table, Key={"chain": {"S": "digest"}, "seq": {"N": "1"}})["Item"]
    heads = item["heads"]["M"]
    assert sum(int(h["M"]["seq"]["N"]) for h in heads.values()) == 3
    assert main(["audit", "digest", "--table", "absent"]) == 2


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_verify_over_http_endpoint(moto_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    client = boto3.client("dynamodb", endpoint_url=moto_server, region_name="eu-west-2")
    create_audit_table(client, "http-audit")
    _record(client, "http-audit", 4)
    assert main(["audit", "verify", "--table", "http-audit", "--endpoint-url", moto_server]) == 0
    assert "4 items" in capsys.readouterr().out
