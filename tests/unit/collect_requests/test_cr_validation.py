"""Request body validation: every problem reported at once, by field and code."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from witan.api.errors import status_of
from witan.collect.requests.body import (
    MAX_RECIPIENTS,
    InvalidRequest,
    Requester,
    build_request,
    validate_body,
)
from witan.collect.requests.tokens import hash_token

TODAY = date(2026, 11, 25)
KNOWN = {"pupils", "sen2-ehcp"}


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "School census",
        "message": "Please send\nthis term's data.",
        "schema": "pupils",
        "due_date": "2026-12-01",
        "recipients": [
            {"email": "a@school.example", "name": "Ann", "organisation": "School A"},
            {"email": "b@school.example"},
        ],
    }
    return base | overrides


def errors_of(payload: Any) -> set[tuple[str, str]]:
    with pytest.raises(InvalidRequest) as info:
        validate_body(payload, today=TODAY, schema_exists=KNOWN.__contains__)
    assert status_of(info.value) == 422 and info.value.code == "invalid-request"
    return {(e.field, e.code) for e in info.value.errors}


def test_valid_body() -> None:
    spec = validate_body(body(), today=TODAY, schema_exists=KNOWN.__contains__)
    assert spec.title == "School census"
    assert spec.due_date == date(2026, 12, 1)
    assert [r.email for r in spec.recipients] == ["a@school.example", "b@school.example"]
    assert spec.recipients[0].organisation == "School A"


def test_due_today_is_allowed_yesterday_is_not() -> None:
    assert validate_body(body(due_date="2026-11-25"), today=TODAY, schema_exists=KNOWN.__contains__)
    assert errors_of(body(due_date="2026-11-24")) == {("due_date", "past-date")}
    assert errors_of(body(due_date="01/12/2026")) == {("due_date", "bad-date")}
    assert errors_of(body(due_date="2026-02-30")) == {("due_date", "bad-date")}


def test_each_problem_is_named_by_field() -> None:
    payload = body(
        title="",
        schema="nope",
        recipients=[
            {"email": "not-an-email"},
            {"email": "ok@x.example"},
            {"email": "OK@X.example"},
            {"email": "c@x.example", "phone": "1"},
        ],
        dataset_id="XYZ",
        extra=1,
    )
    assert errors_of(payload) == {
        ("title", "required"),
        ("schema", "unknown-schema"),
        ("recipients[0].email", "bad-email"),
        ("recipients[2].email", "duplicate-recipient"),
        ("recipients[3].phone", "unknown-field"),
        ("dataset_id", "bad-dataset-id"),
        ("extra", "unknown-field"),
    }


@pytest.mark.parametrize(
    "email",
    ["a@b", "a b@c.example", "<a@b.example>", "a@-b.example", "a@b.example,c@d.example", "@b.example"],
)
def test_bad_emails(email: str) -> None:
    assert errors_of(body(recipients=[{"email": email}])) == {("recipients[0].email", "bad-email")}


def test_too_many_and_no_recipients() -> None:
    many = [{"email": f"p{i}@x.example"} for i in range(MAX_RECIPIENTS + 1)]
    assert errors_of(body(recipients=many)) == {("recipients", "too-many-recipients")}
    assert errors_of(body(recipients=[])) == {("recipients", "required")}


def test_share_with_and_body_type() -> None:
    assert errors_of(body(share_with=[{"type": "role", "id": "x"}])) == {("share_with[0]", "bad-grantee")}
    assert errors_of(["not", "an", "object"]) == {("", "wrong-type")}
    spec = validate_body(
        body(share_with=[{"type": "group", "id": "org-camden"}]),
        today=TODAY,
        schema_exists=KNOWN.__contains__,
    )
    assert spec.share_with[0].id == "org-camden"


def test_error_body_is_machine_readable() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_body(body(due_date="2020-01-01"), today=TODAY, schema_exists=KNOWN.__contains__)
    out = info.value.to_dict()
    assert out["code"] == "invalid-request"
    assert out["errors"] == [
        {"field": "due_date", "code": "past-date", "message": "due_date 2020-01-01 is in the past"}
    ]


def test_build_request_items() -> None:
    spec = validate_body(body(), today=TODAY, schema_exists=KNOWN.__contains__)
    tokens = iter(["tok-one", "tok-two"])
    new = build_request(
        spec,
        Requester(sub="sub-1", email="rita@council.example", name="Rita"),
        now=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
        request_id="r1",
        token_factory=lambda: next(tokens),
    )
    meta = new.meta
    assert (meta["pk"], meta["sk"], meta["status"]) == ("REQUEST#r1", "META", "open")
    # what the upload validator requires
    assert meta["title"] and meta["schema"] == "pupils" and meta["requester_email"] == "rita@council.example"
    assert (meta["gsi1pk"], meta["gsi1sk"]) == ("REQUESTER#sub-1", "2026-11-25T09:00:00+00:00")
    assert len(new.submissions) == 2 and len(new.tokens) == 2
    sub = new.submissions[0]
    assert sub["sk"] == f"SUBMISSION#{sub['submission_id']}" and sub["uploader_email"] == "a@school.example"
    assert sub["status"] == "awaiting-upload" and sub["uploader_organisation"] == "School A"
    assert "/" not in sub["submission_id"] and "#" not in sub["submission_id"]
    assert {t["token_hash"] for t in new.tokens} == {hash_token("tok-one"), hash_token("tok-two")}
    assert "tok-one" not in repr(new.items)  # raw tokens are never part of stored items
    assert new.open_item == {
        "pk": "OPEN",
        "sk": "REQUEST#r1",
        "type": "open-request",
        "request_id": "r1",
        "due_date": "2026-12-01",
    }


def test_line_breaks_only_in_the_message() -> None:
    spec = validate_body(body(message="a\r\nb\tc"), today=TODAY, schema_exists=KNOWN.__contains__)
    assert spec.message == "a\r\nb\tc"
    assert errors_of(body(title="Two\nlines", message="bell\x07")) == {
        ("title", "bad-characters"),
        ("message", "bad-characters"),
    }
