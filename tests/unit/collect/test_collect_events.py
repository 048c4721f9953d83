"""S3 notifications in SQS bodies -> UploadRefs; key layout, URL decoding, version keys, statuses."""

from __future__ import annotations

import json

import pytest
from witan.collect.records import BadUploadKey, UploadRef, UploadStatus, status_for
from witan.collect.uploads.events import BadNotification, uploads_from_body


def _body(key: str, event: str = "ObjectCreated:Put", version: str | None = "v1") -> str:
    obj = {"key": key, "size": 12, "eTag": "abc", "sequencer": "0055AED6DCD90281E5"}
    if version:
        obj["versionId"] = version
    record = {
        "eventName": event,
        "eventTime": "2026-01-01T00:00:00.000Z",
        "s3": {"bucket": {"name": "b"}, "object": obj},
    }
    return json.dumps({"Records": [record]})


def test_key_is_url_decoded_and_split() -> None:
    [upload] = uploads_from_body(_body("uploads/r-1/s-2/My+Pupils+%282026%29.csv"))
    assert (upload.request_id, upload.submission_id, upload.file_name) == (
        "r-1",
        "s-2",
        "My Pupils (2026).csv",
    )
    assert upload.key == "uploads/r-1/s-2/My Pupils (2026).csv"
    assert (upload.bucket, upload.size, upload.version_id, upload.version_key) == ("b", 12, "v1", "v1")


def test_unversioned_upload_uses_the_sequencer() -> None:
    [upload] = uploads_from_body(_body("uploads/r/s/f.csv", version=None))
    assert upload.version_key == "seq-0055AED6DCD90281E5"


def test_test_event_and_other_events_are_ignored() -> None:
    assert uploads_from_body(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []
    assert uploads_from_body(_body("uploads/r/s/f.csv", event="ObjectRemoved:Delete")) == []


@pytest.mark.parametrize(
    "key", ["other/r/s/f.csv", "uploads/r/f.csv", "uploads/r//f.csv", "uploads/r#x/s/f.csv"]
)
def test_bad_keys_are_rejected(key: str) -> None:
    with pytest.raises(BadUploadKey):
        uploads_from_body(_body(key))


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1]",
        json.dumps({"foo": 1}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}),
    ],
)
def test_bad_bodies_are_rejected(body: str) -> None:
    with pytest.raises(BadNotification):
        uploads_from_body(body)


def test_nested_file_names_are_kept() -> None:
    assert UploadRef.parse_key("uploads/r/s/folder/f.xlsx") == ("r", "s", "folder/f.xlsx")


def test_status_for_counts() -> None:
    assert status_for({}) is UploadStatus.VALID
    assert status_for({"type-error": 3}) is UploadStatus.INVALID
    assert status_for({"type-error": 3, "file-too-large": 1}) is UploadStatus.UNUSABLE
