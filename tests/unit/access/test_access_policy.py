"""The sharing policy as a table: who (principal, grants) x activity -> allowed, reason, visible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from witan.access.policy import access_summary, decide, decide_grant, decide_revoke, held_activities
from witan.access.records import Activity, Grant, GranteeType, Principal, Purpose, expand, parse_groups

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OWNER_ORG = "org-camden"
A = Activity


def grant(
    grantee: str,
    *activities: Activity,
    kind: GranteeType = GranteeType.USER,
    expires: datetime | None = None,
    by: str = "owner-1",
) -> Grant:
    return Grant(
        "d" * 32, kind, grantee, frozenset(activities), by, NOW - timedelta(days=1), expires_at=expires
    )


OWNER = Principal("owner-1", groups=("org-camden",))
ADMIN = Principal("admin-1", groups=("platform-admin",))
OTHER = Principal("other-1", groups=("org-barnet",))
ANON = Principal(None)
USER = Principal("user-1", groups=("org-barnet",))
GROUP_MEMBER = Principal("member-9", groups=("org-barnet", "send-analysts"))

ALL = set(Activity)
# (case, principal, grants, activity, allowed, reason, visible)
TABLE = [
    ("anonymous refused, invisible", ANON, [], A.META_VISIBLE, False, "anonymous", False),
    ("admin may do anything", ADMIN, [], A.FILE_READ, True, "admin:platform-admin", True),
    ("owner org may do anything", OWNER, [], A.SHARE, True, "owner:org-camden", True),
    ("other org: no grant, invisible", OTHER, [], A.META_VISIBLE, False, "no-grant", False),
    (
        "meta-visible grant lists it",
        USER,
        [grant("user-1", A.META_VISIBLE)],
        A.META_VISIBLE,
        True,
        "grant:user:user-1",
        True,
    ),
    (
        "meta-visible is not meta-read",
        USER,
        [grant("user-1", A.META_VISIBLE)],
        A.META_READ,
        False,
        "no-grant",
        True,
    ),
    (
        "meta-read implies visible",
        USER,
        [grant("user-1", A.META_READ)],
        A.META_VISIBLE,
        True,
        "grant:user:user-1",
        True,
    ),
    (
        "meta-read without file-read: no data",
        USER,
        [grant("user-1", A.META_READ)],
        A.FILE_READ,
        False,
        "no-grant",
        True,
    ),
    (
        "file-read implies meta-read",
        USER,
        [grant("user-1", A.FILE_READ)],
        A.META_READ,
        True,
        "grant:user:user-1",
        True,
    ),
    (
        "meta-update is not file-read",
        USER,
        [grant("user-1", A.META_UPDATE)],
        A.FILE_READ,
        False,
        "no-grant",
        True,
    ),
    ("share alone is not meta-read", USER, [grant("user-1", A.SHARE)], A.META_READ, False, "no-grant", True),
    ("grant to someone else", USER, [grant("user-2", A.FILE_READ)], A.FILE_READ, False, "no-grant", False),
    (
        "group grant applies to members",
        GROUP_MEMBER,
        [grant("send-analysts", A.FILE_READ, kind=GranteeType.GROUP)],
        A.FILE_READ,
        True,
        "grant:group:send-analysts",
        True,
    ),
    (
        "user grant does not match a group name",
        GROUP_MEMBER,
        [grant("send-analysts", A.FILE_READ)],
        A.FILE_READ,
        False,
        "no-grant",
        False,
    ),
    (
        "expired grant refused, says so",
        USER,
        [grant("user-1", A.FILE_READ, expires=NOW - timedelta(seconds=1))],
        A.FILE_READ,
        False,
        "expired-grant:user:user-1",
        False,
    ),
    (
        "grant expiring exactly now is expired",
        USER,
        [grant("user-1", A.FILE_READ, expires=NOW)],
        A.META_READ,
        False,
        "expired-grant:user:user-1",
        False,
    ),
    (
        "unexpired grant works",
        USER,
        [grant("user-1", A.FILE_READ, expires=NOW + timedelta(days=1))],
        A.FILE_READ,
        True,
        "grant:user:user-1",
        True,
    ),
]


@pytest.mark.parametrize(
    ("principal", "grants", "activity", "allowed", "reason", "visible"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_decide_table(
    principal: Principal, grants: list[Grant], activity: Activity, allowed: bool, reason: str, visible: bool
) -> None:
    decision = decide(principal, activity, OWNER_ORG, grants, NOW)
    assert (decision.allowed, decision.reason, decision.visible) == (allowed, reason, visible)
    if decision.reason.startswith("grant:"):
        assert decision.grant is not None and decision.grant.label == reason.removeprefix("grant:")


def test_every_activity_implies_itself_and_meta_visible() -> None:
    for activity in Activity:
        assert {activity, A.META_VISIBLE} <= expand(frozenset({activity}))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[org-camden platform-admin]", ("org-camden", "platform-admin")),
        ("org-camden,platform-admin", ("org-camden", "platform-admin")),
        ("org-camden, platform-admin", ("org-camden", "platform-admin")),
        (["org-camden", "platform-admin"], ("org-camden", "platform-admin")),
        ("[]", ()),
        ("", ()),
        (None, ()),
        ("org-camden", ("org-camden",)),
    ],
)
def test_parse_groups_both_formats(raw: object, expected: tuple[str, ...]) -> None:
    assert parse_groups(raw) == expected


def test_principal_organisations_and_admin() -> None:
    p = Principal("x", groups=parse_groups("[org-a platform-admin send-analysts]"))
    assert p.organisations == ("org-a",)
    assert p.is_admin and not p.anonymous
    assert Principal("").anonymous


def test_sharer_cannot_give_more_than_held() -> None:
    grants = [grant("user-1", A.SHARE, A.META_READ)]
    ok = decide_grant(USER, frozenset({A.META_READ}), OWNER_ORG, grants, NOW)
    assert ok.allowed and ok.reason == "grant:user:user-1"
    too_much = decide_grant(USER, frozenset({A.FILE_READ}), OWNER_ORG, grants, NOW)
    assert not too_much.allowed and too_much.reason == "share-exceeds-own:file-read"
    no_share = decide_grant(USER, frozenset({A.META_READ}), OWNER_ORG, [grant("user-1", A.META_READ)], NOW)
    assert not no_share.allowed
    assert decide_grant(OWNER, frozenset(ALL), OWNER_ORG, [], NOW).allowed


def test_revoke_only_own_grants_unless_owner() -> None:
    mine = grant("user-3", A.META_READ, by="user-1")
    theirs = grant("user-4", A.META_READ, by="owner-1")
    grants = [grant("user-1", A.SHARE, A.META_READ), mine, theirs]
    assert decide_revoke(USER, mine, OWNER_ORG, grants, NOW).allowed
    refused = decide_revoke(USER, theirs, OWNER_ORG, grants, NOW)
    assert (refused.allowed, refused.reason) == (False, "not-granted-by-caller")
    assert decide_revoke(OWNER, theirs, OWNER_ORG, grants, NOW).allowed
    assert decide_revoke(ADMIN, mine, OWNER_ORG, grants, NOW).allowed


def test_held_activities() -> None:
    assert held_activities(OWNER, OWNER_ORG, [], NOW) == frozenset(ALL)
    assert held_activities(ANON, OWNER_ORG, [grant("x", A.FILE_READ)], NOW) == frozenset()
    assert held_activities(USER, OWNER_ORG, [grant("user-1", A.META_READ)], NOW) == {
        A.META_READ,
        A.META_VISIBLE,
    }


def test_access_summary_marks_metadata_only_and_expired() -> None:
    grants = [
        Grant(
            "d" * 32,
            GranteeType.USER,
            "user-1",
            frozenset({A.META_READ}),
            "owner-1",
            NOW,
            purpose=Purpose("send-planning", "SEND place planning"),
        ),
        grant("user-2", A.FILE_READ, expires=NOW - timedelta(days=1)),
    ]
    entries = access_summary(OWNER_ORG, grants, NOW)
    by_who = {(e.grantee_type, e.grantee): e for e in entries}
    assert by_who[("group", "org-camden")].via == "owner"
    assert by_who[("group", "platform-admin")].via == "admin"
    reader = by_who[("user", "user-1")]
    assert reader.activities == ("meta-read", "meta-visible")
    assert reader.notes and "not shared" in reader.notes[0]
    assert reader.purpose == Purpose("send-planning", "SEND place planning")
    expired = by_who[("user", "user-2")]
    assert expired.expired and expired.activities == ()
