"""A request's destination dataset on moto: checked when the request is made (the requester must be able
to add versions and to share as asked), then each partner's valid upload becomes a version of it, shared
with `share_with`, and the partner's history lists uploads newest first even within one second."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cr_stack import BASE_URL, BUCKET, TABLE, Env, create_request
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from witan.access.policy import decide
from witan.access.records import Activity, Grant, GranteeType, Principal
from witan.api.errors import status_of
from witan.catalog.records import create as create_dataset
from witan.catalog.records import soft_delete
from witan.collect.records import UploadRef
from witan.collect.requests.records import Requester
from witan.errors import RequestNotOpenError, WitanError

RITA = Requester(sub="sub-rita", email="rita@council.example", name="Rita", groups=("org-camden",))
HAL = Requester(sub="sub-hal", email="hal@hackney.example", name="Hal", groups=("org-hackney",))
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SHARE = [{"type": "group", "id": "org-hackney"}]


def add_dataset(env: Env, dataset_id: str, owner: str = "org-camden") -> None:
    dataset, meta, _ = create_dataset(
        dataset_id, owner, "sub-owner", {"title": "Pupils"}, "x.csv", "text/csv", 1, NOW
    )
    env.catalog.create(replace(dataset, file=None), meta)


def grant(env: Env, dataset_id: str, sub: str, *activities: Activity) -> None:
    env.grants.put(Grant(dataset_id, GranteeType.USER, sub, frozenset(activities), "sub-owner", NOW))


def body(dataset_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Pupil census",
        "schema": "pupils",
        "due_date": "2026-12-01",
        "recipients": [{"email": "ann@school.example"}, {"email": "bob@school.example"}],
        "dataset_id": dataset_id,
    } | extra


def refused(env: Env, requester: Requester, dataset_id: str, **extra: Any) -> tuple[int, str]:
    with pytest.raises(WitanError) as info:
        create_request(env.service, body(dataset_id, **extra), requester)
    return status_of(info.value), info.value.code


def stored_items(env: Env) -> list[dict[str, Any]]:
    return env.ddb.scan(TableName=TABLE)["Items"]


def test_owner_org_member_may_collect_into_and_share_a_dataset(env: Env) -> None:
    add_dataset(env, "a" * 32)
    created = create_request(env.service, body("a" * 32, share_with=SHARE), RITA)
    meta = env.store.get_request(created["request"]["request_id"])
    assert meta is not None
    assert (meta.dataset_id, meta.dataset_owner_org) == ("a" * 32, "org-camden")
    assert meta.destination_checked_at == "2026-11-25T09:00:00+00:00"


def test_refusals_have_codes_and_store_nothing(env: Env) -> None:
    add_dataset(env, "b" * 32, owner="org-hackney")  # Rita cannot even see it
    add_dataset(env, "c" * 32, owner="org-hackney")
    grant(env, "c" * 32, RITA.sub, Activity.META_READ, Activity.FILE_READ)  # sees and reads, cannot update
    add_dataset(env, "d" * 32, owner="org-hackney")
    grant(env, "d" * 32, RITA.sub, Activity.META_UPDATE)  # may update, may not share
    add_dataset(env, "e" * 32)
    deleted = env.catalog.get("e" * 32)
    env.catalog.save_deleted(soft_delete(deleted, "sub-owner", NOW))

    assert refused(env, RITA, "0" * 32) == (422, "unknown-dataset")
    assert refused(env, RITA, "b" * 32) == (422, "unknown-dataset")  # same answer: existence not revealed
    assert refused(env, RITA, "c" * 32) == (403, "dataset-not-writable")
    assert refused(env, RITA, "d" * 32, share_with=SHARE) == (403, "share-not-allowed")
    assert refused(env, RITA, "e" * 32) == (410, "dataset-deleted")
    assert refused(env, Requester("sub-x", "x@council.example"), "a" * 32) == (422, "unknown-dataset")
    assert stored_items(env) == []
    assert list(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].sent_messages) == []

    # A grant of meta-update without share is enough when nothing is to be shared.
    created = create_request(env.service, body("d" * 32), RITA)
    assert created["request"]["dataset_id"] == "d" * 32


def test_without_the_datastore_wired_a_destination_is_refused(env: Env) -> None:
    service = replace(env.service, catalog=None, grants=None)
    with pytest.raises(WitanError) as info:
        create_request(service, body("a" * 32), RITA)
    assert (status_of(info.value), info.value.code) == (503, "destination-unavailable")
    assert create_request(service, body("a" * 32) | {"dataset_id": None}, RITA)["request"]["status"] == "open"


def _upload(env: Env, token: str, name: str, content: bytes, event_time: str) -> str:
    target = env.service.presign_upload(token, name, len(content))
    put = env.s3.put_object(Bucket=BUCKET, Key=target["key"], Body=content)
    rid, sid, file_name = UploadRef.parse_key(target["key"])
    ref = UploadRef(
        BUCKET, target["key"], rid, sid, file_name, put["VersionId"], len(content), event_time=event_time
    )
    assert env.checker.handle(ref).checked
    return str(put["VersionId"])


def _tokens(env: Env) -> dict[str, str]:
    """Each recipient's link token, from their (latest) invitation in moto's SES."""
    link = re.compile(re.escape(BASE_URL) + r"/collect/([A-Za-z0-9_-]{43})")
    found: dict[str, str] = {}
    for message in ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].sent_messages:
        for address in ("ann", "bob"):
            if f"{address}@school.example" in message.destinations["ToAddresses"]:
                found[address] = link.findall(message.body)[-1]
    return found


def test_valid_uploads_become_versions_shared_with_the_request(env: Env) -> None:
    add_dataset(env, "a" * 32)
    rid = create_request(env.service, body("a" * 32, share_with=SHARE), RITA)["request"]["request_id"]
    tokens = _tokens(env)
    _upload(env, tokens["ann"], "pupils.csv", b"id,school\n1,A\n2,B\n", "2026-11-25T09:01:00.100Z")
    _upload(env, tokens["bob"], "bad.csv", b"id,school\n1,Z\n", "2026-11-25T09:01:00.200Z")
    _upload(env, tokens["bob"], "good.csv", b"id,school\n3,C\n", "2026-11-25T09:01:00.300Z")

    dataset = env.catalog.get("a" * 32)
    assert dataset is not None and dataset.file is not None
    assert (dataset.file.version, dataset.file.file_name) == (2, "good.csv")
    csv_text = env.s3.get_object(Bucket=BUCKET, Key=dataset.file.key)["Body"].read().decode()
    # RFC 4180 CSV; Arrow's writer quotes every text value, which spreadsheets and readers undo.
    assert list(csv.reader(io.StringIO(csv_text))) == [["id", "school"], ["3", "C"]]
    (shared,) = env.grants.grants_for("a" * 32)
    assert shared.purpose is not None
    assert (shared.label, shared.granted_by, shared.purpose.code) == (
        "group:org-hackney",
        RITA.sub,
        "collect-request",
    )
    assert rid in shared.purpose.text
    # Hal (org-hackney) could not see the dataset before; the request's sharing lets him read it now.
    hal = Principal(HAL.sub, HAL.email, HAL.groups)
    assert decide(hal, Activity.FILE_READ, dataset.owner_org, [shared], NOW).allowed
    other = Principal("sub-x", None, ("org-x",))
    assert not decide(other, Activity.FILE_READ, dataset.owner_org, [shared], NOW).allowed


def test_closed_request_refuses_presign_and_the_late_upload_is_not_accepted(env: Env) -> None:
    add_dataset(env, "a" * 32)
    rid = create_request(env.service, body("a" * 32), RITA)["request"]["request_id"]
    token = _tokens(env)["ann"]
    target = env.service.presign_upload(token, "late.csv")  # URL issued while open
    env.service.close(rid, RITA.sub)
    with pytest.raises(RequestNotOpenError):
        env.service.presign_upload(token, "later.csv")
    put = env.s3.put_object(Bucket=BUCKET, Key=target["key"], Body=b"id,school\n1,A\n")
    r, s, f = UploadRef.parse_key(target["key"])
    outcome = env.checker.handle(UploadRef(BUCKET, target["key"], r, s, f, put["VersionId"]))
    assert str(outcome.status) == "not-accepted"
    history = env.service.partner_submissions(token)
    (late,) = history["submissions"]
    assert late["status"] == "not-accepted" and "after the request was closed" in late["message"]
    dataset = env.catalog.get("a" * 32)
    assert dataset is not None and dataset.file is None


def test_partner_history_is_newest_first_within_one_second(env: Env) -> None:
    create_request(env.service, body("a" * 32) | {"dataset_id": None}, RITA)
    token = _tokens(env)["ann"]
    # Three uploads in the same second, checked out of order (as parallel SQS deliveries can be).
    times = ["2026-11-25T09:01:00.900Z", "2026-11-25T09:01:00.050Z", "2026-11-25T09:01:00.400Z"]
    names = {t: f"upload-{i}.csv" for i, t in enumerate(times)}
    env.clock.now = NOW + timedelta(seconds=1)
    for t in times:  # every check starts in the same clock second
        _upload(env, token, names[t], b"id,school\n1,A\n", t)
    history = env.service.partner_submissions(token)
    assert [s["file_name"] for s in history["submissions"]] == [names[t] for t in sorted(times, reverse=True)]
    assert len({s["started_at"] for s in history["submissions"]}) == 1  # the old sort key could not tell
    assert json.dumps(history)  # plain JSON


def test_request_without_dataset_gets_one_of_its_own(env: Env) -> None:
    created = create_request(env.service, body("a" * 32, share_with=SHARE) | {"dataset_id": None}, RITA)
    rid = created["request"]["request_id"]
    dataset_id = created["request"]["dataset_id"]
    meta = env.store.get_request(rid)
    assert meta is not None
    assert (meta.dataset_id, meta.dataset_owner_org, meta.dataset_created) == (
        dataset_id,
        "org-camden",
        True,
    )
    dataset = env.catalog.get(dataset_id)
    assert dataset is not None and dataset.file is None
    assert (dataset.owner_org, dataset.created_by, dataset.title) == ("org-camden", RITA.sub, "Pupil census")
    assert dataset.metadata["structure"]["fields"] == [
        {"name": "id", "type": "integer"},
        {"name": "school", "type": "string"},
    ]
    assert dataset.metadata["source"] == f"Collect+Share request {rid}"

    _upload(env, _tokens(env)["ann"], "pupils.csv", b"id,school\n1,A\n", "2026-11-25T09:01:00.100Z")
    after = env.catalog.get(dataset_id)
    assert after is not None and after.file is not None and after.file.version == 1
    assert [g.label for g in env.grants.grants_for(dataset_id)] == ["group:org-hackney"]


def test_no_dataset_is_made_without_exactly_one_organisation(env: Env) -> None:
    nobody = Requester("sub-n", "n@council.example", groups=("platform-admin",))
    both = Requester("sub-b", "b@council.example", groups=("org-camden", "org-hackney"))
    for requester in (nobody, both):
        created = create_request(env.service, body("a" * 32) | {"dataset_id": None}, requester)
        assert "dataset_id" not in created["request"]
        with pytest.raises(WitanError) as info:  # nothing to share without a destination
            create_request(env.service, body("a" * 32, share_with=SHARE) | {"dataset_id": None}, requester)
        assert (status_of(info.value), info.value.code) == (422, "no-destination")
    assert env.catalog.list_all() == []
