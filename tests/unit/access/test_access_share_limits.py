"""Sharers cannot stretch a grant: not beyond their own activities, not beyond their own expiry, and
not over a grant someone else made (issue 15, item 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from witan.access.policy import decide_share, held_until
from witan.access.records import Activity, Grant, GranteeType, Principal

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OWNER_ORG = "org-camden"
A = Activity
DAY = timedelta(days=1)

OWNER = Principal("owner-1", groups=("org-camden",))
ADMIN = Principal("admin-1", groups=("platform-admin",))
SHARER = Principal("user-1", groups=("org-barnet",))
GROUP_SHARER = Principal("user-2", groups=("org-barnet", "send-analysts"))


def grant(
    grantee: str,
    *activities: Activity,
    kind: GranteeType = GranteeType.USER,
    expires: datetime | None = None,
    by: str = "owner-1",
) -> Grant:
    return Grant("d" * 32, kind, grantee, frozenset(activities), by, NOW - DAY, expires_at=expires)


FOREVER = [grant("user-1", A.SHARE, A.FILE_READ)]
TEN_DAYS = [grant("user-1", A.SHARE, A.FILE_READ, expires=NOW + 10 * DAY)]
# share until +10 days through the user grant; meta-read forever through the group's grant
MIXED = [
    grant("user-2", A.SHARE, A.META_READ, expires=NOW + 10 * DAY),
    grant("send-analysts", A.META_READ, A.FILE_READ, kind=GranteeType.GROUP),
]

# (case, principal, grants, requested, expires_at, allowed, reason)
TABLE = [
    ("owner: no expiry", OWNER, [], {A.SHARE, A.META_UPDATE}, None, True, "owner:org-camden"),
    ("admin: no expiry", ADMIN, [], {A.FILE_READ}, None, True, "admin:platform-admin"),
    ("sharer without expiry: none", SHARER, FOREVER, {A.META_READ}, None, True, "grant:user:user-1"),
    (
        "sharer without expiry: any",
        SHARER,
        FOREVER,
        {A.FILE_READ},
        NOW + 900 * DAY,
        True,
        "grant:user:user-1",
    ),
    (
        "sharer: more than held",
        SHARER,
        FOREVER,
        {A.META_UPDATE},
        None,
        False,
        "share-exceeds-own:meta-update",
    ),
    ("expiring sharer: none", SHARER, TEN_DAYS, {A.META_READ}, None, False, "share-expiry-required"),
    ("expiring sharer: longer", SHARER, TEN_DAYS, {A.META_READ}, NOW + 11 * DAY, False, "share-outlives-own"),
    ("expiring sharer: same", SHARER, TEN_DAYS, {A.FILE_READ}, NOW + 10 * DAY, True, "grant:user:user-1"),
    ("expiring sharer: shorter", SHARER, TEN_DAYS, {A.META_READ}, NOW + DAY, True, "grant:user:user-1"),
    # share itself ends at +10 days, so nothing given may outlive it even if the data grant does not end
    ("mixed: share bounds", GROUP_SHARER, MIXED, {A.FILE_READ}, None, False, "share-expiry-required"),
    ("mixed: within", GROUP_SHARER, MIXED, {A.FILE_READ}, NOW + 5 * DAY, True, "grant:user:user-2"),
    ("mixed: beyond", GROUP_SHARER, MIXED, {A.META_READ}, NOW + 12 * DAY, False, "share-outlives-own"),
]


@pytest.mark.parametrize(
    ("principal", "grants", "requested", "expires_at", "allowed", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_share_within_own_activities_and_expiry(
    principal: Principal,
    grants: list[Grant],
    requested: set[Activity],
    expires_at: datetime | None,
    allowed: bool,
    reason: str,
) -> None:
    decision = decide_share(principal, frozenset(requested), expires_at, OWNER_ORG, grants, NOW)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_held_until_is_the_latest_end_of_each_needed_activity_then_the_earliest_of_those() -> None:
    assert held_until(SHARER, frozenset({A.META_READ}), FOREVER, NOW) is None
    assert held_until(SHARER, frozenset({A.META_READ}), TEN_DAYS, NOW) == NOW + 10 * DAY
    assert held_until(GROUP_SHARER, frozenset({A.META_READ}), MIXED, NOW) is None
    assert held_until(GROUP_SHARER, frozenset({A.SHARE, A.META_READ}), MIXED, NOW) == NOW + 10 * DAY
    two = [
        grant("user-1", A.META_READ, expires=NOW + DAY),
        grant("user-1", A.META_READ, expires=NOW + 3 * DAY),
    ]
    assert held_until(SHARER, frozenset({A.META_READ}), two, NOW) == NOW + 3 * DAY


@pytest.mark.parametrize(
    ("principal", "maker", "allowed"),
    [
        pytest.param(SHARER, "owner-1", False, id="sharer-over-owners"),
        pytest.param(SHARER, "admin-1", False, id="sharer-over-admins"),
        pytest.param(SHARER, "user-9", False, id="sharer-over-another-sharers"),
        pytest.param(SHARER, "user-1", True, id="sharer-over-own"),
        pytest.param(OWNER, "user-9", True, id="owner-over-sharers"),
        pytest.param(ADMIN, "owner-1", True, id="admin-over-owners"),
    ],
)
def test_replacing_a_grant_made_by_someone_else(principal: Principal, maker: str, allowed: bool) -> None:
    existing = grant("user-5", A.META_READ, by=maker)
    decision = decide_share(
        principal, frozenset({A.META_READ}), None, OWNER_ORG, [*FOREVER, existing], NOW, replacing=existing
    )
    assert decision.allowed is allowed
    if not allowed:
        assert decision.reason == "not-granted-by-caller"


def test_sharer_cannot_strip_the_expiry_from_their_own_grant() -> None:
    own = TEN_DAYS[0]
    decision = decide_share(SHARER, own.activities, None, OWNER_ORG, TEN_DAYS, NOW, replacing=own)
    assert not decision.allowed
