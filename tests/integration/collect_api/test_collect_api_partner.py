"""Partner routes through the real access_api handler on moto: the capability token is the only
credential. Expired, revoked, unknown and cancelled links are the same 404; the upload policy pins the
submission's own key; a partner sees only their own uploads; the token never reaches the audit trail."""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any

import pytest
from aws_stack import header
from ca_harness import (
    BUCKET,
    MAX_UPLOAD,
    PARTNER,
    RITA,
    Api,
    load_validator,
    post_as_browser,
    request_body,
)

VALID_CSV = b"id,school\n1,A\n2,B\n"
INVALID_CSV = b"id,school\n1,A\nx,Z\n"


@pytest.fixture(scope="module")
def validator() -> ModuleType:
    return load_validator()


def create(api: Api, **extra: Any) -> tuple[str, str, str]:
    """A request; returns (request id, Ann's token, Bob's token)."""
    status, body, _ = api.call("POST", "/requests", RITA, request_body(**extra))
    assert status == 201, body
    return (
        body["request"]["request_id"],
        api.tokens_for("ann@school.example")[-1],
        api.tokens_for("bob@school.example")[-1],
    )


def policy(target: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(target["fields"]["policy"]))


def test_open_page_json_and_html_and_audit_has_no_token(api: Api) -> None:
    rid, ann, _ = create(api)
    status, view, _ = api.call("GET", f"/collect/{ann}", PARTNER)
    assert status == 200
    assert view["request"]["title"] == "Pupil census"
    assert view["recipient"]["email"] == "ann@school.example"
    assert [f["name"] for f in view["schema"]["fields"]] == ["id", "school"]
    assert view["accepts_uploads"] is True and view["upload"]["max_bytes"] == MAX_UPLOAD
    event = api.the_event()
    assert (event["action"], event["decision"], event["reason"]) == (
        "collect.partner.open",
        "allow",
        "capability-token",
    )
    assert event["resource"].startswith(f"collect-request/{rid}/submission/")
    assert ann not in json.dumps(event, default=str)
    assert event["detail"]["path"].startswith("/collect/~") and len(event["detail"]["token_hash"]) == 12

    status, page, response = api.call("GET", f"/collect/{ann}", PARTNER, accept="text/html,*/*;q=0.8")
    assert status == 200 and "<script>" in page
    assert (header(response, "content-type") or "").startswith("text/html")
    csp = header(response, "content-security-policy") or ""
    assert "script-src 'sha256-" in csp
    assert BUCKET in csp  # the upload origin may be posted to
    assert header(response, "referrer-policy") == "no-referrer"

    status, tracking, _ = api.call("GET", f"/requests/{rid}", RITA)
    states = {r["email"]: r["state"] for r in tracking["recipients"]}
    assert states == {"ann@school.example": "opened", "bob@school.example": "invited"}
    # Nothing in the whole trail holds a token.
    assert ann not in json.dumps(api.audit_items(), default=str)


def test_failed_tokens_are_one_indistinguishable_404(api: Api) -> None:
    rid, ann, bob = create(api)
    status, tracking, _ = api.call("GET", f"/requests/{rid}", RITA)
    bob_sid = next(r["submission_id"] for r in tracking["recipients"] if r["email"] == "bob@school.example")
    status, body, _ = api.call("POST", f"/requests/{rid}/recipients/{bob_sid}/revoke", RITA)
    assert (status, body) == (200, {"revoked": 1})
    # Expire Ann's link in the table itself (its stored expiry), as time passing would.
    table = api.tables["REQUESTS_TABLE"]
    items = api.ddb.scan(TableName=table)["Items"]
    for item in items:
        if item["type"]["S"] == "token" and item["submission_id"]["S"] != bob_sid:
            api.ddb.update_item(
                TableName=table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET token_expires_at = :t",
                ExpressionAttributeValues={":t": {"N": "1000"}},
            )
    answers = []
    for token in (ann, bob, "A" * 43, "short", "%00"):
        for method, suffix, body in (
            ("GET", "", None),
            ("GET", "/template.xlsx", None),
            ("GET", "/submissions", None),
            ("POST", "/uploads", {"file_name": "a.csv"}),
        ):
            status, got, _ = api.call(method, f"/collect/{token}{suffix}", PARTNER, body)
            answers.append((status, json.dumps(got, sort_keys=True)))
            event = api.the_event()
            assert (event["decision"], event["status"]) == ("deny", 404)
            assert token not in json.dumps(event, default=str) or len(token) < 6
    assert len(set(answers)) == 1, set(answers)
    assert answers[0][0] == 404 and json.loads(answers[0][1])["code"] == "not-found"


def test_upload_policy_pins_own_key_and_limits(api: Api) -> None:
    rid, ann, bob = create(api)
    status, a, _ = api.call(
        "POST", f"/collect/{ann}/uploads", PARTNER, {"file_name": "../../x/returns.csv", "size": 20}
    )
    assert status == 200, a
    status, b, _ = api.call("POST", f"/collect/{bob}/uploads", PARTNER, {"file_name": "returns.csv"})
    assert status == 200
    event = api.the_event()
    assert (event["action"], event["detail"]["recorded"]) == ("collect.partner.upload", "before-change")
    assert a["key"].startswith(f"uploads/{rid}/") and a["key"].count("/") == 3 and ".." not in a["key"]
    assert a["key"] != b["key"] and a["key"].rsplit("/", 1)[0] != b["key"].rsplit("/", 1)[0]
    conditions = policy(a)["conditions"]
    # The key condition is an exact match on Ann's own key: replaying her policy with Bob's key
    # (or any other) does not satisfy it, so S3 refuses the POST.
    key_conditions = [
        c
        for c in conditions
        if (isinstance(c, dict) and "key" in c) or (isinstance(c, list) and c[1] == "$key")
    ]
    assert key_conditions == [{"key": a["key"]}]
    assert b["key"] not in json.dumps(policy(a))
    assert ["content-length-range", 1, MAX_UPLOAD] in conditions
    assert {"Content-Type": "text/csv"} in conditions
    assert a["fields"]["key"] == a["key"]

    for body, expected in (
        ({"file_name": "virus.exe"}, (400, "unsupported-file-type")),
        ({"file_name": ""}, (400, "bad-file-name")),
        ({}, (400, "bad-file-name")),
        ({"file_name": "a.csv", "size": MAX_UPLOAD + 1}, (422, "file-too-large")),  # as on every route
    ):
        status, got, _ = api.call("POST", f"/collect/{ann}/uploads", PARTNER, body)
        assert (status, got["code"]) == expected, got
    status, got, _ = api.call("POST", f"/collect/{ann}/uploads", PARTNER, raw_body="not json")
    assert (status, got["code"]) == (400, "invalid-json")
    status, got, _ = api.call("POST", f"/collect/{ann}/uploads", PARTNER, raw_body='"a.csv"')
    assert status == 422


def test_partner_sees_own_checks_with_report_links_not_keys(api: Api, validator: ModuleType) -> None:
    rid, ann, bob = create(api)
    _, other_ann, _ = create(api, title="Another request")
    status, target, _ = api.call("POST", f"/collect/{ann}/uploads", PARTNER, {"file_name": "census.csv"})
    post_as_browser(api, target, INVALID_CSV, validator)

    status, history, _ = api.call("GET", f"/collect/{ann}/submissions", PARTNER)
    assert status == 200 and history["status"] == "invalid"
    latest = history["submissions"][0]
    assert latest["error_count"] >= 2 and "report_keys" not in latest
    assert set(latest["report_links"]) == {"csv", "json", "xlsx"}
    for link in latest["report_links"].values():
        assert link.startswith("https://") and "Expires" in link and "Signature" in link
    assert {(e["row"], e["field"]) for e in history["errors"]} >= {(3, "id"), (3, "school")}
    assert not any("reports/" in str(v) and "X-Amz" not in str(v) for v in latest.values())

    # Bob and Ann's link to another request see none of it.
    status, other, _ = api.call("GET", f"/collect/{bob}/submissions", PARTNER)
    assert status == 200 and other["status"] == "awaiting-upload" and other["submissions"] == []
    status, other, _ = api.call("GET", f"/collect/{other_ann}/submissions", PARTNER)
    assert other["submissions"] == []
    # A partner has no way into the requester routes.
    status, got, _ = api.call("GET", f"/requests/{rid}", PARTNER)
    assert (status, got["code"]) == (401, "unauthenticated")

    status, target, _ = api.call("POST", f"/collect/{ann}/uploads", PARTNER, {"file_name": "census.csv"})
    post_as_browser(api, target, VALID_CSV, validator)
    status, history, _ = api.call("GET", f"/collect/{ann}/submissions", PARTNER)
    assert history["status"] == "valid" and len(history["submissions"]) == 2 and history["errors"] == []

    status, tracking, _ = api.call("GET", f"/requests/{rid}", RITA)
    ann_row = next(r for r in tracking["recipients"] if r["email"] == "ann@school.example")
    assert (ann_row["state"], ann_row["uploads"], ann_row["error_count"]) == ("valid", 2, 0)
    assert tracking["totals"]["valid"] == 1 and tracking["totals"]["outstanding"] == 1


def test_template_is_an_xlsx_attachment(api: Api) -> None:
    _, ann, _ = create(api, sheet="Pupils")
    status, body, response = api.call("GET", f"/collect/{ann}/template.xlsx", PARTNER, accept="*/*")
    assert status == 200 and response["isBase64Encoded"] is True
    data = base64.b64decode(body)
    assert data[:2] == b"PK"
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames[:2] == ["Pupils", "Fields"]
    assert [c.value for c in book["Pupils"][1]] == ["id", "school"]
    assert header(response, "content-disposition") == 'attachment; filename="pupils-template.xlsx"'


def test_wrong_method_on_a_partner_path_is_audited_without_the_token(api: Api) -> None:
    _, ann, _ = create(api)
    status, _, _ = api.call("DELETE", f"/collect/{ann}", PARTNER)
    assert status in (401, 405)
    event = api.the_event()
    assert ann not in json.dumps(event, default=str)
    assert event["detail"]["path"].startswith("/collect/~")
