"""Destination datasets through the real access_api and upload_validator handlers on moto: who may point
a request at a dataset (codes, one audit event each), and a partner's valid upload becoming a version
that the request's share_with can download. Needs the access_api wiring of catalog, grants and groups."""

from __future__ import annotations

from types import ModuleType

import pytest
from ca_harness import PARTNER, RITA, Api, Persona, load_validator, post_as_browser, request_body

HAL = Persona("hal", "[org-hackney]")
VALID_CSV = b"id,school\n1,A\n2,B\n"


@pytest.fixture(scope="module")
def validator() -> ModuleType:
    return load_validator()


def new_dataset(api: Api) -> str:
    status, body, _ = api.call("POST", "/datasets", RITA, {"title": "Pupils", "file_name": "p.csv"})
    assert status == 201, body
    return str(body["dataset"]["id"])


def test_requests_into_a_dataset_are_checked_and_audited(api: Api) -> None:
    dataset_id = new_dataset(api)
    status, body, _ = api.call("POST", "/requests", HAL, request_body(dataset_id=dataset_id))
    assert (status, body["code"]) == (422, "unknown-dataset")
    event = api.the_event()
    assert (event["action"], event["status"]) == ("collect.request.create", 422)
    status, body, _ = api.call(
        "POST",
        "/requests",
        RITA,
        request_body(dataset_id=dataset_id, share_with=[{"type": "group", "id": "org-hackney"}]),
    )
    assert status == 201, body
    assert body["request"]["dataset_id"] == dataset_id


def test_valid_upload_is_a_version_the_share_with_can_download(api: Api, validator: ModuleType) -> None:
    dataset_id = new_dataset(api)
    share = [{"type": "group", "id": "org-hackney"}]
    status, body, _ = api.call(
        "POST", "/requests", RITA, request_body(dataset_id=dataset_id, share_with=share)
    )
    assert status == 201, body
    ann = api.tokens_for("ann@school.example")[-1]
    status, _, _ = api.call("GET", f"/datasets/{dataset_id}/download", HAL, query={"purpose": "check"})
    assert status == 404
    status, target, _ = api.call("POST", f"/collect/{ann}/uploads", PARTNER, {"file_name": "census.csv"})
    post_as_browser(api, target, VALID_CSV, validator)

    status, dataset, _ = api.call("GET", f"/datasets/{dataset_id}", RITA)
    assert status == 200 and dataset["file"]["version"] == 2 and dataset["file"]["file_name"] == "census.csv"
    status, link, _ = api.call("GET", f"/datasets/{dataset_id}/download", HAL, query={"purpose": "check"})
    assert status == 200 and link["key"] == f"datasets/{dataset_id}/2/census.csv"


def test_request_without_dataset_gets_its_own(api: Api, validator: ModuleType) -> None:
    status, body, _ = api.call("POST", "/requests", RITA, request_body())
    assert status == 201, body
    dataset_id = body["request"]["dataset_id"]
    status, dataset, _ = api.call("GET", f"/datasets/{dataset_id}", RITA)
    assert status == 200 and dataset["owner_org"] == "org-camden" and dataset.get("file") is None
