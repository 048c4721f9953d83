"""Pure parts of collected-data delivery: who may direct a request into a dataset, file names, CSV, order."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from witan.access.records import Activity, Grant, GranteeType, Principal
from witan.api.errors import status_of
from witan.catalog.records import create
from witan.collect.records import CheckRecord, UploadStatus
from witan.collect.requests.partner import submission_history, upload_order
from witan.collect.requests.records import SubmissionRecord
from witan.collect.uploads.deliver import (
    check_destination,
    parquet_to_csv,
    version_file_name,
)
from witan.errors import WitanError

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DATASET, _, _ = create("a" * 32, "org-camden", "sub-o", {"title": "T"}, "x.csv", "text/csv", 1, NOW)
SHARE = [("group", "org-hackney")]


def grant(sub: str, *activities: Activity, expires: datetime | None = None) -> Grant:
    return Grant("a" * 32, GranteeType.USER, sub, frozenset(activities), "sub-o", NOW, expires_at=expires)


def outcome(principal: Principal, grants: list[Grant], share: list[tuple[str, str]] = SHARE) -> str:
    try:
        return check_destination(principal, "a" * 32, DATASET, grants, share, NOW)
    except WitanError as exc:
        return f"{status_of(exc)} {exc.code}"


def test_who_may_collect_into_a_dataset() -> None:
    member = Principal("sub-m", None, ("org-camden",))
    admin = Principal("sub-a", None, ("platform-admin",))
    outsider = Principal("sub-x", None, ("org-x",))
    assert outcome(member, []) == "org-camden"
    assert outcome(admin, []) == "org-camden"
    assert outcome(outsider, []) == "422 unknown-dataset"
    assert outcome(outsider, [grant("sub-x", Activity.FILE_READ)]) == "403 dataset-not-writable"
    assert outcome(outsider, [grant("sub-x", Activity.META_UPDATE)]) == "403 share-not-allowed"
    assert outcome(outsider, [grant("sub-x", Activity.META_UPDATE)], share=[]) == "org-camden"
    # Sharing read access needs share plus the read activities themselves.
    sharer = grant("sub-x", Activity.META_UPDATE, Activity.SHARE)
    assert outcome(outsider, [sharer]) == "403 share-not-allowed"
    full = grant("sub-x", Activity.META_UPDATE, Activity.SHARE, Activity.FILE_READ)
    assert outcome(outsider, [full]) == "org-camden"
    expired = replace(full, expires_at=NOW - timedelta(days=1))
    assert outcome(outsider, [expired]) == "422 unknown-dataset"
    with pytest.raises(WitanError) as info:
        check_destination(member, "b" * 32, None, [], [], NOW)
    assert (info.value.code, "b" * 32 in info.value.message) == ("unknown-dataset", True)
    deleted = replace(DATASET, deleted_at=NOW)
    with pytest.raises(WitanError) as info:
        check_destination(member, "a" * 32, deleted, [], [], NOW)
    assert (status_of(info.value), info.value.code) == (410, "dataset-deleted")


@pytest.mark.parametrize(
    ("upload", "expected"),
    [
        ("pupils 2026.xlsx", "pupils_2026.csv"),
        ("..hidden.csv", "hidden.csv"),
        ("données.csv", "donn_es.csv"),
        ("---.xlsx", "data.csv"),
        ("x" * 300 + ".csv", "x" * 100 + ".csv"),
    ],
)
def test_version_file_names_follow_the_datastore_rule(upload: str, expected: str) -> None:
    assert version_file_name(upload) == expected


def test_parquet_to_csv_keeps_header_types_and_empty_tables(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "when": pa.array([date(2026, 1, 2), None], pa.date32()),
            "note": ["a, b", 'say "hi"'],
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    size = parquet_to_csv(tmp_path / "t.parquet", tmp_path / "t.csv")
    assert size == (tmp_path / "t.csv").stat().st_size
    with (tmp_path / "t.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [["id", "when", "note"], ["1", "2026-01-02", "a, b"], ["2", "", 'say "hi"']]
    pq.write_table(table.slice(0, 0), tmp_path / "e.parquet")
    parquet_to_csv(tmp_path / "e.parquet", tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text().replace('"', "").strip() == "id,when,note"


def test_upload_order_within_one_second() -> None:
    def check(name: str, ms: str | None, sequencer: str = "") -> CheckRecord:
        started = "2026-11-25T09:00:00+00:00" if ms else "2026-11-25T08:59:59+00:00"
        return CheckRecord(
            "r1", "s1", name, UploadStatus.VALID, f"uploads/r1/s1/{name}", name, sequencer=sequencer,
            started_at=started, event_time=f"2026-11-25T09:00:00.{ms}Z" if ms else None,
        )  # fmt: skip

    checks = [check("b", "500"), check("a", "020"), check("d", "900", "02"), check("c", "900", "01")]
    checks.append(check("old", None))  # no event time: its start time stands in
    history = submission_history(SubmissionRecord("r1", "s1", "a@x.example", status="valid"), checks)
    assert [c["file_name"] for c in history["submissions"]] == ["d", "c", "b", "a", "old"]
    assert upload_order(replace(check("x", None), started_at=None, event_time="bad"))[0] == ""
