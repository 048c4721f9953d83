"""The sharing policy: a pure function from (principal, activity, owner, grants, now) to a decision.

Order: anonymous callers are refused; platform admins may do everything (and are audited like anyone);
members of the owning organisation have full rights; otherwise an unexpired grant to the caller's sub
or to one of their groups must include the activity (after implications, see `IMPLIES`).

Sharers (callers whose right to share comes from a grant) cannot stretch it: what they give must be
within the activities they hold, must end no later than they hold them (and `share` itself), and a
grant someone else made may be replaced or revoked only by its maker, the owner or an admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from witan.access.records import (
    ALL_ACTIVITIES,
    AccessEntry,
    Activity,
    Decision,
    Grant,
    Principal,
    expand,
)
from witan.settings import ADMIN_GROUP

_FOREVER = datetime.max.replace(tzinfo=UTC)


def _sorted(activities: Iterable[Activity]) -> tuple[str, ...]:
    return tuple(sorted(a.value for a in activities))


def decide(
    principal: Principal, activity: Activity, owner_org: str, grants: Iterable[Grant], now: datetime
) -> Decision:
    """May `principal` do `activity` on a dataset owned by `owner_org` with these grants, at `now`?"""
    if principal.anonymous:
        return Decision(False, "anonymous", visible=False)
    if principal.is_admin:
        return Decision(True, f"admin:{ADMIN_GROUP}")
    if owner_org in principal.organisations:
        return Decision(True, f"owner:{owner_org}")
    applicable = [g for g in grants if g.applies_to(principal)]
    live = [g for g in applicable if not g.expired(now)]
    for grant in sorted(live, key=lambda g: g.label):
        if activity in expand(grant.activities):
            return Decision(True, f"grant:{grant.label}", grant=grant)
    visible = any(Activity.META_VISIBLE in expand(g.activities) for g in live)
    for grant in sorted(applicable, key=lambda g: g.label):
        if grant.expired(now) and activity in expand(grant.activities):
            return Decision(False, f"expired-grant:{grant.label}", visible=visible)
    return Decision(False, "no-grant", visible=visible)


def held_activities(
    principal: Principal, owner_org: str, grants: Iterable[Grant], now: datetime
) -> frozenset[Activity]:
    """Everything the principal may do on the dataset right now (expanded)."""
    if principal.anonymous:
        return frozenset()
    if principal.is_admin or owner_org in principal.organisations:
        return ALL_ACTIVITIES
    held: set[Activity] = set()
    for grant in grants:
        if grant.applies_to(principal) and not grant.expired(now):
            held |= expand(grant.activities)
    return frozenset(held)


def decide_grant(
    principal: Principal,
    requested: frozenset[Activity],
    owner_org: str,
    grants: Iterable[Grant],
    now: datetime,
) -> Decision:
    """May the principal give `requested` to someone else? Sharers cannot give more than they hold."""
    grants = list(grants)
    base = decide(principal, Activity.SHARE, owner_org, grants, now)
    if not base.allowed or base.grant is None:
        return base
    missing = expand(requested) - held_activities(principal, owner_org, grants, now)
    if missing:
        return Decision(False, "share-exceeds-own:" + ",".join(_sorted(missing)))
    return base


def held_until(
    principal: Principal, activities: frozenset[Activity], grants: Iterable[Grant], now: datetime
) -> datetime | None:
    """Until when the principal holds every one of `activities` through live grants (None: no end).

    Each activity lasts as long as the longest-lived grant giving it; all of them, as long as the
    shortest of those. Call only when they are all held now.
    """
    live = [g for g in grants if g.applies_to(principal) and not g.expired(now)]
    bound = _FOREVER
    for activity in activities:
        ends = [g.expires_at or _FOREVER for g in live if activity in expand(g.activities)]
        bound = min(bound, max(ends, default=now))
    return None if bound == _FOREVER else bound


def decide_share(
    principal: Principal,
    requested: frozenset[Activity],
    expires_at: datetime | None,
    owner_org: str,
    grants: Iterable[Grant],
    now: datetime,
    *,
    replacing: Grant | None = None,
) -> Decision:
    """May the principal give `requested` until `expires_at` (None: no end), replacing `replacing`
    (the grantee's current grant, if any)? Owners and admins may; a sharer only within what they hold,
    for no longer than they hold it (and the right to share), and not over a grant someone else made."""
    grants = list(grants)
    base = decide_grant(principal, requested, owner_org, grants, now)
    if not base.allowed or base.grant is None:
        return base
    if replacing is not None and replacing.granted_by != principal.sub:
        return Decision(False, "not-granted-by-caller")
    own_end = held_until(principal, expand(requested) | {Activity.SHARE}, grants, now)
    if own_end is not None and expires_at is None:
        return Decision(False, "share-expiry-required")
    if own_end is not None and expires_at is not None and expires_at > own_end:
        return Decision(False, "share-outlives-own")
    return base


def decide_revoke(
    principal: Principal, grant: Grant, owner_org: str, grants: Iterable[Grant], now: datetime
) -> Decision:
    """Owners and admins may revoke any grant; a sharer only grants they made while they may still share."""
    base = decide(principal, Activity.SHARE, owner_org, grants, now)
    if not base.allowed or base.grant is None:
        return base
    if grant.granted_by != principal.sub:
        return Decision(False, "not-granted-by-caller")
    return base


def access_summary(owner_org: str, grants: Iterable[Grant], now: datetime) -> list[AccessEntry]:
    """Who can do what on the dataset, and through which grant (expired grants listed, marked)."""
    entries = [
        AccessEntry("group", owner_org, _sorted(ALL_ACTIVITIES), via="owner"),
        AccessEntry("group", ADMIN_GROUP, _sorted(ALL_ACTIVITIES), via="admin"),
    ]
    for grant in sorted(grants, key=lambda g: g.label):
        expired = grant.expired(now)
        entries.append(
            AccessEntry(
                grant.grantee_type.value,
                grant.grantee,
                () if expired else _sorted(expand(grant.activities)),
                via=f"grant:{grant.label}",
                purpose=grant.purpose,
                expires_at=grant.expires_at,
                expired=expired,
                notes=(
                    ("metadata only: the data itself is not shared",)
                    if Activity.META_READ in expand(grant.activities)
                    and Activity.FILE_READ not in expand(grant.activities)
                    else ()
                ),
            )
        )
    return entries
