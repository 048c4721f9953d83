"""What one request did, collected while it runs and recorded as exactly one audit event at the end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from witan.access.records import Principal
from witan.audit.records import AuditEvent


@dataclass(eq=False)  # compared by identity: field-wise __eq__ has no use and costs at import
class RequestRecord:
    """The request's audit facts, filled in by the app and the routes as it runs."""

    principal: Principal
    method: str
    path: str
    request_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    action: str = "api.request"
    resource: str | None = None
    decision: str | None = None  # set by the policy guard; otherwise derived from the status
    reason: str | None = None
    purpose: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    recorded_id: str | None = None  # set once the event is written (write-ahead for mutations)

    @classmethod
    def from_event(cls, event: Mapping[str, Any], principal: Principal) -> RequestRecord:
        context = event.get("requestContext") or {}
        identity = context.get("identity") or {}
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        return cls(
            principal=principal,
            method=str(event.get("httpMethod") or "").upper(),
            path=str(event.get("path") or ""),
            request_id=context.get("requestId"),
            source_ip=identity.get("sourceIp"),
            user_agent=identity.get("userAgent") or headers.get("user-agent"),
        )

    def allow(self, reason: str) -> None:
        self.decision, self.reason = "allow", reason

    def deny(self, reason: str) -> None:
        self.decision, self.reason = "deny", reason

    def to_event(self, status: int, code: str | None = None) -> AuditEvent:
        decision = self.decision
        if status >= 500:
            decision = "error"
        elif decision is None or (decision == "allow" and status >= 400):
            decision = "allow" if status < 400 else "deny"
        reason = self.reason or ""
        if status >= 400 and code and code not in reason:
            reason = f"{reason}; {code}" if reason else code
        detail = {"method": self.method, "path": self.path, **self.detail}
        return AuditEvent(
            action=self.action,
            decision=decision,
            reason=reason,
            status=status,
            actor_sub=self.principal.sub,
            # Only an address the token vouches for: reports and exports find people by it.
            actor_email=self.principal.verified_email,
            actor_groups=self.principal.groups,
            resource=self.resource,
            purpose=self.purpose,
            request_id=self.request_id,
            source_ip=self.source_ip,
            user_agent=self.user_agent,
            detail=detail,
        )
