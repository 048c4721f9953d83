"""Authorization matrix, generated from one table: every route x every kind of caller -> status.

Each case runs the real handler (moto), on a fresh dataset owned by org-camden that has one grant per
activity, an expired all-activity grant and a grant to "victim-7" (for revocation). Each request must
leave exactly one audit event naming the route's action, the status and a matching decision.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from api_harness import (
    ADMIN,
    ANONYMOUS,
    EXPIRED,
    GRANTEES,
    MEMBER,
    OTHER,
    OWNER,
    Api,
    Persona,
)
from witan.access.records import Activity

MV, MR, MU, FR, SH = (GRANTEES[a] for a in Activity)
PERSONAS = [OWNER, MEMBER, MV, MR, MU, FR, SH, EXPIRED, OTHER, ANONYMOUS, ADMIN]


@dataclass(frozen=True)
class RouteCase:
    action: str
    method: str
    path: Callable[[str], str]
    body: Callable[[], Any] | None = None
    query: dict[str, str] | None = None


def _unique_edit() -> dict[str, str]:
    return {"description": f"edit {uuid.uuid4().hex}"}


ROUTES = {
    "read": RouteCase("dataset.read", "GET", lambda d: f"/datasets/{d}"),
    "history": RouteCase("dataset.history", "GET", lambda d: f"/datasets/{d}/history"),
    "update": RouteCase("dataset.update", "PATCH", lambda d: f"/datasets/{d}", _unique_edit),
    "version": RouteCase(
        "dataset.version.create", "POST", lambda d: f"/datasets/{d}/versions", lambda: {"file_name": "v2.csv"}
    ),
    "download": RouteCase(
        "dataset.download", "GET", lambda d: f"/datasets/{d}/download", query={"purpose": "send planning"}
    ),
    "delete": RouteCase("dataset.delete", "DELETE", lambda d: f"/datasets/{d}"),
    "share": RouteCase(
        "grant.put",
        "PUT",
        lambda d: f"/datasets/{d}/grants",
        lambda: {"grantee_type": "user", "grantee": "new-3", "activities": ["meta-visible"]},
    ),
    "revoke": RouteCase(
        "grant.revoke",
        "DELETE",
        lambda d: f"/datasets/{d}/grants",
        query={"grantee_type": "user", "grantee": "victim-7"},
    ),
    "access": RouteCase("dataset.access", "GET", lambda d: f"/datasets/{d}/access"),
    "list": RouteCase("dataset.list", "GET", lambda d: "/datasets", query={"text": "{d}"}),
    "create": RouteCase(
        "dataset.create", "POST", lambda d: "/datasets", lambda: {"title": "New", "file_name": "new.csv"}
    ),
    "audit-events": RouteCase("audit.events", "GET", lambda d: "/audit/events", query={"dataset": "{d}"}),
    "audit-usage": RouteCase(
        "audit.usage", "GET", lambda d: "/audit/reports/usage", query={"dataset": "{d}"}
    ),
    "audit-subject": RouteCase("audit.subject", "GET", lambda d: f"/audit/subjects/{OWNER.sub}"),
    "audit-verify": RouteCase("audit.verify", "GET", lambda d: "/audit/verify"),
}

# Expected status per persona, in PERSONAS order:
#        owner member  mv    mr    mu    fr    share expired other anon admin
EXPECTED: dict[str, tuple[int, ...]] = {
    "read": (200, 200, 403, 200, 200, 200, 403, 404, 404, 401, 200),
    "history": (200, 200, 403, 200, 200, 200, 403, 404, 404, 401, 200),
    "update": (200, 200, 403, 403, 200, 403, 403, 404, 404, 401, 200),
    "version": (201, 201, 403, 403, 201, 403, 403, 404, 404, 401, 201),
    "download": (200, 200, 403, 403, 403, 200, 403, 404, 404, 401, 200),
    "delete": (200, 200, 403, 403, 403, 403, 403, 404, 404, 401, 200),
    "share": (200, 200, 403, 403, 403, 403, 200, 404, 404, 401, 200),
    "revoke": (200, 200, 403, 403, 403, 403, 403, 404, 404, 401, 200),
    "access": (200, 200, 403, 403, 403, 403, 200, 404, 404, 401, 200),
    "list": (200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200),
    # Grantees and the other organisation create in their own organisation; admins belong to none.
    "create": (201, 201, 201, 201, 201, 201, 201, 201, 201, 401, 422),
    "audit-events": (200, 200, 403, 403, 403, 403, 403, 403, 403, 401, 200),
    "audit-usage": (200, 200, 403, 403, 403, 403, 403, 403, 403, 401, 200),
    "audit-subject": (200, 403, 403, 403, 403, 403, 403, 403, 403, 401, 200),
    "audit-verify": (403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 200),
}
# Who sees the seeded dataset in GET /datasets.
LISTED = {OWNER, MEMBER, MV, MR, MU, FR, SH, ADMIN}

CASES = [
    pytest.param(route, persona, EXPECTED[route][i], id=f"{route}-{persona.name}")
    for route in ROUTES
    for i, persona in enumerate(PERSONAS)
]


def test_matrix_covers_every_route() -> None:
    from witan.api.app import app, include_all_routes

    include_all_routes()
    documented = {r.operation_id for r in app._static_routes + app._dynamic_routes}
    # Collect+Share and model-run routes have their own matrices (tests/integration/collect_api,
    # tests/integration/model_run_api, which also covers the model routes); every other route must be in
    # this one. The console's routes serve its static files to anyone (tests/e2e/test_e2e_console.py).
    other_areas = {
        a
        for a in documented
        if a.startswith(("collect.", "request.", "schema.", "model-run.", "model.", "console.", "datapack."))
    }
    assert documented - {"api.openapi"} - other_areas == {case.action for case in ROUTES.values()}
    assert all(len(row) == len(PERSONAS) for row in EXPECTED.values())


@pytest.mark.parametrize(("route", "persona", "status"), CASES)
def test_authorization(api: Api, route: str, persona: Persona, status: int) -> None:
    case = ROUTES[route]
    dataset_id = api.seed_dataset()
    query = {k: v.replace("{d}", dataset_id) for k, v in (case.query or {}).items()} or None
    got, body, _ = api.call(
        case.method, case.path(dataset_id), persona, body=case.body() if case.body else None, query=query
    )
    assert got == status, body
    if status >= 400:
        assert isinstance(body, dict) and set(body) >= {"code", "message"}
    event = api.the_event()
    assert event["action"] == case.action
    assert int(event["status"]) == status
    assert event["decision"] == ("allow" if status < 400 else "deny")
    assert event.get("actor_sub") == persona.sub
    if route == "list" and status == 200:
        listed = {item["id"] for item in body["items"]}
        assert (dataset_id in listed) == (persona in LISTED)
    if route == "download" and status == 200:
        assert event["purpose"] == "send planning"
        assert "X-Amz-Expires=300" in body["url"]
    if route in {"read", "download"} and persona is ADMIN:
        assert json.loads(event["detail"])["admin_override"] is True
