"""Errors the API answers with: always `{"code": "...", "message": "..."}` and a 4xx/5xx status."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Raised by routes to refuse a request; `code` is machine-readable, `message` is for people."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


# Domain refusal codes (witan.catalog.records.CatalogError) and their HTTP status.
CATALOG_STATUS: dict[str, int] = {
    "conflict": 409,
    "no-change": 422,
    "unknown-field": 422,
    "missing-field": 422,
    "invalid-token": 400,
    "dataset-deleted": 410,
}

AUDIT_UNAVAILABLE = {
    "code": "audit-unavailable",
    "message": "the audit trail is unavailable; try again later",
}
