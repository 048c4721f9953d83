"""Reading the audit trail: filtered event pages, a usage report and subject access exports.

Pure functions over an injected `AuditReader` (witan.aws.audit_table.DynamoAuditReader in the
deployment). Errors in the caller's input raise catalogue errors (witan.errors: invalid-time,
invalid-next-token, invalid-limit...), which the API answers with 400.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from witan.audit.chain import decode_event, format_time, parse_time
from witan.errors import (
    ConflictingFiltersError,
    InvalidLimitError,
    InvalidNextTokenError,
    InvalidSubjectError,
    InvalidTimeError,
)

READ_ACTION = "dataset.read"
DOWNLOAD_ACTION = "dataset.download"
USAGE_ACTIONS = (READ_ACTION, DOWNLOAD_ACTION)
MAX_PAGE = 1000
MAX_CALLS_PER_PAGE = 25  # bound the work per API call when filters discard most items
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EVENT_COLUMNS = (
    "id",
    "time",
    "action",
    "decision",
    "reason",
    "status",
    "actor_sub",
    "actor_email",
    "actor_groups",
    "resource",
    "purpose",
    "request_id",
    "source_ip",
    "user_agent",
    "detail",
)


@dataclass
class Page:
    """One page from the store: items (plain values) and the store's opaque continuation key."""

    items: list[dict[str, Any]]
    next_key: Mapping[str, Any] | None = None


class AuditReader(Protocol):
    def query_index(
        self,
        index: str,
        key_value: str,
        *,
        since: str | None,
        until: str | None,
        filters: Mapping[str, str],
        limit: int,
        start_key: Mapping[str, Any] | None,
        newest_first: bool = True,
    ) -> Page: ...

    def query_chains(
        self,
        *,
        since: str | None,
        until: str | None,
        filters: Mapping[str, str],
        any_of: Sequence[tuple[str, str]] = (),
        limit: int,
        start_key: Mapping[str, Any] | None,
    ) -> Page: ...


@dataclass
class EventPage:
    events: list[dict[str, Any]]
    next_token: str | None = None


def _time_bound(value: str | datetime | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        moment = parse_time(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return format_time(moment)
    except (ValueError, TypeError) as exc:
        raise InvalidTimeError(f"{name} must be an ISO 8601 time, got {value!r}") from exc


def _fingerprint(query: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:16]


def encode_token(key: Mapping[str, Any], query: Mapping[str, Any]) -> str:
    payload = json.dumps({"k": key, "q": _fingerprint(query)}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_token(token: str, query: Mapping[str, Any]) -> dict[str, Any]:
    """The store key inside a token; a token from a different query is refused, not misapplied. (The
    store checks the key itself fits the query: witan.aws.audit_table.)"""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key = payload["k"]
        fingerprint = payload["q"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidNextTokenError("next_token is not one this API issued") from exc
    if fingerprint != _fingerprint(query) or not isinstance(key, dict):
        raise InvalidNextTokenError("next_token belongs to a different query")
    return key


def find_events(
    reader: AuditReader,
    *,
    dataset: str | None = None,
    resource: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    limit: int = 50,
    next_token: str | None = None,
) -> EventPage:
    """Events matching the filters, newest first when filtered by actor or resource.

    Uses GSI `by-actor` when an actor is given, else `by-resource` for a dataset/resource, else
    every event chain in turn (ordered by chain, then seq; meant for administrators). `dataset` is
    shorthand for resource `dataset/{id}`.
    """
    if dataset:
        ds_resource = f"dataset/{dataset}"
        if resource and resource != ds_resource:
            raise ConflictingFiltersError()
        resource = ds_resource
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidLimitError(limit=MAX_PAGE)
    start, end = _time_bound(since, "since"), _time_bound(until, "until")
    if start and end and start > end:
        raise InvalidTimeError("since is after until")
    query = {"resource": resource, "actor": actor, "action": action, "since": start, "until": end}
    key: Mapping[str, Any] | None = decode_token(next_token, query) if next_token else None

    filters: dict[str, str] = {}
    if action:
        filters["action"] = action
    if actor:
        if resource:
            filters["resource"] = resource

        def fetch(n: int, k: Mapping[str, Any] | None) -> Page:
            return reader.query_index(
                "by-actor", actor, since=start, until=end, filters=filters, limit=n, start_key=k
            )
    elif resource:

        def fetch(n: int, k: Mapping[str, Any] | None) -> Page:
            return reader.query_index(
                "by-resource", resource, since=start, until=end, filters=filters, limit=n, start_key=k
            )
    else:
        filters["type"] = "event"

        def fetch(n: int, k: Mapping[str, Any] | None) -> Page:
            return reader.query_chains(since=start, until=end, filters=filters, limit=n, start_key=k)

    events: list[dict[str, Any]] = []
    for _ in range(MAX_CALLS_PER_PAGE):
        # Ask for no more than still fits: the store's continuation key then points exactly after
        # the last item we return, so no item is skipped or repeated across pages.
        page = fetch(limit - len(events), key)
        events.extend(decode_event(item) for item in page.items)
        key = page.next_key
        if key is None or len(events) >= limit:
            break
    return EventPage(events=events, next_token=encode_token(key, query) if key else None)


def _all(reader: AuditReader, fetch_kind: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    key: Mapping[str, Any] | None = None
    while True:
        if fetch_kind == "chains":
            page = reader.query_chains(limit=MAX_PAGE, start_key=key, **kwargs)
        else:
            page = reader.query_index(limit=MAX_PAGE, start_key=key, **kwargs)
        yield from page.items
        key = page.next_key
        if key is None:
            return


@dataclass
class UsageRow:
    day: str
    dataset: str
    actor_sub: str
    actor_email: str
    reads: int = 0
    downloads: int = 0
    denied: int = 0


def usage_report(
    reader: AuditReader,
    *,
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    dataset: str | None = None,
) -> list[UsageRow]:
    """Allowed reads and downloads (and denied attempts) per day, dataset and user, sorted."""
    start, end = _time_bound(since, "since"), _time_bound(until, "until")
    any_of = [("action", a) for a in USAGE_ACTIONS]
    if dataset:
        items = _all(
            reader,
            "query",
            index="by-resource",
            key_value=f"dataset/{dataset}",
            since=start,
            until=end,
            filters={},
        )
    else:
        items = _all(reader, "chains", since=start, until=end, filters={"type": "event"}, any_of=any_of)
    rows: dict[tuple[str, str, str], UsageRow] = {}
    emails: dict[str, str] = defaultdict(str)
    for item in items:
        action, resource = item.get("action"), str(item.get("resource") or "")
        if action not in USAGE_ACTIONS or not resource.startswith("dataset/"):
            continue
        actor = str(item.get("actor_sub") or "(anonymous)")
        emails[actor] = emails[actor] or str(item.get("actor_email") or "")
        key = (str(item.get("time", ""))[:10], resource.removeprefix("dataset/"), actor)
        row = rows.setdefault(key, UsageRow(day=key[0], dataset=key[1], actor_sub=actor, actor_email=""))
        if item.get("decision") != "allow":
            row.denied += 1
        elif action == READ_ACTION:
            row.reads += 1
        else:
            row.downloads += 1
    for row in rows.values():
        row.actor_email = emails[row.actor_sub]
    return [rows[k] for k in sorted(rows)]


def usage_report_csv(rows: Sequence[UsageRow]) -> str:
    columns = ("day", "dataset", "actor_sub", "actor_email", "reads", "downloads", "denied")
    return _csv(columns, ([getattr(r, c) for c in columns] for r in rows))


@dataclass
class SubjectExport:
    subject: str
    email: str | None
    generated_at: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "email": self.email,
            "generated_at": self.generated_at,
            "count": len(self.events),
            "events": self.events,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True, ensure_ascii=False)

    def to_csv(self) -> str:
        return _csv(EVENT_COLUMNS, ([_cell_value(e.get(c)) for c in EVENT_COLUMNS] for e in self.events))


def subject_export(
    reader: AuditReader,
    subject: str,
    *,
    email: str | None = None,
    now: datetime | None = None,
    own_events_only: bool = False,
) -> SubjectExport:
    """Everything recorded about a person: events they did (actor) or that name them (detail.subject).

    A person may be known by their Cognito sub, their email, or both; events matching either count.
    `own_events_only` (self-service): an event found only through the email is kept only if no other
    sub did it, so an address that moved between accounts never shows one person another's actions.
    """
    if not subject or not subject.strip():
        raise InvalidSubjectError()
    any_of = [("actor_sub", subject), ("subject", subject)]
    if email:
        any_of += [("actor_email", email), ("subject", email)]
    events = [
        decode_event(item)
        for item in _all(reader, "chains", since=None, until=None, filters={}, any_of=any_of)
    ]
    events = [e for e in events if e.get("type") == "event"]
    if own_events_only:
        events = [e for e in events if _by_sub(e, subject) or not e.get("actor_sub")]
    events.sort(key=lambda e: (str(e.get("time", "")), str(e.get("id"))))
    return SubjectExport(
        subject=subject,
        email=email,
        generated_at=format_time(now or datetime.now(UTC)),
        events=events,
    )


def _by_sub(event: Mapping[str, Any], subject: str) -> bool:
    detail = event.get("detail")
    named = detail.get("subject") if isinstance(detail, Mapping) else None
    return subject in (event.get("actor_sub"), event.get("subject"), named)


def neutralise(cell: Any) -> Any:
    """Stop spreadsheet formula injection: text starting with = + - @ (or tab/CR) gets a leading quote."""
    if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell


def _cell_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def _csv(columns: Sequence[str], rows: Iterator[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise(_cell_value(v)) for v in row])
    return buffer.getvalue()
