"""Tracking per recipient from stored items."""

from __future__ import annotations

import pytest
from cr_items import meta, sample, submission
from witan.collect.requests.tracking import compute_tracking


def by_id() -> dict[str, dict[str, object]]:
    return {r["submission_id"]: r for r in compute_tracking(sample()).to_dict()["recipients"]}


def test_states_per_recipient() -> None:
    rows = by_id()
    assert {sid: r["state"] for sid, r in rows.items()} == {
        "s1": "invited",
        "s2": "opened",
        "s3": "valid",
        "s4": "invalid",
    }
    assert rows["s1"]["submitted"] is False and rows["s1"]["uploads"] == 0
    assert rows["s3"]["valid"] is True and rows["s3"]["ever_valid"] is True and rows["s3"]["uploads"] == 2
    assert rows["s3"]["last_submission_at"] == "2026-11-23T08:00:00+00:00"
    assert rows["s4"]["invalid"] is True and rows["s4"]["error_count"] == 3
    assert rows["s4"]["counts"] == {"type-error": 2, "constraint-error": 1}
    assert rows["s4"]["ever_valid"] is False


def test_links_revoked_only_when_all_are() -> None:
    rows = by_id()
    assert rows["s2"]["link_revoked"] is False  # one of two links still live
    assert rows["s4"]["link_revoked"] is True
    assert rows["s1"]["link_expires_at"] == 1_900_000_000


def test_totals() -> None:
    out = compute_tracking(sample()).to_dict()
    assert out["totals"] == {
        "recipients": 4,
        "opened": 3,
        "submitted": 2,
        "valid": 1,
        "invalid": 1,
        "outstanding": 3,
    }
    assert out["status"] == "open" and out["due_date"] == "2026-12-01"


def test_checking_counts_as_submitted_without_check_items() -> None:
    items = [
        meta(),
        submission("s1", "a@x.example", status="checking", status_at="2026-11-24T10:00:00+00:00"),
    ]
    row = compute_tracking(items).to_dict()["recipients"][0]
    assert row["state"] == "checking" and row["submitted"] is True
    assert row["last_submission_at"] == "2026-11-24T10:00:00+00:00"


def test_needs_meta() -> None:
    with pytest.raises(ValueError, match="META"):
        compute_tracking([submission("s1", "a@x.example")])
