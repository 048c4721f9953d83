"""Grants that cannot be stretched (issue 15, item 1), as matrices through the real handler (moto).

1. What a caller may give: a sharer only within their own grant's activities and expiry (none when
   theirs has one, never a later one); owners and admins without limit.
2. Whose grants a caller may replace (PUT to the same grantee) or revoke: a grant's maker, the owning
   organisation and admins; a sharer never takes over a grant the owner, an admin or another sharer made.

Every request leaves exactly one audit event, its decision matching the status.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from api_harness import ADMIN, MEMBER, OWNER, Api, Persona
from witan.access.records import Activity, Grant, GranteeType
from witan.aws.grants_table import DynamoGrantStore

A = Activity
SHARER_A = Persona("sharer-a", "sharer-a", "[org-barnet]")  # share + file-read, no expiry
SHARER_B = Persona("sharer-b", "sharer-b", "[org-hackney]")  # share + meta-read, for 10 more days
B_DAYS = 10
MAKERS = {"owner": OWNER, "admin": ADMIN, "a": SHARER_A, "b": SHARER_B}


def _seed(api: Api) -> tuple[str, datetime]:
    """A dataset of org-camden; the two sharers' grants; one meta-visible grant made by each maker."""
    dataset_id = api.seed_dataset(with_grants=False)
    now = datetime.now(UTC)
    store = DynamoGrantStore(api.tables["GRANTS_TABLE"], api.ddb)

    def put(grantee: str, activities: set[Activity], by: str, expires: datetime | None = None) -> None:
        store.put(
            Grant(
                dataset_id,
                GranteeType.USER,
                grantee,
                frozenset(activities),
                by,
                now - timedelta(days=1),
                expires_at=expires,
            )
        )

    put(SHARER_A.sub or "", {A.SHARE, A.FILE_READ}, OWNER.sub or "")
    put(SHARER_B.sub or "", {A.SHARE, A.META_READ}, OWNER.sub or "", now + timedelta(days=B_DAYS))
    for name, maker in MAKERS.items():
        put(f"by-{name}", {A.META_VISIBLE}, maker.sub or "", now + timedelta(days=1))
    return dataset_id, now


def _iso(now: datetime, days: int | None) -> str | None:
    return None if days is None else (now + timedelta(days=days)).isoformat()


# -- 1. what each caller may give --------------------------------------------------------------------

GIVERS = [OWNER, ADMIN, SHARER_A, SHARER_B]
# (case, activities, expires in days (None: never)) -> status per giver, in GIVERS order
GIVE: list[tuple[str, list[str], int | None, tuple[int, ...]]] = [
    ("meta-read, no expiry", ["meta-read"], None, (200, 200, 200, 403)),
    ("meta-read, 5 days", ["meta-read"], 5, (200, 200, 200, 200)),
    ("meta-read, own end", ["meta-read"], B_DAYS - 1, (200, 200, 200, 200)),
    ("meta-read, 20 days", ["meta-read"], 20, (200, 200, 200, 403)),
    ("file-read, 5 days", ["file-read"], 5, (200, 200, 200, 403)),
    ("meta-update, no expiry", ["meta-update"], None, (200, 200, 403, 403)),
    ("share, 5 days", ["share", "meta-read"], 5, (200, 200, 200, 200)),
    ("share + file-read, 400 days", ["share", "file-read"], 400, (200, 200, 200, 403)),
]
GIVE_CASES = [
    pytest.param(activities, days, giver, statuses[i], id=f"{case}-{giver.name}")
    for case, activities, days, statuses in GIVE
    for i, giver in enumerate(GIVERS)
]


@pytest.mark.parametrize(("activities", "days", "giver", "status"), GIVE_CASES)
def test_give_within_own_activities_and_expiry(
    api: Api, activities: list[str], days: int | None, giver: Persona, status: int
) -> None:
    dataset_id, now = _seed(api)
    body = {"grantee_type": "user", "grantee": "new-3", "activities": activities}
    if days is not None:
        body["expires_at"] = _iso(now, days)
    got, answer, _ = api.call("PUT", f"/datasets/{dataset_id}/grants", giver, body=body)
    assert got == status, answer
    event = api.the_event()
    assert event["action"] == "grant.put"
    assert event["decision"] == ("allow" if status == 200 else "deny")
    grants = {
        g.grantee: g for g in DynamoGrantStore(api.tables["GRANTS_TABLE"], api.ddb).grants_for(dataset_id)
    }
    assert ("new-3" in grants) == (status == 200)
    if status == 403:
        assert answer["code"] == "forbidden"


def test_expiring_sharer_cannot_strip_their_own_expiry(api: Api) -> None:
    dataset_id, _ = _seed(api)
    body = {"grantee_type": "user", "grantee": SHARER_B.sub, "activities": ["share", "meta-read"]}
    got, answer, _ = api.call("PUT", f"/datasets/{dataset_id}/grants", SHARER_B, body=body)
    assert got == 403, answer
    own = next(
        g
        for g in DynamoGrantStore(api.tables["GRANTS_TABLE"], api.ddb).grants_for(dataset_id)
        if g.grantee == SHARER_B.sub
    )
    assert own.expires_at is not None and own.granted_by == OWNER.sub


# -- 2. whose grants each caller may replace or revoke ----------------------------------------------

ACTORS = [OWNER, MEMBER, ADMIN, SHARER_A, SHARER_B]
# maker of the target grant -> status per actor, in ACTORS order (the same for replace and revoke)
TAKEOVER: dict[str, tuple[int, ...]] = {
    "owner": (200, 200, 200, 403, 403),
    "admin": (200, 200, 200, 403, 403),
    "a": (200, 200, 200, 200, 403),
    "b": (200, 200, 200, 403, 200),
}
TAKEOVER_CASES = [
    pytest.param(op, maker, actor, statuses[i], id=f"{op}-by-{maker}-as-{actor.name}")
    for op in ("replace", "revoke")
    for maker, statuses in TAKEOVER.items()
    for i, actor in enumerate(ACTORS)
]


@pytest.mark.parametrize(("op", "maker", "actor", "status"), TAKEOVER_CASES)
def test_replace_or_revoke_only_by_maker_owner_or_admin(
    api: Api, op: str, maker: str, actor: Persona, status: int
) -> None:
    dataset_id, now = _seed(api)
    target = f"by-{maker}"
    if op == "replace":
        # Within every giver's limits (meta-read for a day), so only whose grant it is decides.
        body = {
            "grantee_type": "user",
            "grantee": target,
            "activities": ["meta-read"],
            "expires_at": _iso(now, 1),
        }
        got, answer, _ = api.call("PUT", f"/datasets/{dataset_id}/grants", actor, body=body)
    else:
        query = {"grantee_type": "user", "grantee": target}
        got, answer, _ = api.call("DELETE", f"/datasets/{dataset_id}/grants", actor, query=query)
    assert got == status, answer
    event = api.the_event()
    assert event["decision"] == ("allow" if status == 200 else "deny")
    if status == 403:
        assert "not-granted-by-caller" in event["reason"]
    grants = {
        g.grantee: g for g in DynamoGrantStore(api.tables["GRANTS_TABLE"], api.ddb).grants_for(dataset_id)
    }
    if status == 403:  # untouched
        assert grants[target].granted_by == MAKERS[maker].sub
        assert grants[target].activities == frozenset({A.META_VISIBLE})
    elif op == "replace":
        assert grants[target].granted_by == actor.sub
        assert json.loads(event["detail"])["activities"] == ["meta-read"]
    else:
        assert target not in grants
