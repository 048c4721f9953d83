"""Seals: the heads signed with KMS into an Object Lock bucket catch what a writer holding PutItem can do
to the table unseen by the chains alone (rebuild, overwrite the head, delete the tail, expire early)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_stack import REGION, Aws
from witan.audit.chain import EARLY_EXPIRY, body_of, compute_hash
from witan.audit.records import AuditEvent
from witan.audit.seal import BAD_SEAL, NO_SEAL, SEAL_MISMATCH, SEAL_MISSING, SEAL_PREFIX
from witan.aws.audit_seals import KmsSigner, S3SealStore, verify_sealed, write_seal
from witan.aws.audit_table import DynamoAuditTrail, from_wire, to_wire, verify

CHAIN = "events#0"
BUCKET = "witan-test-seals"
RETENTION = 2557


@pytest.fixture
def sealing(moto_aws: Aws) -> tuple[KmsSigner, S3SealStore]:
    import boto3

    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    moto_aws.s3.create_bucket(
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    moto_aws.s3.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    return KmsSigner(key, kms), S3SealStore(BUCKET, moto_aws.s3)


def _fill(client: Any, table: str, n: int = 6, retention_days: int = RETENTION) -> DynamoAuditTrail:
    trail = DynamoAuditTrail(table, client, chains=1, retention_days=retention_days)
    for i in range(n):
        trail.record(
            AuditEvent(
                action="dataset.download", decision="allow", reason="grant", status=200, request_id=f"r{i}"
            )
        )
    return trail


def _items(client: Any, table: str) -> list[dict[str, Any]]:
    response = client.query(
        TableName=table,
        KeyConditionExpression="#c = :c",
        ExpressionAttributeNames={"#c": "chain"},
        ExpressionAttributeValues={":c": {"S": CHAIN}},
        ConsistentRead=True,
    )
    return [from_wire(i) for i in response["Items"]]


def _put(client: Any, table: str, item: dict[str, Any]) -> None:
    client.put_item(TableName=table, Item=to_wire(item))


def _rehash(item: dict[str, Any], prev_hash: str) -> dict[str, Any]:
    body = {**body_of(item), "prev_hash": prev_hash}
    return {**body, "chain": item["chain"], "seq": item["seq"], "hash": compute_hash(body)}


def _kinds(result: Any) -> set[str]:
    return {p.kind for p in result.problems}


def _verify(ddb: Any, table: str, sealing: tuple[KmsSigner, S3SealStore], **kw: Any) -> Any:
    signer, store = sealing
    return verify_sealed(table, ddb, store, signer, retention_days=RETENTION, **kw)


def test_intact_trail_verifies_against_its_seal(dynamodb: Any, audit_table: str, sealing: Any) -> None:
    _fill(dynamodb, audit_table)
    key = write_seal(audit_table, dynamodb, *sealing, trigger="test", chains=1).key
    assert key.startswith(SEAL_PREFIX)
    stored = json.loads(sealing[1].get(key))
    assert stored["document"]["heads"][CHAIN]["seq"] == 6
    result = _verify(dynamodb, audit_table, sealing)
    assert result.ok, result.problems
    assert result.seals == 1


def test_rebuilt_chain_passes_the_chain_check_but_not_the_seal(
    dynamodb: Any, audit_table: str, sealing: Any
) -> None:
    _fill(dynamodb, audit_table)
    write_seal(audit_table, dynamodb, *sealing, trigger="test", chains=1)
    items = _items(dynamodb, audit_table)
    # Rewrite event 3 and relink every item after it: every hash and link is consistent again.
    prev = items[1]["hash"]
    for item in items[2:]:
        if item["seq"] == 3:
            item = {**item, "reason": "nothing to see"}
        rebuilt = _rehash(item, prev)
        _put(dynamodb, audit_table, rebuilt)
        prev = rebuilt["hash"]
    assert verify(audit_table, dynamodb).ok  # the failure before seals: a rebuild was invisible
    result = _verify(dynamodb, audit_table, sealing)
    assert [(p.chain, p.seq, p.kind) for p in result.problems] == [(CHAIN, 6, SEAL_MISMATCH)]


def test_overwritten_head_is_reported(dynamodb: Any, audit_table: str, sealing: Any) -> None:
    _fill(dynamodb, audit_table)
    write_seal(audit_table, dynamodb, *sealing, trigger="test", chains=1)
    head = _items(dynamodb, audit_table)[-1]
    _put(dynamodb, audit_table, _rehash({**head, "decision": "deny"}, head["prev_hash"]))
    assert verify(audit_table, dynamodb).ok
    assert _kinds(_verify(dynamodb, audit_table, sealing)) == {SEAL_MISMATCH}


def test_a_tampered_head_is_never_sealed(dynamodb: Any, audit_table: str, sealing: Any) -> None:
    """The next seal keeps the head sealed before (and says so), so the evidence does not age out of
    the newest seals; restoring the item makes the trail verify again."""
    trail = _fill(dynamodb, audit_table)
    write_seal(audit_table, dynamodb, *sealing, trigger="test", chains=1)
    head = _items(dynamodb, audit_table)[-1]
    _put(dynamodb, audit_table, _rehash({**head, "decision": "deny"}, head["prev_hash"]))
    for _ in range(3):
        outcome = write_seal(
            audit_table, dynamodb, *sealing, trigger="test", chains=1, retention_days=RETENTION
        )
        assert [(p.seq, p.kind) for p in outcome.disputed] == [(6, SEAL_MISMATCH)]
        assert json.loads(sealing[1].get(outcome.key))["document"]["heads"][CHAIN]["hash"] == head["hash"]
    assert _kinds(_verify(dynamodb, audit_table, sealing, count=1)) == {SEAL_MISMATCH}
    _put(dynamodb, audit_table, head)  # restored
    trail.record(AuditEvent(action="dataset.read", decision="allow", reason="r", status=200, request_id="z"))
    outcome = write_seal(audit_table, dynamodb, *sealing, trigger="test", chains=1, retention_days=RETENTION)
    assert outcome.disputed == []
    assert json.loads(sealing[1].get(outcome.key))["document"]["heads"][CHAIN]["seq"] == 7
    assert _verify(dynamodb, audit_table, sealing).ok


def test_deleted_tail_is_reported(dynamodb: Any, audit_table: str, sealing: Any) -> None:
    _fill(dynamodb, audit_table)
    write_seal(audit_table, dynamodb, *sealing, trigger="test", chains=1)
    for seq in (5, 6):
        dynamodb.delete_item(TableName=audit_table, Key={"chain": {"S": CHAIN}, "seq": {"N": str(seq)}})
    assert verify(audit_table, dynamodb).ok
    result = _verify(dynamodb, audit_table, sealing)
    assert [(p.seq, p.kind) for p in result.problems] == [(6, SEAL_MISSING)]


def test_early_expiry_is_reported(dynamodb: Any, audit_table: str, sealing: Any) -> None:
    """A writer giving an item a one-day expiry: reported while it lives, and as an early TTL removal
    after DynamoDB deleted it (the next item's prev_time says when it was written)."""
    trail = _fill(dynamodb, audit_table, n=2)
    trail.retention_days = 1
    trail.record(
        AuditEvent(action="dataset.download", decision="allow", reason="r", status=200, request_id="x")
    )
    trail.retention_days = RETENTION
    trail.record(AuditEvent(action="dataset.read", decision="allow", reason="r", status=200, request_id="y"))
    write_seal(audit_table, dynamodb, *sealing, trigger="test", chains=1)
    live = _verify(dynamodb, audit_table, sealing)
    assert [(p.seq, p.kind) for p in live.problems] == [(3, EARLY_EXPIRY)]
    # Two days later TTL removes it: without the retention check the gap looked legitimate.
    dynamodb.delete_item(TableName=audit_table, Key={"chain": {"S": CHAIN}, "seq": {"N": "3"}})
    later = datetime.now(UTC) + timedelta(days=2)
    assert verify(audit_table, dynamodb, later).ok
    result = _verify(dynamodb, audit_table, sealing, now=later)
    assert (3, EARLY_EXPIRY) in [(p.seq, p.kind) for p in result.problems]


def test_forged_or_missing_seals_are_reported(dynamodb: Any, audit_table: str, sealing: Any) -> None:
    _fill(dynamodb, audit_table)
    assert _kinds(_verify(dynamodb, audit_table, sealing)) == {NO_SEAL}
    signer, store = sealing
    key = write_seal(audit_table, dynamodb, signer, store, trigger="test", chains=1).key
    stored = json.loads(store.get(key))
    stored["document"]["heads"][CHAIN]["seq"] = 5  # a forger's seal over a shortened chain
    store.put(key.replace("-test-", "-forged-"), json.dumps(stored).encode())
    result = _verify(dynamodb, audit_table, sealing)
    assert _kinds(result) == {BAD_SEAL}
    assert result.seals == 1


def test_cli_verify_with_seals(
    dynamodb: Any, audit_table: str, sealing: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from witan.audit import cli as audit_cli

    def main(argv: list[str]) -> int:
        parser = argparse.ArgumentParser(prog="witan")
        audit_cli.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(argv)
        return int(args.func(args))

    signer, store = sealing
    _fill(dynamodb, audit_table)
    write_seal(audit_table, dynamodb, signer, store, trigger="test", chains=1)
    sealed = ["audit", "verify", "--table", audit_table, "--seal-bucket", BUCKET, "--seal-key", signer.key_id]
    assert main(sealed) == 0
    assert "checked against 1 signed seal(s)" in capsys.readouterr().out
    head = _items(dynamodb, audit_table)[-1]
    _put(dynamodb, audit_table, _rehash({**head, "decision": "deny"}, head["prev_hash"]))
    assert main(["audit", "verify", "--table", audit_table]) == 0  # the table alone cannot tell
    capsys.readouterr()
    assert main(sealed) == 1
    assert f"PROBLEM seal_mismatch chain={CHAIN} seq=6" in capsys.readouterr().out
    assert main(["audit", "verify", "--table", audit_table, "--seal-bucket", BUCKET]) == 2


def test_cli_verify_by_stack_outputs(
    dynamodb: Any,
    audit_table: str,
    sealing: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--stack` takes the table, seal bucket and key from the stack's outputs."""
    import argparse

    from witan.audit import cli as audit_cli

    signer, store = sealing
    outputs = {"AuditTableName": audit_table, "AuditSealBucketName": BUCKET, "AuditSealKeyId": signer.key_id}
    asked: list[str] = []
    monkeypatch.setattr(audit_cli, "stack_outputs", lambda stack, *_: (asked.append(stack), outputs)[1])
    _fill(dynamodb, audit_table)
    write_seal(audit_table, dynamodb, signer, store, trigger="test", chains=1)
    parser = argparse.ArgumentParser(prog="witan")
    audit_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "verify", "--stack", "Witan-test"])
    assert args.func(args) == 0 and asked == ["Witan-test"]
    assert "checked against 1 signed seal(s)" in capsys.readouterr().out
    args = parser.parse_args(["audit", "verify"])
    assert args.func(args) == 2
