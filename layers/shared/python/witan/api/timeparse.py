"""ISO 8601 times from query strings and bodies: offset required, so no time is ambiguous."""

from __future__ import annotations

from datetime import datetime


def parse_time(text: str) -> datetime:
    """Parse `2026-01-31T00:00:00Z` or `...+01:00`; a date-time without an offset is refused."""
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (add Z or +00:00)")
    return moment
