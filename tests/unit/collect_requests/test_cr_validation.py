"""Request body validation (witan.api.bodies.CreateCollectRequest): every problem reported at once,
each located by field and typed by a code; and the records one creation writes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from witan.api.bodies import MAX_RECIPIENTS, CreateCollectRequest, RequestChecks
from witan.aws.submissions import new_request_items
from witan.collect.requests.creation import build_request
from witan.collect.requests.records import Requester, RequestSpec
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


def validate_body(
    payload: Any, *, today: date = TODAY, schema_exists: Any = KNOWN.__contains__
) -> RequestSpec:
    checks = RequestChecks(today=today, schema_exists=schema_exists)
    return CreateCollectRequest.model_validate(payload, context=checks).spec()


def errors_of(payload: Any) -> set[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        validate_body(payload)
    return {(".".join(map(str, e["loc"])), e["type"]) for e in info.value.errors()}


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
    assert errors_of(["not", "an", "object"]) == {("", "model_type")}  # pydantic's own
    spec = validate_body(
        body(share_with=[{"type": "group", "id": "org-camden"}]),
        today=TODAY,
        schema_exists=KNOWN.__contains__,
    )
    assert spec.share_with[0].id == "org-camden"


def test_error_body_is_machine_readable() -> None:
    with pytest.raises(ValidationError) as info:
        validate_body(body(due_date="2020-01-01"))
    (error,) = info.value.errors(include_input=False)
    assert (error["loc"], error["type"], error["msg"]) == (
        ("due_date",),
        "past-date",
        "due_date 2020-01-01 is in the past",
    )


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
    request = new.request
    assert (request.request_id, request.status) == ("r1", "open")
    # what the upload validator requires
    assert request.title and request.schema == "pupils" and request.requester_email == "rita@council.example"
    assert len(new.submissions) == 2 and len(new.tokens) == 2
    sub = new.submissions[0]
    assert sub.uploader_email == "a@school.example"
    assert sub.status == "awaiting-upload" and sub.uploader_organisation == "School A"
    assert "/" not in sub.submission_id and "#" not in sub.submission_id
    assert {t.token_hash for t in new.tokens} == {hash_token("tok-one"), hash_token("tok-two")}
    # As stored (witan.aws.submissions): the keys, the requester's index, the open list.
    items = new_request_items(new)
    assert "tok-one" not in repr(items)  # raw tokens are never part of stored items
    meta = items[0]
    assert (meta["pk"], meta["sk"], meta["status"]) == ("REQUEST#r1", "META", "open")
    assert (meta["gsi1pk"], meta["gsi1sk"]) == ("REQUESTER#sub-1", "2026-11-25T09:00:00+00:00")
    assert items[1]["sk"] == f"SUBMISSION#{sub.submission_id}"
    assert items[-1] == {
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
