"""Delivery decided again from the grants of the moment (issue 15, item 4): the pure decision, the
request's share_until, and who may close a request into their dataset."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError
from witan.access.records import Activity, Grant, GranteeType
from witan.api.bodies import CreateCollectRequest, RequestChecks
from witan.catalog.records import create
from witan.collect.records import CollectionRequest, Destination, share_until_end
from witan.collect.requests.creation import can_close
from witan.collect.requests.records import RequestRecord
from witan.collect.uploads.deliver import authorise_delivery

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
A = Activity
DATASET, _, _ = create("d" * 32, "org-camden", "sub-rita", {"title": "P"}, "x.csv", "text/csv", 1, NOW)
SHARE = (("group", "org-hackney"),)


def request(destination: Destination, shared_at: str | None = None) -> CollectionRequest:
    return CollectionRequest("r1", "T", "pupils", "a@b.example", destination=destination, shared_at=shared_at)


def grant(
    grantee: str, *activities: Activity, by: str = "sub-rita", expires: datetime | None = None
) -> Grant:
    kind = GranteeType.GROUP if grantee.startswith("org-") else GranteeType.USER
    return Grant(DATASET.id, kind, grantee, frozenset(activities), "sub-rita", NOW - DAY, expires_at=expires)


SAM = Destination(DATASET.id, "org-camden", "sub-sam", SHARE, ("org-barnet",))
SAM_GRANT = grant("sub-sam", A.META_UPDATE, A.FILE_READ, A.SHARE, expires=NOW + 10 * DAY)


def test_sharer_gives_no_longer_than_they_hold() -> None:
    decided = authorise_delivery(request(SAM), SAM, DATASET, [SAM_GRANT], NOW)
    assert decided.allowed
    (made,) = decided.to_grant
    assert (made.expires_at, made.granted_by, made.activities) == (
        NOW + 10 * DAY,
        "sub-sam",
        frozenset({A.META_READ, A.FILE_READ}),
    )


def test_share_until_bounds_the_grants_when_sooner() -> None:
    until = share_until_end("2026-06-03")
    assert until == datetime(2026, 6, 4, tzinfo=UTC)
    bounded = replace(SAM, share_until=until)
    decided = authorise_delivery(request(bounded), bounded, DATASET, [SAM_GRANT], NOW)
    assert decided.to_grant[0].expires_at == until


def test_sharer_cannot_replace_a_grant_the_owner_made() -> None:
    owners = grant("org-hackney", A.META_READ)  # Rita's metadata-only grant to Hackney
    decided = authorise_delivery(request(SAM), SAM, DATASET, [SAM_GRANT, owners], NOW)
    assert not decided.allowed and decided.reason == "share-not-allowed:not-granted-by-caller"


def test_expired_requester_grant_refuses() -> None:
    gone = replace(SAM_GRANT, expires_at=NOW - timedelta(seconds=1))
    decided = authorise_delivery(request(SAM), SAM, DATASET, [gone], NOW)
    assert not decided.allowed and decided.reason == "dataset-not-writable"


def test_already_shared_request_still_needs_the_right_to_share() -> None:
    no_share = grant("sub-sam", A.META_UPDATE, A.FILE_READ)
    decided = authorise_delivery(request(SAM, shared_at="x"), SAM, DATASET, [no_share], NOW)
    assert not decided.allowed and decided.reason.startswith("share-not-allowed")
    ok = authorise_delivery(request(SAM, shared_at="x"), SAM, DATASET, [SAM_GRANT], NOW)
    assert ok.allowed and ok.to_grant == ()


def test_owner_union_never_shortens_a_live_grant() -> None:
    rita = Destination(DATASET.id, "org-camden", "sub-rita", SHARE, ("org-camden",), NOW + 5 * DAY)
    lasting = grant("org-hackney", A.META_READ)  # no end
    decided = authorise_delivery(request(rita), rita, DATASET, [lasting], NOW)
    (made,) = decided.to_grant
    assert made.expires_at is None and made.activities == frozenset({A.META_READ, A.FILE_READ})


def test_share_until_in_the_body() -> None:
    body = {
        "title": "T",
        "schema": "pupils",
        "due_date": "2026-06-10",
        "recipients": [{"email": "a@b.example"}],
        "share_until": "2026-12-31",
    }
    checks = RequestChecks(today=date(2026, 6, 1), schema_exists=bool)
    spec = CreateCollectRequest.model_validate(body, context=checks).spec()
    assert spec.share_until == date(2026, 12, 31)
    with pytest.raises(ValidationError) as caught:
        CreateCollectRequest.model_validate(body | {"share_until": "2026-05-01"}, context=checks)
    assert [e["type"] for e in caught.value.errors()] == ["past-date"]


def test_the_destination_owner_may_close_the_request() -> None:
    undelivered = RequestRecord("r1", "T", "pupils", "sam@x.example", "2026-06-10", requester_sub="sub-sam")
    meta = replace(undelivered, dataset_owner_org="org-camden")
    assert can_close(meta, "sub-sam")
    assert can_close(meta, "sub-rita", ("org-camden",))
    assert not can_close(meta, "sub-x", ("org-hackney",))
    assert not can_close(undelivered, "sub-rita", ("org-camden",))
    assert can_close(meta, "sub-admin", (), is_admin=True)
