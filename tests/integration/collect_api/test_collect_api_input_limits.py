"""Free JSON in Collect+Share bodies has the datastore's limits (issue 15, item 6): a stored Table Schema
is kept for good and read by every request naming it, so one nested past the limits is refused (422)."""

from __future__ import annotations

from typing import Any

from ca_harness import RITA, Api
from witan.api.bodies import MAX_FREE_JSON_DEPTH


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"x": 1}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def _schema(extra: dict[str, Any]) -> dict[str, Any]:
    return {"fields": [{"name": "id", "type": "integer"}], **extra}


def test_deep_schema_refused(api: Api) -> None:
    body = {"name": "deep-one", "schema": _schema({"custom": _deep(MAX_FREE_JSON_DEPTH + 5)})}
    status, answer, _ = api.call("POST", "/schemas", RITA, body)
    assert (status, answer["code"]) == (422, "json-too-deep"), answer
    status, listed, _ = api.call("GET", "/schemas", RITA)
    assert "stored:deep-one" not in {s["name"] for s in listed["schemas"]}


def test_schema_within_limits_stored(api: Api) -> None:
    fields = [
        {"name": f"f{i}", "type": "string", "constraints": {"required": True, "enum": ["a", "b"]}}
        for i in range(400)
    ]
    status, answer, _ = api.call("POST", "/schemas", RITA, {"name": "wide-one", "schema": {"fields": fields}})
    assert status == 201, answer
