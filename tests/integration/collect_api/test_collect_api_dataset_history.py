"""A request's destination dataset, through the real access_api and upload_validator handlers on moto:
the request's one creation event is the dataset's (so `GET /audit/events?dataset=ID` finds it), and a
valid upload's emails and the requester's tracking name the dataset version it became."""

from __future__ import annotations

from types import ModuleType

import pytest
from ca_harness import PARTNER, RITA, Api, load_validator, post_as_browser, request_body

VALID_CSV = b"id,school\n1,A\n2,B\n"


@pytest.fixture(scope="module")
def validator() -> ModuleType:
    return load_validator()


def history(api: Api, dataset_id: str) -> list[dict[str, object]]:
    status, body, _ = api.call("GET", "/audit/events", RITA, query={"dataset": dataset_id})
    assert status == 200, body
    return list(body["items"])


def test_a_made_dataset_has_its_creation_in_its_own_history(api: Api) -> None:
    status, body, _ = api.call("POST", "/requests", RITA, request_body())
    assert status == 201, body
    rid, dataset_id = body["request"]["request_id"], body["request"]["dataset_id"]
    event = api.the_event()  # still exactly one event for the API request
    assert (event["action"], event["status"], event["resource"]) == (
        "collect.request.create",
        201,
        f"dataset/{dataset_id}",
    )
    assert (event["detail"]["collect_request"], event["detail"]["dataset_created"]) == (rid, True)

    found = [e for e in history(api, dataset_id) if e["action"] == "collect.request.create"]
    assert len(found) == 1 and found[0]["detail"]["collect_request"] == rid


def test_a_named_dataset_records_the_request_in_its_history(api: Api) -> None:
    status, made, _ = api.call("POST", "/datasets", RITA, {"title": "Pupils", "file_name": "p.csv"})
    assert status == 201, made
    dataset_id = made["dataset"]["id"]
    status, body, _ = api.call("POST", "/requests", RITA, request_body(dataset_id=dataset_id))
    assert status == 201, body
    event = api.the_event()
    assert event["resource"] == f"dataset/{dataset_id}" and event["detail"]["dataset_created"] is False
    actions = [e["action"] for e in history(api, dataset_id)]
    assert actions.count("dataset.create") == 1 and actions.count("collect.request.create") == 1


def test_a_request_with_no_destination_is_recorded_against_itself(api: Api) -> None:
    groups_two = type(RITA)("tess", "[org-camden,org-hackney]")  # two organisations: no dataset made
    status, body, _ = api.call("POST", "/requests", groups_two, request_body())
    assert status == 201, body
    assert body["request"].get("dataset_id") is None
    event = api.the_event()
    assert event["resource"] == f"collect-request/{body['request']['request_id']}"
    assert "collect_request" not in event["detail"]


def test_a_valid_upload_names_its_version_in_emails_and_tracking(api: Api, validator: ModuleType) -> None:
    status, body, _ = api.call("POST", "/requests", RITA, request_body())
    assert status == 201, body
    rid, dataset_id = body["request"]["request_id"], body["request"]["dataset_id"]
    ann = api.tokens_for("ann@school.example")[-1]
    status, target, _ = api.call("POST", f"/collect/{ann}/uploads", PARTNER, {"file_name": "census.csv"})
    assert status in (200, 201), target
    before = len(api.sent())
    post_as_browser(api, target, VALID_CSV, validator)

    status, dataset, _ = api.call("GET", f"/datasets/{dataset_id}", RITA)
    version = dataset["file"]["version"]
    sentence = f"It is now version {version} of dataset {dataset_id}."
    mails = api.sent()[before:]
    assert sorted(m.destinations["ToAddresses"][0] for m in mails) == [
        "ann@school.example",
        "rita@council.example",
    ]
    for mail in mails:
        assert sentence in mail.body

    status, tracking, _ = api.call("GET", f"/requests/{rid}", RITA)
    assert status == 200, tracking
    row = next(r for r in tracking["recipients"] if r["email"] == "ann@school.example")
    assert (row["dataset_id"], row["dataset_version"], row["dataset_versions"]) == (
        dataset_id,
        version,
        [version],
    )
    assert [(v["version"], v["file_name"]) for v in tracking["dataset_versions"]] == [(version, "census.csv")]
    # The dataset's history now holds the request's creation and the collected version.
    actions = [e["action"] for e in history(api, dataset_id)]
    assert "collect.request.create" in actions and "dataset.version.collect" in actions
