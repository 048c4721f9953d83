"""Who gets a reminder today, and what goes into the requester's daily digest. Pure functions.

The schedule is relative to the due date: some days before it, on the day, then every few days
after until the request is closed or the link expires. A recipient whose latest upload is valid is
never reminded, nor one reminded already today (`last_reminded_on`; the store also makes that write
conditional, so two runs on one day send one reminder), nor one invited today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from witan.collect.requests.tracking import RecipientTracking, RequestTracking


@dataclass(frozen=True)
class ReminderPolicy:
    days_before: tuple[int, ...] = (3,)  # reminders this many days before the due date
    on_due_day: bool = True
    every_days_after: int = 2  # 0 = no reminders after the due date
    max_days_after: int = 14  # stop after this many days (links expire after the grace period)

    def due_today(self, today: date, due_date: date) -> bool:
        offset = (today - due_date).days
        if offset < 0:
            return -offset in self.days_before
        if offset == 0:
            return self.on_due_day
        return (
            self.every_days_after > 0
            and offset <= self.max_days_after
            and offset % self.every_days_after == 0
        )


def reminders_due(
    tracking: RequestTracking, today: date, policy: ReminderPolicy | None = None
) -> list[RecipientTracking]:
    """Recipients of an open request to remind today."""
    policy = policy or ReminderPolicy()
    if not tracking.request.accepts_uploads or not tracking.request.due_date:
        return []
    if not policy.due_today(today, date.fromisoformat(tracking.request.due_date)):
        return []
    day = today.isoformat()
    return [
        r
        for r in tracking.recipients
        if not r.valid
        and not r.link_revoked
        and r.last_reminded_on != day
        and not (r.invited_at or "").startswith(day)
    ]


@dataclass(frozen=True)
class DigestLine:
    request_id: str
    title: str
    who: str  # recipient name or email
    organisation: str
    event: str  # opened | valid | invalid | unusable | checking
    at: str
    error_count: int | None = None


@dataclass(frozen=True)
class DigestRequest:
    request_id: str
    title: str
    due_date: str
    totals: dict[str, int]
    lines: tuple[DigestLine, ...]


def digest_changes(trackings: Iterable[RequestTracking]) -> list[DigestRequest]:
    """Per request, what recipients did since its last digest (`last_digest_at`; absent = ever).
    Requests with nothing new are left out, so an empty result means no digest is sent."""
    out: list[DigestRequest] = []
    for t in trackings:
        since = t.request.last_digest_at
        title = t.request.title
        lines: list[DigestLine] = []
        for r in t.recipients:
            who = r.name or r.email
            if r.opened_at and (since is None or r.opened_at > since) and not r.submitted:
                lines.append(DigestLine(t.request_id, title, who, r.organisation, "opened", r.opened_at))
            if r.submitted and r.status_at and (since is None or r.status_at > since):
                lines.append(
                    DigestLine(t.request_id, title, who, r.organisation, r.state, r.status_at, r.error_count)
                )
        if lines:
            lines.sort(key=lambda line: line.at)
            out.append(DigestRequest(t.request_id, title, t.request.due_date, t.totals, tuple(lines)))
    return out


def group_by_requester(trackings: Sequence[RequestTracking]) -> dict[str, list[RequestTracking]]:
    """Open requests grouped by requester email (one digest per person, not per request)."""
    groups: dict[str, list[RequestTracking]] = {}
    for t in trackings:
        groups.setdefault(t.request.requester_email.lower(), []).append(t)
    groups.pop("", None)
    return groups
