"""Reminder schedule and digest content."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from cr_items import meta, sample, submission
from witan.collect.requests.reminders import ReminderPolicy, digest_changes, group_by_requester, reminders_due
from witan.collect.requests.tracking import compute_tracking

DUE = date(2026, 12, 1)


def days_reminded(policy: ReminderPolicy, start: int = -10, end: int = 20) -> list[int]:
    return [d for d in range(start, end) if policy.due_today(DUE + timedelta(days=d), DUE)]


def test_default_schedule() -> None:
    assert days_reminded(ReminderPolicy()) == [-3, 0, 2, 4, 6, 8, 10, 12, 14]


def test_configurable_schedule() -> None:
    policy = ReminderPolicy(days_before=(7, 1), on_due_day=False, every_days_after=3, max_days_after=9)
    assert days_reminded(policy) == [-7, -1, 3, 6, 9]
    assert days_reminded(ReminderPolicy(every_days_after=0)) == [-3, 0]


def test_who_is_reminded() -> None:
    tracking = compute_tracking(sample())
    due_day = reminders_due(tracking, DUE)
    # s3 is valid (never reminded); s4's only link is revoked
    assert sorted(r.submission_id for r in due_day) == ["s1", "s2"]
    assert reminders_due(tracking, DUE + timedelta(days=1)) == []  # not a reminder day


def test_at_most_once_a_day() -> None:
    items = [meta(), submission("s1", "a@x.example", last_reminded_on="2026-12-01")]
    tracking = compute_tracking(items)
    assert reminders_due(tracking, DUE) == []
    assert [r.submission_id for r in reminders_due(tracking, DUE + timedelta(days=2))] == ["s1"]


def test_not_on_invitation_day_nor_when_closed() -> None:
    fresh = [meta(), submission("s1", "a@x.example", invited_at="2026-11-28T15:00:00+00:00")]
    assert reminders_due(compute_tracking(fresh), date(2026, 11, 28)) == []
    closed = [meta(status="closed"), submission("s1", "a@x.example")]
    assert reminders_due(compute_tracking(closed), DUE) == []


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (None, [("b@x.example", "opened"), ("Cat", "valid"), ("d@x.example", "invalid")]),
        ("2026-11-23T12:00:00+00:00", [("d@x.example", "invalid")]),
        ("2026-11-30T00:00:00+00:00", None),
    ],
)
def test_digest_changes_since_last(since: str | None, expected: list[tuple[str, str]] | None) -> None:
    items = sample()
    if since:
        items[0] = meta(last_digest_at=since)
    out = digest_changes([compute_tracking(items)])
    if expected is None:
        assert out == []
        return
    assert [(line.who, line.event) for line in out[0].lines] == expected
    assert out[0].totals["recipients"] == 4


def test_group_by_requester() -> None:
    a = compute_tracking([meta(requester_email="Rita@council.example")])
    b = compute_tracking([meta(request_id="r2", requester_email="rita@council.example")])
    c = compute_tracking([meta(request_id="r3", requester_email="sam@council.example")])
    groups = group_by_requester([a, b, c])
    assert {k: len(v) for k, v in groups.items()} == {"rita@council.example": 2, "sam@council.example": 1}
