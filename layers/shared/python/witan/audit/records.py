"""Audit events and the port through which they are recorded.

Every API request, allowed or denied, records exactly one event; if recording fails the request
fails (fail closed). Implementations must be append-only and tamper-evident (hash chain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from witan.errors import AuditUnavailableError


class AuditWriteError(AuditUnavailableError):
    """The event could not be recorded; the caller must refuse the request (503)."""


class AuditReadError(AuditUnavailableError):
    """The trail could not be read (missing table, no connection, no permission)."""

    template = "the audit trail cannot be read now"


@dataclass(frozen=True)
class AuditEvent:
    """One audited action: who, what, on which resource, the decision and why."""

    action: str  # e.g. "dataset.download", "dataset.read", "grant.put", "upload.checked"
    decision: str  # "allow" | "deny" | "error"
    reason: str  # why the decision was taken, e.g. "grant:file-read via org-camden"
    status: int  # HTTP status returned (0 for non-HTTP events)
    actor_sub: str | None = None  # Cognito sub, or None for anonymous / partner-token callers
    actor_email: str | None = None
    actor_groups: tuple[str, ...] = ()
    resource: str | None = None  # e.g. "dataset/{id}", "request/{id}"
    purpose: str | None = None
    request_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class AuditTrail(Protocol):
    def record(self, event: AuditEvent) -> str:
        """Append the event; return its id. Raises AuditWriteError when it cannot be recorded."""
        ...
