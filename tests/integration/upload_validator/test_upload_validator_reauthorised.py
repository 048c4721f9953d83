"""Collect+Share deliveries re-authorised at delivery time (issue 15, item 4): a valid upload becomes a
version of the destination only while the requester may still update the dataset and grant its
share_with, from the grants as they are now; grants made by delivery end no later than the request's
share_until or the requester's own grant; a refused delivery keeps the upload as `not-delivered`,
with its reason, and tells the requester."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from uv_stack import CATALOG, GRANTS, REQUESTER, Stack
from witan.access.records import Activity, Grant, GranteeType
from witan.aws.catalog_table import DynamoCatalogStore
from witan.aws.grants_table import DynamoGrantStore
from witan.catalog.records import create

GOOD = b"id,dob,school,fte\n1,2015-04-01,A,1.0\n2,2016-05-02,B,0.5\n"
DATASET = "e" * 32
A = Activity
SHARE = [{"type": "group", "id": "org-hackney"}]
CSV = "text/csv"
SAM = "sub-sam"  # a requester from another council, acting on grants the owner gave him


def _now() -> datetime:
    return datetime.now(UTC)  # the handler's clock: grants' expiries are relative to it


def _grants(stack: Stack) -> DynamoGrantStore:
    return DynamoGrantStore(GRANTS, stack.ddb)


def _catalog(stack: Stack) -> DynamoCatalogStore:
    return DynamoCatalogStore(CATALOG, stack.ddb)


def setup(stack: Stack, *, sam_expires: datetime | None = None, **extra: Any) -> None:
    """Camden's dataset; Sam (org-barnet) may add versions and share it; his request is stamped."""
    dataset, meta, _ = create(
        DATASET, "org-camden", "sub-rita", {"title": "P"}, "x.csv", "text/csv", 1, _now()
    )
    _catalog(stack).create(replace(dataset, file=None), meta)
    _grants(stack).put(
        Grant(
            DATASET,
            GranteeType.USER,
            SAM,
            frozenset({A.META_UPDATE, A.FILE_READ, A.SHARE}),
            "sub-rita",
            _now(),
            expires_at=sam_expires,
        )
    )
    stack.add_request(
        dataset_id=DATASET,
        dataset_owner_org="org-camden",
        requester_sub=SAM,
        requester_groups=["org-barnet"],
        share_with=SHARE,
        status="open",
        **extra,
    )
    stack.add_submission("r1", "s2")


def run(stack: Stack, key: str) -> dict[str, Any]:
    version = stack.upload(key, GOOD)["VersionId"]
    assert stack.invoke(stack.event(stack.receive())) == {"batchItemFailures": []}
    _, _, sid, _ = key.split("/", 3)
    check = stack.item("REQUEST#r1", f"SUBMISSION#{sid}#CHECK#{version}")
    assert check is not None
    return check


def versions(stack: Stack) -> int:
    dataset = _catalog(stack).get(DATASET)
    assert dataset is not None
    return dataset.file.version if dataset.file is not None else 0


def collect_events(stack: Stack) -> list[dict[str, Any]]:
    events = [
        e for e in stack.audit_events() if str(e.get("action", "")).startswith("dataset.version.collect")
    ]
    return [e | {"detail": json.loads(e["detail"])} if isinstance(e["detail"], str) else e for e in events]


def test_sharer_who_lost_their_grant_gets_no_new_version(stack: Stack) -> None:
    setup(stack)
    first = run(stack, "uploads/r1/s1/a.csv")
    assert first["detail"]["destination"]["outcome"] == "delivered"
    assert versions(stack) == 1
    # The owner takes Sam's rights away; a later partner upload must not become a version.
    assert _grants(stack).delete(DATASET, GranteeType.USER, SAM)

    second = run(stack, "uploads/r1/s2/b.csv")

    assert second["status"] == "valid"  # the partner's file is fine: nothing for them to fix
    destination = second["detail"]["destination"]
    assert destination["outcome"] == "not-delivered"
    assert destination["reason"] == "dataset-not-writable"
    assert "dataset_version" not in second
    assert second["parquet_key"].startswith("curated/r1/s2/")  # the data is kept, by request
    assert stack.keys(second["parquet_key"]) == [second["parquet_key"]]
    assert versions(stack) == 1
    to_requester = [e for e in stack.sent_emails() if e.destinations["ToAddresses"] == [REQUESTER]]
    assert len(to_requester) == 2
    assert "not added to dataset" not in to_requester[0].body
    assert f"It was not added to dataset {DATASET}" in to_requester[1].body
    refused = [e for e in collect_events(stack) if e["decision"] == "deny"]
    assert len(refused) == 1 and refused[0]["reason"] == "dataset-not-writable"


def test_requester_who_may_no_longer_share_gets_no_new_version(stack: Stack) -> None:
    setup(stack)
    # Rita (owner) narrows Sam's grant: he may still add versions but no longer share.
    _grants(stack).put(
        Grant(DATASET, GranteeType.USER, SAM, frozenset({A.META_UPDATE, A.FILE_READ}), "sub-rita", _now())
    )
    check = run(stack, "uploads/r1/s1/a.csv")
    assert check["detail"]["destination"]["outcome"] == "not-delivered"
    assert check["detail"]["destination"]["reason"].startswith("share-not-allowed")
    assert versions(stack) == 0
    assert [g.grantee for g in _grants(stack).grants_for(DATASET)] == [SAM]


def test_requester_who_left_the_owner_organisation_gets_no_new_version(stack: Stack) -> None:
    setup(stack)
    assert _grants(stack).delete(DATASET, GranteeType.USER, SAM)
    # Stored groups say org-barnet: owner-organisation rights are not assumed from the creation stamp.
    check = run(stack, "uploads/r1/s1/a.csv")
    assert check["detail"]["destination"]["outcome"] == "not-delivered"
    assert versions(stack) == 0


def test_grants_made_by_delivery_end_with_the_requesters_own(stack: Stack) -> None:
    ends = (_now() + timedelta(days=10)).replace(microsecond=0)
    setup(stack, sam_expires=ends)
    check = run(stack, "uploads/r1/s1/a.csv")
    assert check["detail"]["destination"]["outcome"] == "delivered"
    made = {g.label: g for g in _grants(stack).grants_for(DATASET)}["group:org-hackney"]
    assert made.expires_at == ends
    assert made.granted_by == SAM


def test_grants_made_by_delivery_end_with_the_request_when_sooner(stack: Stack) -> None:
    ends = (_now() + timedelta(days=30)).replace(microsecond=0)
    until = (_now() + timedelta(days=3)).date()
    setup(stack, sam_expires=ends, share_until=until.isoformat())
    run(stack, "uploads/r1/s1/a.csv")
    made = {g.label: g for g in _grants(stack).grants_for(DATASET)}["group:org-hackney"]
    assert made.expires_at == datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=1)


def test_owner_requester_still_delivers_without_expiry(stack: Stack) -> None:
    dataset, meta, _ = create(
        DATASET, "org-camden", "sub-rita", {"title": "P"}, "x.csv", "text/csv", 1, _now()
    )
    _catalog(stack).create(replace(dataset, file=None), meta)
    stack.add_request(
        dataset_id=DATASET,
        dataset_owner_org="org-camden",
        requester_sub="sub-rita",
        requester_groups=["org-camden"],
        share_with=SHARE,
        status="open",
    )
    check = run(stack, "uploads/r1/s1/a.csv")
    assert check["detail"]["destination"]["outcome"] == "delivered"
    (made,) = _grants(stack).grants_for(DATASET)
    assert made.expires_at is None and made.granted_by == "sub-rita"
