"""Requests that API Gateway refused before the function ran, read from its access log, as audit events.

A Cognito authorizer's 401, an unknown route's 403, a throttled 429 or a request-validator 400 never
reach access_api, yet every request must leave one audit event. The stage writes one access-log record
per request in ACCESS_LOG_FORMAT (infra/api.py uses it; so does the local gateway); a subscription on
that log group delivers the records in which no integration ran, and access_api turns each into one
`api.gateway-refused` event. Records where the integration ran are skipped here too, whatever the
filter let through: those requests were audited by the function itself.

Exactly once: a delivery is retried as a whole when a write fails part-way (asynchronous invoke), so
each event names the refused request as its resource (`api-request/{requestId}`) and is written only
if the audit trail has none for it yet (the retry comes a minute or more later, so the index has it).

The format holds the resource path (e.g. `/collect/{proxy+}`), never the request path: partner paths
carry capability tokens, and access logs must not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from witan.audit.query import AuditReader
from witan.audit.records import AuditEvent, AuditTrail

GATEWAY_REFUSED_ACTION = "api.gateway-refused"
REQUEST_RESOURCE_PREFIX = "api-request/"
BY_RESOURCE_INDEX = "by-resource"
# API Gateway writes "-" for a variable that has no value in this request.
NO_VALUE = "-"
# Field name -> $context variable. One JSON object per request.
ACCESS_LOG_FIELDS: dict[str, str] = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "user": "$context.identity.user",
    "errorResponseType": "$context.error.responseType",
    "errorMessage": "$context.error.message",
    # The Lambda service's status for the invoke; "-" when no integration ran (the request was refused).
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))
# CloudWatch Logs filter pattern for the subscription: only requests in which no integration ran.
REFUSED_FILTER_PATTERN = '{ $.integrationStatus = "-" }'


@dataclass(frozen=True)
class RefusalBatch:
    """What one delivery of access-log records held."""

    events: list[AuditEvent]
    skipped_integrated: int  # the function ran and audited these itself
    unreadable: int  # not one of our JSON records (logged by the caller, never dropped silently)


def _value(record: Mapping[str, Any], name: str) -> str | None:
    raw = record.get(name)
    if raw is None:
        return None
    text = str(raw)
    return None if text in ("", NO_VALUE) else text


def _status(record: Mapping[str, Any]) -> int:
    try:
        return int(str(record.get("status")))
    except ValueError:
        return 0


def refusal_event(record: Mapping[str, Any], log_event_id: str | None = None) -> AuditEvent:
    """One refused request's access-log record as its audit event (anonymous: no claims were accepted)."""
    response_type = _value(record, "errorResponseType") or "UNKNOWN"
    method = _value(record, "httpMethod") or ""
    path = _value(record, "resourcePath") or ""
    detail: dict[str, Any] = {
        "method": method,
        "path": path,
        "error": response_type.lower().replace("_", "-"),
    }
    for field, key in (("errorMessage", "message"), ("requestTime", "request_time")):
        value = _value(record, field)
        if value is not None:
            detail[key] = value
    if log_event_id:
        detail["log_event_id"] = log_event_id
    request_id = _value(record, "requestId")
    return AuditEvent(
        action=GATEWAY_REFUSED_ACTION,
        decision="deny",
        reason=f"gateway:{response_type}",
        status=_status(record),
        resource=f"{REQUEST_RESOURCE_PREFIX}{request_id}" if request_id else None,
        request_id=request_id,
        source_ip=_value(record, "ip"),
        user_agent=_value(record, "userAgent"),
        detail=detail,
    )


def refused_requests(log_events: Iterable[tuple[str | None, str]]) -> RefusalBatch:
    """(log event id, message) pairs from the access log -> one audit event per refused request."""
    events: list[AuditEvent] = []
    integrated = unreadable = 0
    for event_id, message in log_events:
        try:
            record = json.loads(message)
        except ValueError:
            unreadable += 1
            continue
        if not isinstance(record, dict) or "integrationStatus" not in record:
            unreadable += 1
            continue
        if _value(record, "integrationStatus") is not None:
            integrated += 1
            continue
        events.append(refusal_event(record, event_id))
    return RefusalBatch(events=events, skipped_integrated=integrated, unreadable=unreadable)


def already_recorded(reader: AuditReader, event: AuditEvent) -> bool:
    """Whether the trail already holds an event for this refused request (a retried delivery)."""
    if event.resource is None:
        return False
    page = reader.query_index(
        BY_RESOURCE_INDEX, event.resource, since=None, until=None, filters={}, limit=1, start_key=None
    )
    return bool(page.items)


def record_refusals(batch: RefusalBatch, audit: AuditTrail, reader: AuditReader) -> int:
    """Record each refusal not yet in the trail; the number written. AuditWriteError propagates, so
    that the delivery is retried."""
    written = 0
    for event in batch.events:
        if not already_recorded(reader, event):
            audit.record(event)
            written += 1
    return written
