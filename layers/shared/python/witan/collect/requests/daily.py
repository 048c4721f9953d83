"""The daily Collect+Share run (the EventBridge schedule): reminders, then the requesters' digests, as of
the scheduled moment, recorded as one audit event (counts only: no path, no token)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from witan.audit.records import AuditEvent, AuditTrail
from witan.collect.requests.service import CollectRequestService, RunResult

ACTION = "collect.reminders.run"


def scheduled_moment(event: Mapping[str, Any]) -> datetime | None:
    """EventBridge's `time` (the scheduled moment), so a run can be replayed for a given day."""
    raw = event.get("time")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _counts(run: RunResult) -> dict[str, int]:
    return {"sent": len(run.sent), "failed": len(run.failed), "skipped": run.skipped}


def run_daily(service: CollectRequestService, audit: AuditTrail, event: Mapping[str, Any]) -> dict[str, Any]:
    """Send today's reminders and digests; record what happened; return the counts."""
    moment = scheduled_moment(event)
    if moment is not None:
        service.clock = lambda: moment
    reminders = service.run_reminders()
    digests = service.run_digests()
    result = {"reminders": _counts(reminders), "digests": _counts(digests)}
    resources = event.get("resources")
    audit.record(
        AuditEvent(
            action=ACTION,
            decision="allow" if not (reminders.failed or digests.failed) else "error",
            reason="schedule",
            status=0,
            resource=str(resources[0]) if isinstance(resources, list) and resources else "schedule",
            request_id=str(event.get("id") or ""),
            detail={"time": event.get("time"), **result},
        )
    )
    return result
