"""Tracking names the dataset versions valid uploads became: per recipient (their latest upload's and
all of theirs) and for the whole request, from the check items the validator stores."""

from __future__ import annotations

from cr_items import check, meta, submission
from witan.collect.requests.records import RequestPart
from witan.collect.requests.tracking import compute_tracking

DATASET = "d" * 32


def items() -> list[RequestPart]:
    return [
        meta(dataset_id=DATASET),
        # s1: a valid upload (version 2), then an invalid one: its latest upload became no version.
        submission("s1", "a@x.example", status="invalid", latest_version="v2"),
        check(
            "s1",
            "v1",
            "valid",
            "2026-11-21T08:00:00+00:00",
            dataset_id=DATASET,
            dataset_version=2,
            file_name="a.csv",
        ),
        check("s1", "v2", "invalid", "2026-11-22T08:00:00+00:00", file_name="a2.csv"),
        # s2: two valid uploads, versions 3 and 4; the latest is 4.
        submission("s2", "b@x.example", status="valid", latest_version="v4"),
        check(
            "s2",
            "v4",
            "valid",
            "2026-11-24T08:00:00+00:00",
            dataset_id=DATASET,
            dataset_version=4,
            file_name="b2.csv",
        ),
        check(
            "s2",
            "v3",
            "valid",
            "2026-11-23T08:00:00+00:00",
            dataset_id=DATASET,
            dataset_version=3,
            file_name="b.csv",
        ),
        # s3: valid but kept under curated/ only (no destination): no version.
        submission("s3", "c@x.example", status="valid", latest_version="v5"),
        check("s3", "v5", "valid", "2026-11-24T09:00:00+00:00", file_name="c.csv"),
    ]


def test_each_recipient_says_which_versions_their_uploads_became() -> None:
    out = compute_tracking(items()).to_dict()
    rows = {r["submission_id"]: r for r in out["recipients"]}
    assert (rows["s1"]["dataset_id"], rows["s1"]["dataset_versions"]) == (DATASET, [2])
    assert "dataset_version" not in rows["s1"]  # the latest upload was invalid
    assert (rows["s2"]["dataset_version"], rows["s2"]["dataset_versions"]) == (4, [3, 4])
    assert rows["s3"]["dataset_versions"] == [] and "dataset_id" not in rows["s3"]


def test_the_request_lists_every_version_oldest_first() -> None:
    versions = compute_tracking(items()).to_dict()["dataset_versions"]
    assert [(v["version"], v["submission_id"], v["file_name"]) for v in versions] == [
        (2, "s1", "a.csv"),
        (3, "s2", "b.csv"),
        (4, "s2", "b2.csv"),
    ]
    assert {v["dataset_id"] for v in versions} == {DATASET}
    assert versions[0]["checked_at"] == "2026-11-21T08:00:00+00:00"


def test_a_request_without_versions_says_so() -> None:
    out = compute_tracking([meta(), submission("s1", "a@x.example")]).to_dict()
    assert out["dataset_versions"] == [] and out["recipients"][0]["dataset_versions"] == []
