"""Refused requests from the API access log are recorded once each, even when a delivery is retried
(witan.api.gateway_log.record_refusals on the real audit table in moto)."""

from __future__ import annotations

import json
from typing import Any

from witan.api.gateway_log import ACCESS_LOG_FIELDS, GATEWAY_REFUSED_ACTION, record_refusals, refused_requests
from witan.aws.audit_table import DynamoAuditReader, DynamoAuditTrail, scan_items, verify


def record(request_id: str, status: str = "401", response_type: str = "UNAUTHORIZED") -> str:
    values = {"requestId": request_id, "status": status, "errorResponseType": response_type}
    return json.dumps({name: values.get(name, "-") for name in ACCESS_LOG_FIELDS})


def refusal_events(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return [i for i in scan_items(table, dynamodb) if i.get("action") == GATEWAY_REFUSED_ACTION]


def test_a_retried_delivery_records_nothing_twice(dynamodb: Any, audit_table: str) -> None:
    trail = DynamoAuditTrail(audit_table, dynamodb)
    reader = DynamoAuditReader(audit_table, dynamodb)
    first = refused_requests([("e1", record("r-1")), ("e2", record("r-2", "429", "THROTTLED"))])
    assert record_refusals(first, trail, reader) == 2
    # The same delivery again (Lambda retries it whole), now with one request it had not reached.
    retried = refused_requests(
        [("e1", record("r-1")), ("e2", record("r-2", "429", "THROTTLED")), ("e3", record("r-3"))]
    )
    assert record_refusals(retried, trail, reader) == 1
    events = refusal_events(dynamodb, audit_table)
    assert sorted((e["request_id"], e["resource"], e["status"]) for e in events) == [
        ("r-1", "api-request/r-1", 401),
        ("r-2", "api-request/r-2", 429),
        ("r-3", "api-request/r-3", 401),
    ]
    assert verify(audit_table, dynamodb).ok
