"""Who is asking, what they may do to a dataset, and the grants that say so.

Pure data: no AWS, no HTTP. The API turns Cognito claims into a `Principal`; the policy in
`witan.access.policy` turns a principal, an activity, the dataset's owner and its grants into a `Decision`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from witan.settings import ADMIN_GROUP

ORG_PREFIX = "org-"


class Activity(StrEnum):
    """What a caller may do with one dataset. Implications are in `IMPLIES`."""

    META_VISIBLE = "meta-visible"  # the dataset appears in listings (id, title, owner): it exists
    META_READ = "meta-read"  # full metadata, history, but not the data itself
    META_UPDATE = "meta-update"  # edit metadata, add file versions
    FILE_READ = "file-read"  # download the data (presigned GET)
    SHARE = "share"  # grant to others the activities one holds oneself


# A grant of the key activity also allows these. meta-read without file-read shares that the data
# exists and what it is, without the data; file-read brings the metadata with it (you cannot use data
# you may not describe).
IMPLIES: dict[Activity, frozenset[Activity]] = {
    Activity.META_VISIBLE: frozenset({Activity.META_VISIBLE}),
    Activity.META_READ: frozenset({Activity.META_READ, Activity.META_VISIBLE}),
    Activity.META_UPDATE: frozenset({Activity.META_UPDATE, Activity.META_READ, Activity.META_VISIBLE}),
    Activity.FILE_READ: frozenset({Activity.FILE_READ, Activity.META_READ, Activity.META_VISIBLE}),
    Activity.SHARE: frozenset({Activity.SHARE, Activity.META_VISIBLE}),
}
ALL_ACTIVITIES: frozenset[Activity] = frozenset(Activity)


def expand(activities: frozenset[Activity] | set[Activity]) -> frozenset[Activity]:
    """Activities plus everything they imply."""
    out: set[Activity] = set()
    for activity in activities:
        out |= IMPLIES[activity]
    return frozenset(out)


class GranteeType(StrEnum):
    USER = "user"  # a Cognito sub
    GROUP = "group"  # a Cognito group, e.g. an organisation "org-camden"


_GROUP_SPLIT = re.compile(r"[\s,]+")


def claim_true(raw: object) -> bool:
    """A boolean claim as the authorizer passes it: "true" (Cognito), True, or "True"."""
    return raw is True or (isinstance(raw, str) and raw.strip().lower() == "true")


def parse_groups(raw: object) -> tuple[str, ...]:
    """Cognito groups as the authorizer passes them: "[org-a admin]", "org-a,admin" or a list."""
    if raw is None:
        return ()
    if isinstance(raw, (list, tuple)):
        items = [str(item) for item in raw]
    else:
        items = _GROUP_SPLIT.split(str(raw).strip().strip("[]"))
    return tuple(sorted({item.strip().strip("[]\"'") for item in items} - {""}))


@dataclass(frozen=True)
class Principal:
    """The caller. `sub` is None for a request without claims (anonymous).

    `email` is the token's claim as given; `email_verified` says whether the token vouches for it. Match
    people by `sub`; use the email to find someone only when it is verified (`verified_email`).
    """

    sub: str | None
    email: str | None = None
    groups: tuple[str, ...] = ()
    email_verified: bool = False

    @property
    def verified_email(self) -> str | None:
        return self.email if self.email_verified else None

    @property
    def anonymous(self) -> bool:
        return not self.sub

    @cached_property  # asked for every dataset in a listing
    def organisations(self) -> tuple[str, ...]:
        return tuple(g for g in self.groups if g.startswith(ORG_PREFIX))

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


@dataclass(frozen=True)
class Purpose:
    """Why access was granted or asked for: a short code (e.g. "send-planning") and a sentence."""

    code: str
    text: str = ""


@dataclass(frozen=True)
class Grant:
    """Activities on one dataset given to a user or group, by whom, why and until when."""

    dataset_id: str
    grantee_type: GranteeType
    grantee: str
    activities: frozenset[Activity]
    granted_by: str
    granted_at: datetime
    purpose: Purpose | None = None
    expires_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.grantee_type.value}:{self.grantee}"

    def plain(self) -> dict[str, Any]:
        """The grant as JSON values (what the grants table stores and the API shows)."""
        return {
            "dataset_id": self.dataset_id,
            "grantee_type": self.grantee_type.value,
            "grantee": self.grantee,
            "activities": sorted(a.value for a in self.activities),
            "granted_by": self.granted_by,
            "granted_at": self.granted_at.isoformat(),
            "purpose": None if (p := self.purpose) is None else {"code": p.code, "text": p.text},
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def applies_to(self, principal: Principal) -> bool:
        if principal.anonymous:
            return False
        if self.grantee_type is GranteeType.USER:
            return self.grantee == principal.sub
        return self.grantee in principal.groups


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one (principal, activity, dataset), with the reason audited."""

    allowed: bool
    reason: str  # e.g. "owner:org-camden", "grant:user:abc", "admin", "no-grant", "anonymous"
    grant: Grant | None = None  # the grant that allowed it, when one did
    visible: bool = True  # False: the caller may not even know the dataset exists (answer 404, not 403)


@dataclass(frozen=True)
class AccessEntry:
    """One line of "who can do what": a grantee, its activities (expanded) and where they come from."""

    grantee_type: str
    grantee: str
    activities: tuple[str, ...]
    via: str
    purpose: Purpose | None = None
    expires_at: datetime | None = None
    expired: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
