"""Collect+Share requests end to end on moto: create, invite, open by token, presign, upload, check
(the real upload-check service and adapters), track, revoke, expire, close, remind, digest."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cr_stack import BASE_URL, BUCKET, MAX_BYTES, TABLE, Env, create_request
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from pydantic import ValidationError
from witan.api.errors import status_of
from witan.collect.records import UploadRef
from witan.collect.requests.records import Requester
from witan.errors import BadCursorError, NotFoundError, RequestNotOpenError, WitanError

RITA = Requester(sub="sub-rita", email="rita@council.example", name="Rita")
_LINK = re.compile(re.escape(BASE_URL) + r"/collect/([A-Za-z0-9_-]{43})")


def body(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Pupil census",
        "message": "Please send the autumn census.",
        "schema": "pupils",
        "due_date": "2026-12-01",
        "recipients": [
            {"email": "ann@school.example", "name": "Ann", "organisation": "School A"},
            {"email": "bob@school.example", "name": "Bob"},
        ],
    } | extra


def sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].sent_messages)


def links_to(address: str) -> list[str]:
    return [
        m for msg in sent() if address in msg.destinations["ToAddresses"] for m in _LINK.findall(msg.body)
    ]


def items(env: Env) -> list[dict[str, Any]]:
    from witan.aws.submissions import _plain

    return [_plain(i) for i in env.ddb.scan(TableName=TABLE)["Items"]]


def create(env: Env, **extra: Any) -> dict[str, Any]:
    return create_request(env.service, body(**extra), RITA)


def upload_and_check(env: Env, token: str, name: str, content: bytes) -> None:
    """Presign as the partner page would, store the object, then run the real check service."""
    target = env.service.presign_upload(token, name, len(content))
    put = env.s3.put_object(
        Bucket=BUCKET, Key=target["key"], Body=content, ContentType=target["fields"]["Content-Type"]
    )
    rid, sid, file_name = UploadRef.parse_key(target["key"])
    ref = UploadRef(
        bucket=BUCKET,
        key=target["key"],
        request_id=rid,
        submission_id=sid,
        file_name=file_name,
        version_id=put.get("VersionId"),
        size=len(content),
        sequencer=f"{len(items(env)):016X}",
    )
    outcome = env.checker.handle(ref)
    assert outcome.checked


def test_create_stores_items_and_invites(env: Env) -> None:
    created = create(env)
    rid = created["request"]["request_id"]
    assert created["request"]["status"] == "open"
    assert [r["invited"] for r in created["recipients"]] == [True, True]
    stored = items(env)
    kinds = sorted(i["type"] for i in stored)
    assert kinds == ["open-request", "request", "submission", "submission", "token", "token"]
    tokens = [i for i in stored if i["type"] == "token"]
    ann_token = links_to("ann@school.example")[0]
    # the raw token is nowhere in the table; its hash is the GSI key
    assert ann_token not in json.dumps(stored, default=str)
    assert any(t["gsi1pk"].startswith("TOKEN#") and len(t["gsi1pk"]) == 6 + 64 for t in tokens)
    assert all(i["pk"] == f"REQUEST#{rid}" for i in stored if i["type"] != "open-request")


def test_invalid_body_and_unknown_schema(env: Env) -> None:
    with pytest.raises(ValidationError) as info:
        create(env, schema="no-such-schema", due_date="2026-11-24")
    assert {(e["loc"][0], e["type"]) for e in info.value.errors()} == {
        ("schema", "unknown-schema"),
        ("due_date", "past-date"),
    }
    assert items(env) == [] and sent() == []


def test_open_link_marks_opened_and_shows_request(env: Env) -> None:
    create(env)
    token = links_to("ann@school.example")[0]
    view = env.service.open_link(token)
    assert view["request"]["title"] == "Pupil census"
    assert view["recipient"]["email"] == "ann@school.example"
    assert [f["name"] for f in view["schema"]["fields"]] == ["id", "school"]
    assert view["link_expires_at"] == "2026-12-16T00:00:00+00:00"
    rid = next(i["request_id"] for i in items(env) if i["type"] == "request")
    tracking = env.service.tracking(rid, RITA.sub)
    states = {r["email"]: r["state"] for r in tracking["recipients"]}
    assert states == {"ann@school.example": "opened", "bob@school.example": "invited"}
    first_open = next(r["opened_at"] for r in tracking["recipients"] if r["email"] == "ann@school.example")
    env.clock.now += timedelta(hours=1)
    env.service.open_link(token)  # opening again keeps the first time
    again = env.service.tracking(rid, RITA.sub)["recipients"]
    assert next(r["opened_at"] for r in again if r["email"] == "ann@school.example") == first_open


def test_not_found_is_the_same_for_wrong_revoked_expired(env: Env) -> None:
    created = create(env)
    rid = created["request"]["request_id"]
    ann, bob = links_to("ann@school.example")[0], links_to("bob@school.example")[0]
    bob_sid = next(r["submission_id"] for r in created["recipients"] if r["email"] == "bob@school.example")
    assert env.service.revoke_link(rid, bob_sid, RITA.sub) == 1
    messages = []
    for token in ("x" * 43, "", bob):
        with pytest.raises(NotFoundError) as info:
            env.service.open_link(token)
        messages.append((info.value.code, info.value.message, status_of(info.value)))
    env.clock.now = datetime(2026, 12, 16, tzinfo=UTC)  # end of due date + 14 days
    with pytest.raises(NotFoundError) as info:
        env.service.open_link(ann)
    messages.append((info.value.code, info.value.message, status_of(info.value)))
    assert len(set(messages)) == 1 and messages[0][0] == "not-found" and messages[0][2] == 404
    env.clock.now -= timedelta(seconds=1)
    assert env.service.open_link(ann)["request"]["title"] == "Pupil census"  # last second still works


def test_presigned_post_policy(env: Env) -> None:
    created = create(env)
    rid = created["request"]["request_id"]
    sid = next(r["submission_id"] for r in created["recipients"] if r["email"] == "ann@school.example")
    token = links_to("ann@school.example")[0]
    target = env.service.presign_upload(token, "Census 2026.xlsx")
    assert target["key"] == f"uploads/{rid}/{sid}/Census 2026.xlsx"
    assert target["url"].startswith("https://") and BUCKET in target["url"]
    policy = json.loads(base64.b64decode(target["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, MAX_BYTES] in conditions
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert {"Content-Type": xlsx} in conditions and target["fields"]["Content-Type"] == xlsx
    assert {"key": target["key"]} in conditions and {"bucket": BUCKET} in conditions
    # boto signs with the real clock: the policy expires 15 minutes after signing
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    signed_for = expiration - datetime.now(UTC)
    assert timedelta(minutes=14) < signed_for <= timedelta(minutes=15)
    for name, size in (("x.exe", None), ("big.csv", MAX_BYTES + 1), ("", None)):
        with pytest.raises(WitanError):
            env.service.presign_upload(token, name, size)


def test_template_download(env: Env) -> None:
    create(env)
    data, name = env.service.template(links_to("bob@school.example")[0])
    assert name == "pupils-template.xlsx" and data[:2] == b"PK"


def test_tracking_after_real_checks(env: Env) -> None:
    created = create(env)
    rid = created["request"]["request_id"]
    ann, bob = links_to("ann@school.example")[0], links_to("bob@school.example")[0]
    upload_and_check(env, ann, "census.csv", b"id,school\n1,A\n2,B\n")
    upload_and_check(env, bob, "census.csv", b"id,school\n1,A\nx,Z\n")
    tracking = env.service.tracking(rid, RITA.sub)
    rows = {r["email"]: r for r in tracking["recipients"]}
    assert rows["ann@school.example"]["state"] == "valid" and rows["ann@school.example"]["rows"] == 2
    bob_row = rows["bob@school.example"]
    assert bob_row["state"] == "invalid" and bob_row["error_count"] == 2
    assert bob_row["counts"] == {"type-error": 1, "constraint-error": 1}
    assert bob_row["last_submission_at"] == "2026-11-25T09:00:00+00:00" and bob_row["uploads"] == 1
    assert tracking["totals"]["valid"] == 1 and tracking["totals"]["outstanding"] == 1
    history = env.service.partner_submissions(bob)
    assert history["status"] == "invalid" and len(history["submissions"]) == 1
    assert {(e["row"], e["field"]) for e in history["errors"]} == {(3, "id"), (3, "school")}
    assert set(history["submissions"][0]["report_keys"]) == {"json", "csv", "xlsx"}
    assert env.service.partner_submissions(ann)["errors"] == []


def test_close_and_cancel(env: Env) -> None:
    created = create(env)
    rid = created["request"]["request_id"]
    token = links_to("ann@school.example")[0]
    with pytest.raises(NotFoundError):
        env.service.close(rid, "someone-else")
    assert env.service.close(rid, RITA.sub)["status"] == "closed"
    with pytest.raises(RequestNotOpenError) as info:
        env.service.presign_upload(token, "late.csv")
    assert (info.value.code, status_of(info.value)) == ("request-not-open", 409)
    assert env.service.open_link(token)["accepts_uploads"] is False  # results stay visible
    with pytest.raises(RequestNotOpenError):
        env.service.cancel(rid, RITA.sub)
    assert env.store.open_request_ids() == []

    second = create(env, title="Second")
    rid2 = second["request"]["request_id"]
    token2 = links_to("ann@school.example")[-1]
    env.service.cancel(rid2, RITA.sub)
    with pytest.raises(NotFoundError):
        env.service.open_link(token2)
    assert all(
        t["revoked"]
        for t in [
            {"revoked": bool(i.get("revoked_at"))}
            for i in items(env)
            if i["type"] == "token" and i["request_id"] == rid2
        ]
    )


def test_list_requests_paged_and_private(env: Env) -> None:
    for n in range(3):
        create(env, title=f"Request {n}")
        env.clock.now += timedelta(minutes=1)
    first = env.service.list_requests(RITA.sub, limit=2)
    assert [r["title"] for r in first["requests"]] == ["Request 2", "Request 1"]
    rest = env.service.list_requests(RITA.sub, limit=2, cursor=first["next_cursor"])
    assert [r["title"] for r in rest["requests"]] == ["Request 0"]
    assert env.service.list_requests("sub-other")["requests"] == []
    with pytest.raises(BadCursorError):
        env.service.list_requests("sub-other", cursor=first["next_cursor"])  # someone else's cursor
    with pytest.raises(BadCursorError):
        env.service.list_requests(RITA.sub, cursor="not-a-cursor")


def test_reminders_once_a_day_with_working_links(env: Env) -> None:
    create(env)
    upload_and_check(env, links_to("ann@school.example")[0], "c.csv", b"id,school\n1,A\n")
    env.clock.now = env.clock.now.replace(day=28)  # 3 days before the due date
    before = len(sent())
    result = env.service.run_reminders()
    assert result.sent == ["bob@school.example"]  # Ann's upload is valid
    assert env.service.run_reminders().sent == []  # a second run the same day sends nothing
    assert len(sent()) == before + 1
    reminder = sent()[-1]
    assert reminder.subject == "Reminder: 'Pupil census' due in 3 days"
    new_link = _LINK.findall(reminder.body)[0]
    assert env.service.open_link(new_link)["recipient"]["email"] == "bob@school.example"
    assert env.service.open_link(links_to("bob@school.example")[0])  # the invitation link still works
    env.clock.now = env.clock.now.replace(day=29)
    assert env.service.run_reminders().sent == []  # not a reminder day


def test_digest_only_when_something_changed(env: Env) -> None:
    create(env)
    env.service.open_link(links_to("bob@school.example")[0])
    env.clock.now += timedelta(hours=1)
    result = env.service.run_digests()
    assert result.sent == ["rita@council.example"]
    digest = sent()[-1]
    assert "Witan daily summary" in digest.subject and "opened the link" in digest.body
    env.clock.now += timedelta(days=1)
    assert env.service.run_digests().sent == []  # nothing new since the last digest


def test_stored_schema_for_request_template_and_check(env: Env) -> None:
    from witan.collect.requests.records import StoredSchema
    from witan.collect.requests.schemas import SchemaResolver

    descriptor = {"fields": [{"name": "q1", "type": "integer", "constraints": {"required": True}}]}
    assert env.store.put_stored_schema("survey", descriptor, created_by=RITA.sub)
    other = {"fields": [{"name": "other"}]}
    assert not env.store.put_stored_schema("survey", other, created_by="sub-sam")  # immutable
    assert env.store.list_stored_schemas() == [StoredSchema("survey", RITA.sub)]
    assert env.store.get_stored_schema("nope") is None
    resolver = SchemaResolver(get_stored=env.store.get_stored_schema)
    env.service.resolve_schema = resolver
    env.checker.load_schema = resolver  # the validator wired with the same resolver
    created = create(env, schema="stored:survey", recipients=[{"email": "cy@school.example"}])
    token = links_to("cy@school.example")[0]
    assert [f["name"] for f in env.service.open_link(token)["schema"]["fields"]] == ["q1"]
    assert env.service.template(token)[1] == "survey-template.xlsx"
    upload_and_check(env, token, "s.csv", b"q1\n1\n\n2\nx\n")
    row = env.service.tracking(created["request"]["request_id"], RITA.sub)["recipients"][0]
    assert row["state"] == "invalid" and row["counts"] == {"type-error": 1, "blank-row": 1}


def test_refused_invitation_is_reported_not_logged_and_can_be_reissued(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    from witan.aws.ses import SesMailer

    good_mailer = env.service.mailer
    env.service.mailer = SesMailer("unverified@council.example", env.ses)  # SES rejects every send
    caplog.set_level(logging.DEBUG, logger="witan")  # our code; botocore at DEBUG dumps request bodies
    created = create(env, recipients=[{"email": "dee@school.example"}])
    assert [r["invited"] for r in created["recipients"]] == [False]
    token_hashes = [i["token_hash"] for i in items(env) if i["type"] == "token"]
    assert len(token_hashes) == 1 and "collect email not sent" in caplog.text
    assert f"{BASE_URL}/collect/" not in caplog.text  # the link (and so the token) is never logged
    env.service.mailer = good_mailer
    rid, sid = created["request"]["request_id"], created["recipients"][0]["submission_id"]
    assert env.service.reissue_link(rid, sid, RITA.sub) is True
    token = links_to("dee@school.example")[0]
    assert env.service.open_link(token)["recipient"]["email"] == "dee@school.example"
    assert token not in caplog.text
    tokens = [i for i in items(env) if i["type"] == "token"]
    assert sorted(bool(t.get("revoked_at")) for t in tokens) == [False, True]  # the unsent one revoked
