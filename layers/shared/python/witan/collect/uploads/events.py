"""Reading S3 event notifications (as delivered in SQS message bodies) into UploadRefs."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from witan.collect.records import UploadRef


class BadNotification(ValueError):
    """A message body that is not an S3 event notification."""


def uploads_from_body(body: str) -> list[UploadRef]:
    """The ObjectCreated uploads in one SQS message body; [] for s3:TestEvent and other events."""
    try:
        message: Any = json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadNotification(f"message body is not JSON: {exc.msg}") from exc
    if not isinstance(message, dict):
        raise BadNotification("message body is not a JSON object")
    if message.get("Event") == "s3:TestEvent":  # sent once when the notification is configured
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise BadNotification("message body has no Records list")
    return [upload_from_record(r) for r in records if str(r.get("eventName", "")).startswith("ObjectCreated")]


def upload_from_record(record: dict[str, Any]) -> UploadRef:
    try:
        s3 = record["s3"]
        bucket = s3["bucket"]["name"]
        obj = s3["object"]
        key = unquote_plus(obj["key"])  # keys arrive URL-encoded ("my+file.csv" is "my file.csv")
    except (KeyError, TypeError) as exc:
        raise BadNotification(f"S3 record lacks {exc}") from exc
    request_id, submission_id, file_name = UploadRef.parse_key(key)
    size = obj.get("size")
    return UploadRef(
        bucket=bucket,
        key=key,
        request_id=request_id,
        submission_id=submission_id,
        file_name=file_name,
        version_id=obj.get("versionId") or None,
        size=int(size) if size is not None else None,
        etag=obj.get("eTag"),
        sequencer=obj.get("sequencer", ""),
        event_time=record.get("eventTime"),
    )
