"""The real handler on moto, for what a check leads to: a valid upload becomes a version of the request's
destination dataset, shared as the request says; stored schemas; closed and cancelled requests."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
from uv_stack import BUCKET, CATALOG, GRANTS, REQUESTS, Stack
from witan.access.records import Activity, Grant, GranteeType, Purpose
from witan.aws.catalog_table import DynamoCatalogStore
from witan.aws.grants_table import DynamoGrantStore
from witan.aws.submissions import DynamoRequestStore
from witan.catalog.records import create, soft_delete

GOOD = b"id,dob,school,fte\n1,2015-04-01,A,1.0\n2,2016-05-02,B,0.5\n"
BAD = b"id,dob,school,fte\n1,2015-04-01,Z,1.0\n"
DATASET = "d" * 32
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SHARE = [{"type": "group", "id": "org-hackney"}, {"type": "user", "id": "sub-ann"}]


def _catalog(stack: Stack) -> DynamoCatalogStore:
    return DynamoCatalogStore(CATALOG, stack.ddb)


def _grants(stack: Stack) -> DynamoGrantStore:
    return DynamoGrantStore(GRANTS, stack.ddb)


def add_dataset(stack: Stack, dataset_id: str = DATASET) -> None:
    dataset, meta, _ = create(
        dataset_id, "org-camden", "sub-rita", {"title": "Pupils"}, "x.csv", "text/csv", 1, NOW
    )
    _catalog(stack).create(replace(dataset, file=None), meta)  # no file yet: collected versions fill it


def destination(dataset_id: str = DATASET, share: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The META attributes the Collect+Share API writes once the destination check passed."""
    return {
        "dataset_id": dataset_id,
        "dataset_owner_org": "org-camden",
        "requester_sub": "sub-rita",
        "requester_groups": ["org-camden"],  # as stored at creation: delivery decides again with them
        "share_with": SHARE if share is None else share,
        "status": "open",
    }


def run(stack: Stack, key: str, body: bytes) -> str:
    version = stack.upload(key, body)["VersionId"]
    assert stack.invoke(stack.event(stack.receive())) == {"batchItemFailures": []}
    return str(version)


def body_of(stack: Stack, key: str) -> bytes:
    return stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def version_events(stack: Stack) -> list[dict[str, Any]]:
    """The collected-version audit events, their detail read back from its stored JSON."""
    events = [e for e in stack.audit_events() if e.get("action") == "dataset.version.collect"]
    return [e | {"detail": json.loads(e["detail"])} if isinstance(e["detail"], str) else e for e in events]


def test_valid_upload_becomes_a_shared_dataset_version(stack: Stack) -> None:
    add_dataset(stack)
    stack.add_request(**destination())
    version = run(stack, "uploads/r1/s1/pupils 2026.csv", GOOD)

    dataset = _catalog(stack).get(DATASET)
    assert dataset is not None and dataset.file is not None
    assert (dataset.file.version, dataset.file.file_name, dataset.file.content_type) == (
        1,
        "pupils_2026.csv",
        "text/csv",
    )
    assert dataset.file.created_by == "collect:r1/s1"
    assert dataset.file.key == f"datasets/{DATASET}/1/pupils_2026.csv"
    rows = list(csv.reader(io.StringIO(body_of(stack, dataset.file.key).decode())))
    assert rows == [
        ["id", "dob", "school", "fte"],
        ["1", "2015-04-01", "A", "1"],
        ["2", "2016-05-02", "B", "0.5"],
    ]
    table = pq.read_table(io.BytesIO(body_of(stack, f"curated/{DATASET}/1/data.parquet")))
    assert table.num_rows == 2 and table.column_names == ["id", "dob", "school", "fte"]
    assert stack.keys("curated/r1/") == []  # delivered: no copy keyed by request

    check = stack.item("REQUEST#r1", f"SUBMISSION#s1#CHECK#{version}")
    assert check is not None and check["status"] == "valid"
    assert (check["dataset_id"], check["dataset_version"], check["dataset_key"]) == (
        DATASET,
        1,
        dataset.file.key,
    )
    assert check["detail"]["destination"]["outcome"] == "delivered"

    grants = {g.label: g for g in _grants(stack).grants_for(DATASET)}
    assert set(grants) == {"group:org-hackney", "user:sub-ann"}
    for grant in grants.values():
        assert grant.activities == {Activity.META_READ, Activity.FILE_READ}
        assert grant.granted_by == "sub-rita"
        assert grant.purpose == Purpose("collect-request", "Collect+Share request r1: Pupil census 2026")
    meta = stack.item("REQUEST#r1", "META")
    assert meta is not None and meta["shared_at"]

    (event,) = version_events(stack)
    assert (event["actor_sub"], event["resource"], event["purpose"]) == (
        "system:upload-validator",
        f"dataset/{DATASET}",
        "collect-request",
    )
    assert event["detail"]["file_version"] == 1
    assert sorted(event["detail"]["shared_with"]) == ["group:org-hackney", "user:sub-ann"]


def test_redelivered_upload_does_not_add_a_second_version(stack: Stack) -> None:
    add_dataset(stack)
    stack.add_request(**destination())
    stack.upload("uploads/r1/s1/p.csv", GOOD)
    event = stack.event(stack.receive())
    assert stack.invoke(event) == {"batchItemFailures": []}
    # As if the first worker died after the version was recorded but before its check was final:
    # the check record is gone, so the retry checks the file again and delivers it again.
    check_sks = [
        i["sk"]["S"]
        for i in stack.ddb.scan(TableName=REQUESTS)["Items"]
        if i["sk"]["S"].startswith("SUBMISSION#s1#CHECK#")
    ]
    for sk in check_sks:
        stack.ddb.delete_item(TableName=REQUESTS, Key={"pk": {"S": "REQUEST#r1"}, "sk": {"S": sk}})

    assert stack.invoke(event) == {"batchItemFailures": []}
    assert stack.invoke(event) == {"batchItemFailures": []}  # and a plain redelivery does nothing

    dataset = _catalog(stack).get(DATASET)
    assert dataset is not None and dataset.file is not None and dataset.file.version == 1
    assert stack.keys(f"datasets/{DATASET}/") == [f"datasets/{DATASET}/1/p.csv"]
    assert len(version_events(stack)) == 1
    (check_sk,) = check_sks
    again = stack.item("REQUEST#r1", check_sk)
    assert again is not None and again["detail"]["destination"]["outcome"] == "already-delivered"


def test_later_uploads_add_versions_and_never_narrow_or_restore_grants(stack: Stack) -> None:
    add_dataset(stack)
    # sub-ann already holds more than the request gives: it must survive untouched.
    _grants(stack).put(
        Grant(DATASET, GranteeType.USER, "sub-ann", frozenset(Activity), "sub-rita", NOW, Purpose("audit"))
    )
    stack.add_request(**destination())
    stack.add_submission("r1", "s2")
    run(stack, "uploads/r1/s1/a.csv", GOOD)
    grants = {g.label: g for g in _grants(stack).grants_for(DATASET)}
    assert grants["user:sub-ann"].activities == frozenset(Activity)
    assert grants["user:sub-ann"].purpose == Purpose("audit")
    # The owner revokes the group's access; a later partner's upload must not bring it back.
    assert _grants(stack).delete(DATASET, GranteeType.GROUP, "org-hackney")

    run(stack, "uploads/r1/s2/b.xlsx.csv", GOOD)

    dataset = _catalog(stack).get(DATASET)
    assert dataset is not None and dataset.file is not None
    assert (dataset.file.version, dataset.file.file_name) == (2, "b.xlsx.csv")
    assert {g.label for g in _grants(stack).grants_for(DATASET)} == {"user:sub-ann"}
    assert [e["detail"]["file_version"] for e in version_events(stack)] == [1, 2]


def test_deleted_destination_is_recorded_on_the_check_not_retried(stack: Stack) -> None:
    add_dataset(stack)
    stack.add_request(**destination())
    catalog = _catalog(stack)
    dataset = catalog.get(DATASET)
    assert dataset is not None
    catalog.save_deleted(soft_delete(dataset, "sub-rita", NOW + timedelta(days=1)))

    version = run(stack, "uploads/r1/s1/p.csv", GOOD)

    check = stack.item("REQUEST#r1", f"SUBMISSION#s1#CHECK#{version}")
    assert check is not None and check["status"] == "valid"
    assert check["detail"]["destination"] == {"dataset_id": DATASET, "outcome": "dataset-deleted"}
    assert "dataset_version" not in check
    assert check["parquet_key"] == f"curated/r1/s1/{version}/data.parquet"  # the data is kept
    after = catalog.get(DATASET)
    assert after is not None and after.deleted and after.file is None  # still deleted, no version
    assert _grants(stack).grants_for(DATASET) == []
    assert version_events(stack) == []


def test_destination_never_checked_at_creation_is_not_delivered(stack: Stack) -> None:
    add_dataset(stack)
    unchecked = destination()
    del unchecked["dataset_owner_org"]  # e.g. written by hand, or before destinations were checked
    stack.add_request(**unchecked)

    version = run(stack, "uploads/r1/s1/p.csv", GOOD)

    check = stack.item("REQUEST#r1", f"SUBMISSION#s1#CHECK#{version}")
    assert check is not None and check["status"] == "valid"
    assert check["detail"]["destination"]["outcome"] == "not-authorised"
    dataset = _catalog(stack).get(DATASET)
    assert dataset is not None and dataset.file is None
    assert _grants(stack).grants_for(DATASET) == []


def test_invalid_upload_does_not_touch_the_dataset(stack: Stack) -> None:
    add_dataset(stack)
    stack.add_request(**destination())
    run(stack, "uploads/r1/s1/p.csv", BAD)
    dataset = _catalog(stack).get(DATASET)
    assert dataset is not None and dataset.file is None
    assert stack.keys("datasets/") == [] and version_events(stack) == []


def test_upload_to_closed_or_cancelled_request_is_not_accepted(stack: Stack) -> None:
    add_dataset(stack)
    stack.add_request("r1", "s1", **(destination() | {"status": "closed"}))
    stack.add_request("r2", "s1", **(destination() | {"status": "cancelled"}))
    closed = stack.upload("uploads/r1/s1/p.csv", GOOD)["VersionId"]
    cancelled = stack.upload("uploads/r2/s1/p.csv", GOOD)["VersionId"]
    event = stack.event(stack.receive())
    assert stack.invoke(event) == {"batchItemFailures": []}

    for rid, version, status in (("r1", closed, "closed"), ("r2", cancelled, "cancelled")):
        check = stack.item(f"REQUEST#{rid}", f"SUBMISSION#s1#CHECK#{version}")
        assert check is not None
        assert check["status"] == "not-accepted"
        assert check["detail"]["reason"] == f"request-{status}"
        assert f"after the request was {status}" in check["detail"]["message"]
        assert "report_keys" not in check
        submission = stack.item(f"REQUEST#{rid}", "SUBMISSION#s1")
        assert submission is not None and submission["status"] == "awaiting-upload"  # tracking unchanged
    assert stack.keys("reports/") == [] and stack.keys("curated/") == [] and stack.keys("datasets/") == []
    assert stack.keys("uploads/") == ["uploads/r1/s1/p.csv", "uploads/r2/s1/p.csv"]  # kept
    dataset = _catalog(stack).get(DATASET)
    assert dataset is not None and dataset.file is None
    assert stack.sent_emails() == []
    reasons = sorted((e["decision"], e["reason"]) for e in stack.audit_events())
    assert reasons == [("deny", "request-cancelled"), ("deny", "request-closed")]
    # A redelivery records nothing twice.
    assert stack.invoke(event) == {"batchItemFailures": []}
    assert len(stack.audit_events()) == 2


STORED = {
    "name": "returns",
    "fields": [
        {"name": "ref", "type": "string", "constraints": {"required": True, "pattern": "R[0-9]+"}},
        {"name": "amount", "type": "integer", "constraints": {"minimum": 0}},
    ],
}


def test_request_against_a_stored_schema_is_checked_against_it(stack: Stack) -> None:
    assert DynamoRequestStore(REQUESTS, stack.ddb).put_stored_schema("returns", STORED, created_by="sub-rita")
    stack.add_request("r1", "s1", schema="stored:returns")
    stack.add_submission("r1", "s2")
    good = run(stack, "uploads/r1/s1/returns.csv", b"ref,amount\nR1,5\nR2,0\n")
    bad = run(stack, "uploads/r1/s2/returns.csv", b"ref,amount\nX1,5\nR2,-1\n")

    good_check = stack.item("REQUEST#r1", f"SUBMISSION#s1#CHECK#{good}")
    bad_check = stack.item("REQUEST#r1", f"SUBMISSION#s2#CHECK#{bad}")
    assert good_check is not None and bad_check is not None
    assert (good_check["status"], good_check["schema"], good_check["rows"]) == ("valid", "stored:returns", 2)
    assert bad_check["status"] == "invalid" and bad_check["counts"] == {"constraint-error": 2}
    report = json.loads(body_of(stack, bad_check["report_keys"]["json"]))
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(2, "ref"), (3, "amount")}


def test_unknown_stored_schema_makes_the_upload_unusable(stack: Stack) -> None:
    stack.add_request("r1", "s1", schema="stored:nothing-here")
    version = run(stack, "uploads/r1/s1/returns.csv", b"ref,amount\nR1,5\n")
    check = stack.item("REQUEST#r1", f"SUBMISSION#s1#CHECK#{version}")
    assert check is not None and check["status"] == "unusable" and check["counts"] == {"schema-error": 1}
