"""Access-log records of requests API Gateway refused -> one audit event each (witan.api.gateway_log)."""

from __future__ import annotations

import json
import re
from typing import Any

from witan.api.gateway_log import (
    ACCESS_LOG_FIELDS,
    ACCESS_LOG_FORMAT,
    GATEWAY_REFUSED_ACTION,
    REFUSED_FILTER_PATTERN,
    refused_requests,
)


def record(**values: str) -> str:
    """A record as API Gateway renders ACCESS_LOG_FORMAT: every variable "-" unless given."""
    fields = {name: values.get(name, "-") for name in ACCESS_LOG_FIELDS}
    return json.dumps(fields)


REFUSED = record(
    requestId="r-401",
    requestTime="26/Nov/2026:01:00:00 +0000",
    httpMethod="GET",
    resourcePath="/{proxy+}",
    status="401",
    ip="198.51.100.7",
    userAgent='curl/8.0 "quoted"',
    errorResponseType="UNAUTHORIZED",
    errorMessage="Unauthorized",
)
SERVED = record(requestId="r-200", httpMethod="GET", status="200", integrationStatus="200")


def test_a_refused_request_becomes_one_anonymous_deny_event() -> None:
    batch = refused_requests([("e1", REFUSED)])
    (event,) = batch.events
    assert (event.action, event.decision, event.status) == (GATEWAY_REFUSED_ACTION, "deny", 401)
    assert event.reason == "gateway:UNAUTHORIZED"
    assert (event.request_id, event.source_ip, event.user_agent) == (
        "r-401",
        "198.51.100.7",
        'curl/8.0 "quoted"',
    )
    assert event.actor_sub is None and event.actor_groups == ()
    assert event.resource == "api-request/r-401"  # what a retried delivery is checked against
    assert event.detail == {
        "method": "GET",
        "path": "/{proxy+}",
        "error": "unauthorized",
        "message": "Unauthorized",
        "request_time": "26/Nov/2026:01:00:00 +0000",
        "log_event_id": "e1",
    }


def test_requests_the_function_served_are_skipped_as_it_audited_them() -> None:
    batch = refused_requests([("e1", SERVED), ("e2", REFUSED), ("e3", SERVED)])
    assert [e.request_id for e in batch.events] == ["r-401"]
    assert batch.skipped_integrated == 2
    assert batch.unreadable == 0


def test_records_not_in_the_format_are_counted_not_dropped_silently() -> None:
    batch = refused_requests([("e1", "not json"), ("e2", json.dumps({"status": "401"})), ("e3", "[1]")])
    assert batch.events == []
    assert batch.unreadable == 3


def test_a_throttled_request_keeps_its_own_status_and_type() -> None:
    (event,) = refused_requests([(None, record(status="429", errorResponseType="THROTTLED"))]).events
    assert (event.status, event.reason, event.detail["error"]) == (429, "gateway:THROTTLED", "throttled")
    assert "log_event_id" not in event.detail


def test_the_format_is_one_json_object_without_the_request_path() -> None:
    """The path of a partner link holds its capability token; the resource path does not."""
    parsed: dict[str, Any] = json.loads(ACCESS_LOG_FORMAT)
    assert parsed == ACCESS_LOG_FIELDS
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", ACCESS_LOG_FORMAT))
    assert "$context.path" not in variables and "$context.resourcePath" in variables
    assert "$context.requestId" in variables  # API Gateway requires it (or extendedRequestId)
    assert "integrationStatus" in REFUSED_FILTER_PATTERN
