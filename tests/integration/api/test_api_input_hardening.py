"""API input (issue 15, item 6): limits on free JSON, list filters that cannot read what the caller may
not, and write-ahead audit events followed by their outcome when the change fails."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_harness import GRANTEES, OWNER, Api
from witan.access.records import Activity
from witan.api.bodies import MAX_FREE_JSON_BYTES, MAX_FREE_JSON_DEPTH, MAX_FREE_JSON_KEYS
from witan.aws.catalog_table import ConflictError, DynamoCatalogStore

META_VISIBLE = GRANTEES[Activity.META_VISIBLE]
META_READ = GRANTEES[Activity.META_READ]


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


# -- free JSON limits --------------------------------------------------------------------------------

TOO_MUCH = [
    pytest.param(_nested(MAX_FREE_JSON_DEPTH + 1), "json-too-deep", id="deep"),
    pytest.param(_nested(40), "json-too-deep", id="deeper-than-dynamodb"),
    pytest.param({"columns": [[[[[[[[[[[[1]]]]]]]]]]]]}, "json-too-deep", id="deep-lists"),
    pytest.param({f"k{i}": i for i in range(MAX_FREE_JSON_KEYS + 1)}, "json-too-many-keys", id="keys"),
    pytest.param(
        {"fields": [{"name": f"f{i}", "title": "x"} for i in range(MAX_FREE_JSON_KEYS // 2 + 1)]},
        "json-too-many-keys",
        id="keys-in-lists",
    ),
    pytest.param({"notes": ["x" * 1000] * (MAX_FREE_JSON_BYTES // 1000 + 1)}, "json-too-large", id="size"),
]


@pytest.mark.parametrize(("structure", "code"), TOO_MUCH)
def test_free_json_limits_on_patch(api: Api, structure: dict[str, Any], code: str) -> None:
    dataset_id = api.seed_dataset(with_grants=False)
    status, body, _ = api.call("PATCH", f"/datasets/{dataset_id}", OWNER, body={"structure": structure})
    assert (status, body["code"]) == (422, code), body
    assert api.the_event()["decision"] == "deny"
    # nothing changed: the dataset's pages still answer
    status, view, _ = api.call("GET", f"/datasets/{dataset_id}", OWNER)
    assert status == 200 and "structure" not in view["metadata"]
    status, history, _ = api.call("GET", f"/datasets/{dataset_id}/history", OWNER)
    assert status == 200 and len(history["versions"]) == 1


@pytest.mark.parametrize(("structure", "code"), TOO_MUCH[:1] + TOO_MUCH[3:4])
def test_free_json_limits_on_create(api: Api, structure: dict[str, Any], code: str) -> None:
    body = {"title": "T", "file_name": "a.csv", "structure": structure}
    status, answer, _ = api.call("POST", "/datasets", OWNER, body=body)
    assert (status, answer["code"]) == (422, code), answer


def test_free_json_within_limits_is_kept(api: Api) -> None:
    dataset_id = api.seed_dataset(with_grants=False)
    structure = {
        "schema": "pupils",
        "nested": _nested(MAX_FREE_JSON_DEPTH - 1),
        "fields": [{"name": f"f{i}", "type": "string"} for i in range(100)],
    }
    status, view, _ = api.call("PATCH", f"/datasets/{dataset_id}", OWNER, body={"structure": structure})
    assert status == 200, view
    assert view["metadata"]["structure"] == structure


def test_free_json_limits_are_documented() -> None:
    from witan.api.app import openapi_document

    patch = openapi_document()["paths"]["/datasets/{dataset_id}"]["patch"]
    assert "json-too-deep" in patch["responses"]["422"]["description"]


# -- list filters ------------------------------------------------------------------------------------


def _listed(api: Api, persona: Any, **query: str) -> set[str]:
    status, body, _ = api.call("GET", "/datasets", persona, query=query)
    assert status == 200, body
    return {item["id"] for item in body["items"]}


def test_filters_cannot_probe_what_the_caller_may_not_read(api: Api) -> None:
    dataset_id = api.seed_dataset()
    secret = "child-protection-case-7781"
    status, _, _ = api.call(
        "PATCH",
        f"/datasets/{dataset_id}",
        OWNER,
        body={"description": secret, "tags": ["send", "secret-tag"]},
    )
    assert status == 200
    # meta-visible sees the dataset listed, but no filter may tell them about its description or tags
    assert dataset_id in _listed(api, META_VISIBLE)
    assert dataset_id in _listed(api, META_VISIBLE, text=dataset_id)  # in the title, which they see
    assert dataset_id not in _listed(api, META_VISIBLE, text=secret)
    assert dataset_id not in _listed(api, META_VISIBLE, text="no-such-words")
    assert dataset_id not in _listed(api, META_VISIBLE, tag="secret-tag")
    assert dataset_id not in _listed(api, META_VISIBLE, owner=OWNER.sub or "")
    # the same probes answer for a caller who may read the metadata
    assert dataset_id in _listed(api, META_READ, text=secret)
    assert dataset_id not in _listed(api, META_READ, text="no-such-words")
    assert dataset_id in _listed(api, META_READ, tag="secret-tag")
    assert dataset_id in _listed(api, OWNER, text=secret)
    # what a meta-visible listing shows anyway may still be filtered on
    assert dataset_id in _listed(api, META_VISIBLE, organisation="org-camden")


# -- write-ahead events followed by their outcome ----------------------------------------------------


def _events(api: Api) -> list[dict[str, Any]]:
    items = api.events_for(api.last_request_id)
    events = [{k: next(iter(v.values())) for k, v in item.items()} for item in items]
    for event in events:
        event["detail"] = json.loads(event["detail"])
    return sorted(events, key=lambda e: (e["time"], e["detail"].get("recorded") != "before-change"))


@pytest.mark.parametrize(
    ("failure", "status", "decision"),
    [
        pytest.param(ConflictError, 409, "deny", id="conflict"),
        pytest.param(RuntimeError, 500, "error", id="store-down"),
    ],
)
def test_failed_change_is_followed_by_its_outcome(
    api: Api, monkeypatch: pytest.MonkeyPatch, failure: type[Exception], status: int, decision: str
) -> None:
    dataset_id = api.seed_dataset(with_grants=False)

    def fail(self: Any, *args: Any) -> None:
        raise failure()

    monkeypatch.setattr(DynamoCatalogStore, "save_metadata", fail)
    got, body, _ = api.call("PATCH", f"/datasets/{dataset_id}", OWNER, body={"description": "new"})
    assert got == status, body
    ahead, outcome = _events(api)
    assert (ahead["decision"], int(ahead["status"]), ahead["detail"]["recorded"]) == (
        "allow",
        200,
        "before-change",
    )
    assert (outcome["decision"], int(outcome["status"]), outcome["detail"]["recorded"]) == (
        decision,
        status,
        "outcome",
    )
    assert outcome["detail"]["write_ahead"] == f"{ahead['chain']}/{ahead['seq']}"
    assert outcome["action"] == ahead["action"] == "dataset.update"


def test_successful_change_has_one_event(api: Api) -> None:
    dataset_id = api.seed_dataset(with_grants=False)
    got, _, _ = api.call("PATCH", f"/datasets/{dataset_id}", OWNER, body={"description": "new"})
    assert got == 200
    (event,) = _events(api)
    assert event["detail"]["recorded"] == "before-change"


def test_outcome_that_cannot_be_recorded_answers_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from witan.aws.audit_table import DynamoAuditTrail

    dataset_id = api.seed_dataset(with_grants=False)
    real_record = DynamoAuditTrail.record
    calls: list[str] = []

    def record_once(self: Any, event: Any) -> str:
        calls.append(event.detail.get("recorded", ""))
        if len(calls) > 1:
            raise RuntimeError("audit table down")
        return real_record(self, event)

    def fail(self: Any, *args: Any) -> None:
        raise RuntimeError("catalog down")

    monkeypatch.setattr(DynamoAuditTrail, "record", record_once)
    monkeypatch.setattr(DynamoCatalogStore, "save_metadata", fail)
    got, body, _ = api.call("PATCH", f"/datasets/{dataset_id}", OWNER, body={"description": "new"})
    assert (got, body["code"]) == (503, "audit-unavailable")
    assert calls == ["before-change", "outcome"]
