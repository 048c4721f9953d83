"""Authorization matrix for every pack route, generated from one table: route x kind of caller -> status.

Each case runs the real handler (moto) on a fresh pack owned by org-camden with one grant per activity,
an expired all-activity grant and a grant to "victim-7" (for revocation); export and verify run on the
pack once sealed. Each request must leave exactly one audit event naming the route's action, the status
and a matching decision.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from datapacks_harness import ADMIN, ANONYMOUS, EXPIRED, GRANTEES, MEMBER, OTHER, OWNER, Persona, World
from witan.access.records import Activity

pytestmark = pytest.mark.xdist_group("datapacks")

MV, MR, MU, FR, SH = (GRANTEES[a] for a in Activity)
PERSONAS = [OWNER, MEMBER, MV, MR, MU, FR, SH, EXPIRED, OTHER, ANONYMOUS, ADMIN]


@dataclass(frozen=True)
class RouteCase:
    action: str
    method: str
    path: Callable[[str], str]
    body: Any = None
    query: dict[str, str] | None = None
    sealed: bool = False


ROUTES = {
    "read": RouteCase("datapack.read", "GET", lambda p: f"/datapacks/{p}"),
    "update": RouteCase("datapack.update", "PATCH", lambda p: f"/datapacks/{p}", {"summary": "edited"}),
    "member-add": RouteCase(
        "datapack.member.add",
        "POST",
        lambda p: f"/datapacks/{p}/members",
        {"kind": "pack-file", "role": "report", "file_name": "report.md", "content_type": "text/markdown"},
    ),
    "member-remove": RouteCase("datapack.member.remove", "DELETE", lambda p: f"/datapacks/{p}/members/m1"),
    "seal": RouteCase("datapack.seal", "POST", lambda p: f"/datapacks/{p}/seal"),
    "export": RouteCase(
        "datapack.export", "GET", lambda p: f"/datapacks/{p}/export", query={"purpose": "audit"}, sealed=True
    ),
    "verify": RouteCase("datapack.verify", "GET", lambda p: f"/datapacks/{p}/verify", sealed=True),
    "reproduce": RouteCase("datapack.reproduce", "POST", lambda p: f"/datapacks/{p}/reproduce", sealed=True),
    "reproduce-check": RouteCase(
        "datapack.reproduce.check", "GET", lambda p: f"/datapacks/{p}/reproduce/run-a/run-b", sealed=True
    ),
    "share": RouteCase(
        "datapack.grant.put",
        "PUT",
        lambda p: f"/datapacks/{p}/grants",
        {"grantee_type": "user", "grantee": "new-3", "activities": ["meta-visible"]},
    ),
    "revoke": RouteCase(
        "datapack.grant.revoke",
        "DELETE",
        lambda p: f"/datapacks/{p}/grants",
        query={"grantee_type": "user", "grantee": "victim-7"},
    ),
    "access": RouteCase("datapack.access", "GET", lambda p: f"/datapacks/{p}/access"),
    "list": RouteCase("datapack.list", "GET", lambda p: "/datapacks"),
    "create": RouteCase("datapack.create", "POST", lambda p: "/datapacks", {"title": "New pack"}),
}

# Expected status per route, in PERSONAS order:
#            owner member  mv   mr   mu   fr   sh  expired other anon admin
EXPECTED = {
    "read": (200, 200, 403, 200, 200, 200, 403, 404, 404, 401, 200),
    "update": (200, 200, 403, 403, 200, 403, 403, 404, 404, 401, 200),
    "member-add": (201, 201, 403, 403, 201, 403, 403, 404, 404, 401, 201),
    "member-remove": (200, 200, 403, 403, 200, 403, 403, 404, 404, 401, 200),
    "seal": (200, 200, 403, 403, 200, 403, 403, 404, 404, 401, 200),
    "export": (200, 200, 403, 403, 403, 200, 403, 404, 404, 401, 200),
    "verify": (200, 200, 403, 200, 200, 200, 403, 404, 404, 401, 200),
    # the pack holds no model run (409) / no run run-a (404) for those who may ask
    "reproduce": (409, 409, 403, 403, 403, 409, 403, 404, 404, 401, 409),
    "reproduce-check": (404, 404, 403, 403, 403, 404, 403, 404, 404, 401, 404),
    "share": (200, 200, 403, 403, 403, 403, 200, 404, 404, 401, 200),
    # a sharer may revoke only grants they made (victim-7's was made by the owner)
    "revoke": (200, 200, 403, 403, 403, 403, 403, 404, 404, 401, 200),
    "access": (200, 200, 403, 403, 403, 403, 200, 404, 404, 401, 200),
    "list": (200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 200),
    # anyone signed in may start a pack of their own organisation's (an admin in none must name one)
    "create": (201, 201, 201, 201, 201, 201, 201, 201, 201, 401, 422),
}
CASES = [
    pytest.param(route, persona, EXPECTED[route][i], id=f"{route}-{persona.name}")
    for route in ROUTES
    for i, persona in enumerate(PERSONAS)
]


def _decision(status: int) -> str:
    return "allow" if status < 400 else ("error" if status >= 500 else "deny")


@pytest.mark.parametrize(("route", "persona", "expected"), CASES)
def test_authorization_matrix(world: World, route: str, persona: Persona, expected: int) -> None:
    case = ROUTES[route]
    pack_id = world.seed_pack()
    if case.sealed:
        assert world.call("POST", f"/datapacks/{pack_id}/seal")[0] == 200
    status, body = world.call(case.method, case.path(pack_id), persona, body=case.body, query=case.query)
    assert status == expected, body
    (event,) = world.events_for(world.last_request_id)
    assert event["action"] == case.action
    assert int(event["status"]) == expected
    assert event["decision"] == _decision(expected)
    if route == "list" and status == 200:
        listed = {item["id"] for item in body["items"]}
        assert (pack_id in listed) == (persona not in (EXPIRED, OTHER)), listed
    if route not in ("list", "create") and persona is not ANONYMOUS:
        assert event["resource"] == f"datapack/{pack_id}"
    if status >= 400 and persona is not ANONYMOUS:
        assert json.loads(event["detail"]).get("error") == body["code"]


def test_matrix_covers_every_datapack_route() -> None:
    """The datastore's matrix leaves the datapack routes to this one: every one of them is here."""
    from witan.api.app import app, include_all_routes

    include_all_routes()
    documented = {r.operation_id for r in app._static_routes + app._dynamic_routes}
    assert {a for a in documented if a.startswith("datapack.")} == {case.action for case in ROUTES.values()}
