"""Requester routes through the real access_api handler on moto: create, list, track, close, cancel,
schemas; ownership (someone else's request is a 404); bad bodies; exactly one audit event each."""

from __future__ import annotations

from typing import Any

from ca_harness import ADMIN, PARTNER, RITA, SAM, Api, request_body


def create(api: Api, **extra: Any) -> dict[str, Any]:
    status, body, _ = api.call("POST", "/requests", RITA, request_body(**extra))
    assert status == 201, body
    return body


def test_create_invites_lists_and_tracks(api: Api) -> None:
    created = create(api)
    rid = created["request"]["request_id"]
    assert created["request"]["recipient_count"] == 2
    assert [r["invited"] for r in created["recipients"]] == [True, True]
    event = api.the_event()
    assert (event["action"], event["decision"], event["status"]) == ("collect.request.create", "allow", 201)
    # RITA is in one organisation, so the request got a dataset of its own: the event is its.
    assert event["resource"] == f"dataset/{created['request']['dataset_id']}"
    assert event["detail"]["collect_request"] == rid
    assert len(api.tokens_for("ann@school.example")) == 1
    # Links point where the requester reached the API.
    assert "https://api.council.example/v1/collect/" in api.sent()[-1].body

    status, listing, _ = api.call("GET", "/requests", RITA)
    assert status == 200 and [r["request_id"] for r in listing["requests"]] == [rid]
    status, listing, _ = api.call("GET", "/requests", SAM)
    assert status == 200 and listing["requests"] == []

    status, tracking, _ = api.call("GET", f"/requests/{rid}", RITA)
    assert status == 200
    assert tracking["totals"]["recipients"] == 2 and tracking["totals"]["opened"] == 0
    assert {r["state"] for r in tracking["recipients"]} == {"invited"}
    assert api.the_event()["action"] == "collect.request.read"


def test_only_the_requester_or_an_admin_may_track(api: Api) -> None:
    rid = create(api)["request"]["request_id"]
    status, body, _ = api.call("GET", f"/requests/{rid}", SAM)
    assert (status, body["code"]) == (404, "not-found")
    event = api.the_event()
    assert (event["decision"], event["status"]) == ("deny", 404)
    assert "not-owner-or-missing" in event["reason"]
    status, _, _ = api.call("GET", f"/requests/{rid}", ADMIN)
    assert status == 200
    status, body, _ = api.call("GET", f"/requests/{rid}", PARTNER)
    assert (status, body["code"]) == (401, "unauthenticated")
    status, body, _ = api.call("GET", "/requests/nope", RITA)
    assert (status, body["code"]) == (404, "not-found")
    status, body, _ = api.call("GET", "/requests/bad%2Fid!", RITA)
    assert status == 400 and body["code"] == "malformed-id"
    status, body, _ = api.call("POST", f"/requests/{rid}/cancel", SAM)
    assert status == 404
    # Sam is in org-camden, which owns the request's destination dataset: the owner organisation may
    # stop deliveries into its dataset (close), though it may not track or cancel Rita's request.
    status, body, _ = api.call("POST", f"/requests/{rid}/close", SAM)
    assert status == 200, body
    assert api.the_event()["decision"] == "allow"


def test_bad_bodies_get_field_codes(api: Api) -> None:
    status, body, _ = api.call(
        "POST",
        "/requests",
        RITA,
        request_body(
            due_date="2001-01-01",
            schema="no-such-schema",
            recipients=[{"email": "not-an-email"}, {"email": "x@y.example"}, {"email": "X@y.example"}],
            colour="blue",
        ),
    )
    # The API's one validation shape: each error's location names the field, its type the code.
    assert status == 422 and body["code"] == "invalid-value"
    codes = {(e["location"], e["type"]) for e in body["errors"]}
    assert ("body.due_date", "past-date") in codes
    assert ("body.schema", "unknown-schema") in codes
    assert ("body.recipients[0].email", "bad-email") in codes
    assert any(c == "duplicate-recipient" for _, c in codes)
    assert any(c == "unknown-field" for _, c in codes)
    event = api.the_event()
    assert (event["decision"], event["status"]) == ("deny", 422)
    # Nothing was written and nobody was emailed for a refused body.
    assert api.ddb.scan(TableName=api.tables["REQUESTS_TABLE"])["Items"] == []
    assert not any("x@y.example" in m.destinations["ToAddresses"] for m in api.sent())

    status, body, _ = api.call("POST", "/requests", RITA, raw_body="{not json")
    assert (status, body["code"]) == (400, "invalid-json")
    status, body, _ = api.call("POST", "/requests", RITA, raw_body="[1, 2]")
    assert status == 422 and body["code"] in ("invalid-body", "wrong-type")
    status, body, _ = api.call("GET", "/requests", RITA, query={"cursor": "garbage"})
    assert (status, body["code"]) == (400, "bad-cursor")
    status, body, _ = api.call("GET", "/requests", RITA, query={"limit": "0"})
    assert (status, body["code"]) == (400, "invalid-query")


def test_close_then_cancel(api: Api) -> None:
    rid = create(api)["request"]["request_id"]
    token = api.tokens_for("ann@school.example")[-1]
    status, summary, _ = api.call("POST", f"/requests/{rid}/close", RITA)
    assert status == 200 and summary["status"] == "closed" and summary["closed_at"]
    assert api.the_event()["action"] == "collect.request.close"
    status, body, _ = api.call("POST", f"/requests/{rid}/close", RITA)
    assert (status, body["code"]) == (409, "request-not-open")
    # Closed: the page still opens, but no upload policy is issued.
    status, view, _ = api.call("GET", f"/collect/{token}", PARTNER)
    assert status == 200 and view["accepts_uploads"] is False
    status, body, _ = api.call("POST", f"/collect/{token}/uploads", PARTNER, {"file_name": "a.csv"})
    assert (status, body["code"]) == (409, "request-not-open")

    rid2 = create(api, title="Second")["request"]["request_id"]
    token2 = api.tokens_for("ann@school.example")[-1]
    status, summary, _ = api.call("POST", f"/requests/{rid2}/cancel", RITA)
    assert status == 200 and summary["status"] == "cancelled"
    status, body, _ = api.call("GET", f"/collect/{token2}", PARTNER)
    assert (status, body["code"]) == (404, "not-found")


def test_schemas_store_validate_and_list(api: Api) -> None:
    descriptor = {
        "fields": [
            {"name": "school", "type": "string", "constraints": {"required": True}},
            {"name": "pupils", "type": "integer", "constraints": {"minimum": 0}},
        ]
    }
    status, body, _ = api.call("POST", "/schemas", RITA, {"name": "headcount", "schema": descriptor})
    assert status == 201 and body == {"name": "stored:headcount", "fields": ["school", "pupils"]}
    event = api.the_event()
    assert (event["action"], event["resource"]) == ("collect.schema.create", "collect-schema/headcount")
    status, body, _ = api.call("POST", "/schemas", SAM, {"name": "headcount", "schema": descriptor})
    assert (status, body["code"]) == (409, "schema-exists")
    status, body, _ = api.call(
        "POST", "/schemas", RITA, {"name": "broken", "schema": {"fields": [{"name": "a", "type": "colour"}]}}
    )
    assert (status, body["code"]) == (422, "invalid-schema")
    status, body, _ = api.call("POST", "/schemas", RITA, {"name": "Bad Name", "schema": descriptor})
    assert (status, body["code"]) == (422, "bad-schema-name")
    status, body, _ = api.call("POST", "/schemas", RITA, {"name": "x", "schema": descriptor, "extra": 1})
    assert (status, body["code"]) == (422, "unknown-field")

    status, body, _ = api.call("GET", "/schemas", SAM)
    assert status == 200
    names = {(s["name"], s["kind"]) for s in body["schemas"]}
    assert ("pupils", "built-in") in names and ("stored:headcount", "stored") in names

    # A request may name the stored schema; the partner sees its fields.
    create(api, schema="stored:headcount")
    token = api.tokens_for("ann@school.example")[-1]
    status, view, _ = api.call("GET", f"/collect/{token}", PARTNER)
    assert status == 200 and [f["name"] for f in view["schema"]["fields"]] == ["school", "pupils"]
