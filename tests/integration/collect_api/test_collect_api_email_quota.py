"""Per-user quota on the emails sent through requests (issue 15, item 6): recipients per day, 429
`email-quota-exceeded` past it, nothing stored or sent for a refused request; and the write-ahead
audit event of a change that then fails is followed by its outcome."""

from __future__ import annotations

from typing import Any

import pytest
from ca_harness import RITA, SAM, Api, request_body

LIMIT = 5


@pytest.fixture
def small_quota(monkeypatch: pytest.MonkeyPatch) -> int:
    from witan.api.routes import requests as routes

    monkeypatch.setattr(routes, "RECIPIENTS_PER_DAY", LIMIT)
    return LIMIT


def _recipients(n: int, tag: str) -> list[dict[str, str]]:
    return [{"email": f"{tag}{i}@school.example", "name": f"P{i}"} for i in range(n)]


def _requests_stored(api: Api) -> int:
    items = api.ddb.scan(TableName=api.tables["REQUESTS_TABLE"])["Items"]
    return sum(1 for i in items if i.get("sk", {}).get("S") == "META" and i["pk"]["S"].startswith("REQUEST#"))


def test_recipients_per_day_quota(api: Api, small_quota: int) -> None:
    status, body, _ = api.call("POST", "/requests", RITA, request_body(recipients=_recipients(3, "a")))
    assert status == 201, body
    sent_before = len(api.sent())
    # 3 + 3 > 5: refused whole, nothing stored, nobody emailed, one deny event
    status, body, _ = api.call("POST", "/requests", RITA, request_body(recipients=_recipients(3, "b")))
    assert (status, body["code"]) == (429, "email-quota-exceeded"), body
    assert len(api.sent()) == sent_before
    assert _requests_stored(api) == 1
    event = api.the_event()
    assert (event["decision"], int(event["status"])) == ("deny", 429)
    # what is left today still goes; the quota is per user
    status, body, _ = api.call("POST", "/requests", RITA, request_body(recipients=_recipients(2, "c")))
    assert status == 201, body
    status, body, _ = api.call("POST", "/requests", SAM, request_body(recipients=_recipients(3, "d")))
    assert status == 201, body


def test_reissued_links_count_too(api: Api, small_quota: int) -> None:
    status, created, _ = api.call("POST", "/requests", RITA, request_body(recipients=_recipients(5, "e")))
    assert status == 201, created
    request_id = created["request"]["request_id"]
    sid = created["recipients"][0]["submission_id"]
    status, body, _ = api.call("POST", f"/requests/{request_id}/recipients/{sid}/reissue", RITA)
    assert (status, body["code"]) == (429, "email-quota-exceeded"), body
    assert api.the_event()["decision"] == "deny"


def test_quota_is_documented() -> None:
    from witan.api.app import openapi_document

    create = openapi_document()["paths"]["/requests"]["post"]
    assert "email-quota-exceeded" in create["responses"]["429"]["description"]


def test_failed_change_after_write_ahead_records_its_outcome(api: Api) -> None:
    status, created, _ = api.call("POST", "/requests", RITA, request_body())
    assert status == 201
    request_id = created["request"]["request_id"]
    status, _, _ = api.call("POST", f"/requests/{request_id}/close", RITA)
    assert status == 200
    # closing again: the write-ahead event is written, then the change is refused (409)
    status, body, _ = api.call("POST", f"/requests/{request_id}/close", RITA)
    assert (status, body["code"]) == (409, "request-not-open"), body
    events: list[dict[str, Any]] = api.events_for(api.last_request_id)
    recorded = {e["detail"].get("recorded"): e for e in events}
    assert set(recorded) == {"before-change", "outcome"}
    outcome = recorded["outcome"]
    assert (outcome["decision"], int(outcome["status"])) == ("deny", 409)
    ahead = recorded["before-change"]
    assert outcome["detail"]["write_ahead"] == f"{ahead['chain']}/{ahead['seq']}"


@pytest.mark.parametrize("verified", [None, "false"])
def test_requester_email_must_be_verified(api: Api, verified: str | None) -> None:
    """Check reports (partners' data) go to the requester's address: only one the token vouches for."""
    from ca_harness import Persona

    class Unverified(Persona):
        @property
        def claims(self) -> dict[str, str] | None:
            claims = {"sub": "una", "email": "una@council.example", "cognito:groups": "[org-camden]"}
            return claims if verified is None else {**claims, "email_verified": verified}

    status, body, _ = api.call("POST", "/requests", Unverified("una", "[org-camden]"), request_body())
    assert (status, body["code"]) == (422, "requester-email-required"), body
    assert api.sent() == [] or all("una@" not in str(m.destinations) for m in api.sent())
    assert api.the_event()["decision"] == "deny"


def test_quota_counter_per_day_and_never_past_the_limit(api: Api) -> None:
    from datetime import UTC, datetime, timedelta

    from witan.aws.email_quota import DynamoEmailQuota

    quota = DynamoEmailQuota(api.tables["REQUESTS_TABLE"], api.ddb)
    day = datetime(2026, 12, 7, 23, 59, tzinfo=UTC)
    assert quota.take("u", 4, 5, day)
    assert not quota.take("u", 2, 5, day)  # 6 > 5: refused, nothing counted
    assert quota.take("u", 1, 5, day)
    assert not quota.take("u", 1, 5, day)
    assert not quota.take("v", 6, 5, day)  # more than a whole day's worth at once
    assert quota.take("u", 5, 5, day + timedelta(minutes=2))  # a new UTC day
    item = api.ddb.get_item(
        TableName=api.tables["REQUESTS_TABLE"], Key={"pk": {"S": "QUOTA#u"}, "sk": {"S": "EMAILS#2026-12-07"}}
    )["Item"]
    assert item["count"]["N"] == "5" and int(item["expires_at"]["N"]) > day.timestamp()
