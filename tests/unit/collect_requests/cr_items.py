"""Records of one small request, as the request store returns them (shared by the unit tests)."""

from __future__ import annotations

from typing import Any

from witan.collect.records import CheckRecord, UploadStatus
from witan.collect.requests.records import RequestPart, RequestRecord, SubmissionRecord, TokenRecord


def meta(**extra: Any) -> RequestRecord:
    fields: dict[str, Any] = {
        "request_id": "r1",
        "title": "School <census>",
        "schema": "pupils",
        "requester_email": "rita@council.example",
        "requester_name": "Rita",
        "due_date": "2026-12-01",
        "status": "open",
    }
    return RequestRecord(**(fields | extra))


def submission(sid: str, email: str, **extra: Any) -> SubmissionRecord:
    fields: dict[str, Any] = {
        "request_id": "r1",
        "submission_id": sid,
        "uploader_email": email,
        "status": "awaiting-upload",
        "invited_at": "2026-11-20T09:00:00+00:00",
    }
    return SubmissionRecord(**(fields | extra))


def check(sid: str, version: str, status: str, started: str, **extra: Any) -> CheckRecord:
    fields: dict[str, Any] = {
        "request_id": "r1",
        "submission_id": sid,
        "version_key": version,
        "status": UploadStatus(status),
        "object_key": f"uploads/r1/{sid}/data.csv",
        "file_name": "data.csv",
        "started_at": started,
        "checked_at": started,
    }
    return CheckRecord(**(fields | extra))


def token(sid: str, h: str, **extra: Any) -> TokenRecord:
    fields: dict[str, Any] = {
        "request_id": "r1",
        "submission_id": sid,
        "token_hash": h,
        "token_expires_at": 1_900_000_000,
    }
    return TokenRecord(**(fields | extra))


def sample() -> list[RequestPart]:
    """s1 invited only; s2 opened; s3 valid after an invalid upload; s4 invalid (3 errors)."""
    return [
        meta(),
        submission("s1", "a@x.example"),
        submission("s2", "b@x.example", opened_at="2026-11-21T10:00:00+00:00"),
        submission(
            "s3",
            "c@x.example",
            uploader_name="Cat",
            opened_at="2026-11-21T11:00:00+00:00",
            status="valid",
            status_at="2026-11-23T08:00:05+00:00",
            latest_version="v2",
            rows=10,
            error_count=0,
            counts={},
        ),
        check("s3", "v1", "invalid", "2026-11-22T08:00:00+00:00", error_count=2),
        check("s3", "v2", "valid", "2026-11-23T08:00:00+00:00", error_count=0),
        submission(
            "s4",
            "d@x.example",
            status="invalid",
            status_at="2026-11-24T09:00:05+00:00",
            latest_version="v9",
            rows=5,
            error_count=3,
            counts={"type-error": 2, "constraint-error": 1},
        ),
        check("s4", "v9", "invalid", "2026-11-24T09:00:00+00:00", error_count=3),
        token("s1", "h1"),
        token("s2", "h2a", revoked_at="2026-11-22T00:00:00+00:00"),
        token("s2", "h2b"),
        token("s4", "h4", revoked_at="2026-11-22T00:00:00+00:00"),
    ]
