"""Pure hash-chain logic for the audit trail: record bodies, hashing and verification (no AWS).

Storage model (see docs/contracts.md): every item lives at (chain, seq) with seq = 1, 2, 3, ... per
chain. An item's `hash` is SHA-256 over a canonical JSON of every other stored attribute except the
key (`chain`, `seq`) and the hash itself; that body includes `prev_hash` (the hash of item seq-1, or
GENESIS_HASH for seq 1) so each item commits to the whole history before it. The key is left out of
the body on purpose: order is carried by the `prev_hash` links, which lets verification tell a moved
item ("reordered") from an edited one ("modified").

Items expire through DynamoDB TTL (`expires_at`), which deletes old items from the front of a chain.
So that expiry is not mistaken for tampering, each body also records `prev_expires_at` (the expiry of
the item it links to): a gap is legitimate exactly when the item just before it has expired. Bodies
written since the seals came also record `prev_time`, so that verification can tell an item that
expired after the retention period from one given a short expiry and removed early by TTL.

Digest items in the table are not enough on their own: a writer that can put items can rebuild a
chain and its digests. The heads are therefore also signed outside the table (witan.audit.seal).

Digest items (chain DIGEST_CHAIN) are chained the same way and record each event chain's head
(seq, hash, expires_at) at the time of writing; they catch deletion of a chain's tail, which a chain
on its own cannot show.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from witan.audit.records import AuditEvent

SCHEMA_VERSION = 1
GENESIS_HASH = "0" * 64
DIGEST_CHAIN = "digest"
EVENT_CHAIN_PREFIX = "events#"
HASH_DOMAIN = b"witan-audit-v1\n"  # domain separation: these hashes mean "audit item", nothing else
KEY_ATTRIBUTES = frozenset({"chain", "seq"})
ALLOWED_DECISIONS = frozenset({"allow", "deny", "error"})
_EVENT_CHAIN = re.compile(re.escape(EVENT_CHAIN_PREFIX) + r"(0|[1-9][0-9]*)")

# Problem kinds reported by verification.
MODIFIED = "modified"  # stored hash does not match the item's content
DELETED = "deleted"  # an unexpired item is missing inside a chain (seq gap)
TRUNCATED = "truncated"  # items after a digested head are missing (tail deletion)
INSERTED = "inserted"  # an item sits in a chain where the writer never put it
REORDERED = "reordered"  # an intact item sits at a different position than it was written at
BROKEN_LINK = "broken_link"  # prev_hash matches no item: the chain was rewritten around here
DIGEST_MISMATCH = "digest_mismatch"  # an item differs from the head a digest recorded for it
MALFORMED = "malformed"  # an item lacks required attributes or has the wrong types
EARLY_EXPIRY = "early_expiry"  # an item's expiry is shorter than the retention (or it expired early)
# Slack on the retention check: expiry() truncates to whole seconds.
EXPIRY_SLACK_S = 2


class AuditEventError(ValueError):
    """The event cannot be turned into a record (bad decision, unserialisable detail, ...)."""


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and a `Z`, so string order equals time order (GSI sort keys)."""
    if moment.tzinfo is None:
        raise AuditEventError("audit times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time (any offset, `Z` allowed); naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8, no NaN/Infinity."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def compute_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a record body (which includes `prev_hash`)."""
    return hashlib.sha256(HASH_DOMAIN + canonical_json(dict(body))).hexdigest()


def plain(value: Any) -> Any:
    """Convert values read back from DynamoDB (Decimal, sets, bytes) into the JSON types that were hashed."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return value


def body_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed part of a stored item: everything except the key and the hash itself."""
    return {k: plain(v) for k, v in item.items() if k not in KEY_ATTRIBUTES and k != "hash"}


def _detail_json(detail: Mapping[str, Any]) -> str:
    try:
        # default=str keeps datetimes, UUIDs, Decimals etc. readable rather than failing the request.
        return json.dumps(
            dict(detail), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
    except (TypeError, ValueError) as exc:
        raise AuditEventError(f"audit detail is not JSON-serialisable: {exc}") from exc


def _text(value: str | None) -> str | None:
    """Empty strings are stored as absent: DynamoDB rejects empty strings as index keys."""
    return value if value else None


def event_body(
    event: AuditEvent,
    *,
    time: datetime,
    prev_hash: str,
    prev_expires_at: int | None,
    expires_at: int,
    prev_time: str | None = None,
) -> dict[str, Any]:
    """The record body for an event (absent values are omitted, so stored item == hashed body)."""
    if event.decision not in ALLOWED_DECISIONS:
        raise AuditEventError(f"decision must be one of {sorted(ALLOWED_DECISIONS)}, got {event.decision!r}")
    if not event.action:
        raise AuditEventError("action is required")
    if isinstance(event.status, bool) or not isinstance(event.status, int):
        raise AuditEventError(f"status must be an int, got {event.status!r}")
    subject = event.detail.get("subject") if event.detail else None
    body: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "type": "event",
        "time": format_time(time),
        "action": event.action,
        "decision": event.decision,
        "reason": event.reason,
        "status": event.status,
        "actor_sub": _text(event.actor_sub),
        "actor_email": _text(event.actor_email),
        "actor_groups": [str(g) for g in event.actor_groups],
        "resource": _text(event.resource),
        "purpose": _text(event.purpose),
        "request_id": _text(event.request_id),
        "source_ip": _text(event.source_ip),
        "user_agent": _text(event.user_agent),
        "detail": _detail_json(event.detail or {}),
        # Copied out of detail so a subject access request can filter on it server-side.
        "subject": _text(subject) if isinstance(subject, str) else None,
        "prev_hash": prev_hash,
        "prev_expires_at": prev_expires_at,
        "prev_time": prev_time,
        "expires_at": int(expires_at),
    }
    return {k: v for k, v in body.items() if v is not None}


def digest_body(
    heads: Mapping[str, Mapping[str, Any]],
    *,
    time: datetime,
    prev_hash: str,
    prev_expires_at: int | None,
    expires_at: int,
    prev_time: str | None = None,
) -> dict[str, Any]:
    """A digest: each event chain's head {seq, hash, expires_at} at `time`, itself chained."""
    body: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "type": "digest",
        "time": format_time(time),
        "heads": {
            chain: {"seq": int(h["seq"]), "hash": str(h["hash"]), "expires_at": plain(h.get("expires_at"))}
            for chain, h in sorted(heads.items())
        },
        "prev_hash": prev_hash,
        "prev_expires_at": prev_expires_at,
        "prev_time": prev_time,
        "expires_at": int(expires_at),
    }
    return {k: v for k, v in body.items() if v is not None}


def expiry(time: datetime, retention_days: int) -> int:
    """Epoch seconds at which DynamoDB TTL may delete an item written at `time`."""
    if retention_days < 1:
        raise AuditEventError(f"retention must be at least one day, got {retention_days}")
    return int((time + timedelta(days=retention_days)).timestamp())


def decode_event(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored event as a plain dict for readers: key, fields, and `detail` parsed back to an object."""
    out = {k: plain(v) for k, v in item.items()}
    out["id"] = f"{out.get('chain')}/{out.get('seq')}"
    detail = out.get("detail")
    if isinstance(detail, str):
        try:
            out["detail"] = json.loads(detail)
        except ValueError:
            out["detail"] = {"unparsed": detail}
    out.setdefault("detail", {})
    return out


# --------------------------------------------------------------------------------------------------
# Verification


@dataclass(frozen=True)
class Problem:
    chain: str
    seq: int | float | None
    kind: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass
class VerifyResult:
    """Outcome of verifying a whole table: problems (empty when intact) and what was looked at."""

    problems: list[Problem] = field(default_factory=list)
    chains: dict[str, int] = field(default_factory=dict)  # chain -> number of items seen
    items: int = 0
    digests: int = 0
    expired_gaps: int = 0  # gaps explained by TTL expiry (not problems)
    seals: int = 0  # signed seals the chains were checked against

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "items": self.items,
            "digests": self.digests,
            "chains": dict(sorted(self.chains.items())),
            "expired_gaps": self.expired_gaps,
            "seals": self.seals,
            "problems": [p.as_dict() for p in self.problems],
        }


def _seq_value(raw: Any) -> int | float | None:
    value = plain(raw)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _is_whole(seq: int | float) -> bool:
    return isinstance(seq, int) or (math.isfinite(seq) and seq == int(seq))


def _expired(expires_at: Any, now_epoch: int) -> bool:
    value = plain(expires_at)
    return isinstance(value, int) and value <= now_epoch


def short_expiry(time_text: Any, expires_at: Any, retention_s: int) -> bool:
    """True when an item written at `time_text` expires before the retention period has passed."""
    value = plain(expires_at)
    if not isinstance(time_text, str) or isinstance(value, bool) or not isinstance(value, int):
        return False
    try:
        written = parse_time(time_text).timestamp()
    except ValueError:
        return False
    return value < written + retention_s - EXPIRY_SLACK_S


def verify_chain(
    chain: str, items: Iterable[Mapping[str, Any]], now_epoch: int, retention_s: int | None = None
) -> tuple[list[Problem], int]:
    """Check one chain's items (any order). Returns (problems, number of gaps explained by expiry).

    With `retention_s` (the shortest retention ever configured), an item whose expiry is shorter is
    early_expiry, and so is a gap whose item before it expired before its retention had passed (known
    from the next item's `prev_time`, in bodies that record it).

    Classification, in order: malformed; not a whole-number seq -> inserted; stored hash differs
    from the content -> modified; then the prev_hash links: a missing run of seqs -> deleted (unless
    the item before the gap has expired); a link to an item placed later -> reordered; a link that
    skips intact items -> those items were inserted; a link to nothing -> broken_link.
    """
    problems: list[Problem] = []
    expired_gaps = 0
    entries: list[tuple[int, Mapping[str, Any]]] = []
    for item in items:
        seq = _seq_value(item.get("seq"))
        if seq is None or not isinstance(item.get("hash"), str) or not isinstance(item.get("prev_hash"), str):
            problems.append(Problem(chain, seq, MALFORMED, "item lacks a numeric seq, hash or prev_hash"))
            continue
        if not _is_whole(seq) or seq < 1:
            problems.append(Problem(chain, seq, INSERTED, f"seq {seq} was not assigned by the appender"))
            continue
        entries.append((int(seq), item))
    entries.sort(key=lambda e: e[0])

    intact: dict[int, bool] = {}
    seq_by_hash: dict[str, int] = {}
    for seq, item in entries:
        intact[seq] = compute_hash(body_of(item)) == item["hash"]
        seq_by_hash.setdefault(item["hash"], seq)
        if not intact[seq]:
            problems.append(Problem(chain, seq, MODIFIED, "stored hash does not match the item's content"))
        elif retention_s is not None and short_expiry(item.get("time"), item.get("expires_at"), retention_s):
            problems.append(
                Problem(
                    chain,
                    seq,
                    EARLY_EXPIRY,
                    "expires before the retention period (TTL would remove it early)",
                )
            )

    # First pass: items whose link points at an item that sits after them were moved.
    moved: set[int] = set()
    for seq, item in entries:
        target = seq_by_hash.get(item["prev_hash"])
        if target is not None and target > seq:
            moved.add(seq)

    present = {seq for seq, _ in entries}
    flagged_inserted: set[int] = set()
    previous: tuple[int, Mapping[str, Any]] | None = None
    for seq, item in entries:
        prev_seq = previous[0] if previous else 0
        expected = previous[1]["hash"] if previous else GENESIS_HASH
        link = item["prev_hash"]
        if seq in moved:
            problems.append(
                Problem(chain, seq, REORDERED, f"links to seq {seq_by_hash[link]}, which is placed after it")
            )
        elif seq > prev_seq + 1:
            # A run of missing seqs. TTL removes old items; the item before the gap says when it expired.
            if _expired(item.get("prev_expires_at"), now_epoch):
                expired_gaps += 1
                if retention_s is not None and short_expiry(
                    item.get("prev_time"), item.get("prev_expires_at"), retention_s
                ):
                    problems.append(
                        Problem(
                            chain,
                            seq - 1,
                            EARLY_EXPIRY,
                            f"seq {seq - 1} was removed by TTL before the retention period had passed",
                        )
                    )
            else:
                missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}..{seq - 1}"
                problems.append(
                    Problem(chain, prev_seq + 1, DELETED, f"seq {missing} missing before seq {seq}")
                )
        elif link != expected:
            target = seq_by_hash.get(link, 0 if link == GENESIS_HASH else None)
            if target is not None and target < prev_seq:
                skipped = [s for s in range(target + 1, seq) if s in present and s not in moved]
                if skipped:
                    for s in skipped:
                        if s not in flagged_inserted:
                            flagged_inserted.add(s)
                            problems.append(
                                Problem(chain, s, INSERTED, f"seq {seq} links past it to seq {target}")
                            )
                elif target not in moved:  # links to a moved item: already reported at that item
                    moved.add(seq)  # its partner was moved: a swap, not an insertion
                    problems.append(Problem(chain, seq, REORDERED, f"links back to seq {target}"))
            elif intact.get(prev_seq, True):
                problems.append(
                    Problem(
                        chain, seq, BROKEN_LINK, f"prev_hash does not match seq {prev_seq} (chain rewritten)"
                    )
                )
            # else: the previous item was edited in place and is already reported as modified.
        previous = (seq, item)
    return problems, expired_gaps


def verify_items(
    items: Iterable[Mapping[str, Any]],
    now: datetime | None = None,
    *,
    retention_days: int | None = None,
    seals: Sequence[Mapping[str, Any]] = (),
) -> VerifyResult:
    """Verify every chain in a set of stored items (events and digests), as read from the table."""
    by_chain: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for item in items:
        by_chain[str(item.get("chain"))].append(item)
    groups = ((chain, by_chain[chain]) for chain in sorted(by_chain))
    return verify_groups(groups, now=now, retention_days=retention_days, seals=seals)


def verify_groups(
    groups: Iterable[tuple[str, Iterable[Mapping[str, Any]]]],
    now: datetime | None = None,
    *,
    retention_days: int | None = None,
    seals: Sequence[Mapping[str, Any]] = (),
) -> VerifyResult:
    """Verify chains given one at a time (each chain's items together), keeping only seq->hash of
    finished chains, so a large table can be checked chain by chain without holding all of it.

    `seals` are signed seal documents already checked for their signature (witan.audit.seal): every
    head they record must still be in the table with the same hash, unless it expired after its
    retention."""
    now_epoch = int((now or datetime.now(UTC)).timestamp())
    retention_s = retention_days * 86400 if retention_days is not None else None
    result = VerifyResult()
    index: dict[str, dict[int, str]] = {}
    digests: list[Mapping[str, Any]] = []
    for chain, group in groups:
        items = list(group)
        result.items += len(items)
        result.chains[chain] = result.chains.get(chain, 0) + len(items)
        expected_type = "digest" if chain == DIGEST_CHAIN else "event"
        if chain != DIGEST_CHAIN and not _EVENT_CHAIN.fullmatch(chain):
            result.problems.append(Problem(chain, None, INSERTED, "no writer uses this chain name"))
        for item in items:
            if item.get("type") != expected_type:
                seq = _seq_value(item.get("seq"))
                message = f"a {item.get('type')!r} item in this chain"
                result.problems.append(Problem(chain, seq, INSERTED, message))
        problems, gaps = verify_chain(chain, items, now_epoch, retention_s)
        result.problems.extend(problems)
        result.expired_gaps += gaps
        if chain == DIGEST_CHAIN:
            digests.extend(items)
        seqs = index.setdefault(chain, {})
        for item in items:
            seq = _seq_value(item.get("seq"))
            if seq is not None and _is_whole(seq):
                seqs[int(seq)] = str(item.get("hash"))
    result.digests = len(digests)
    result.problems.extend(check_digests(index, digests, now_epoch))
    if seals:
        from witan.audit.seal import check_seals  # seal imports this module

        result.seals = len(seals)
        result.problems.extend(check_seals(index, seals, now_epoch, retention_s))
    return result


def check_digests(
    index: Mapping[str, Mapping[int, str]], digests: Iterable[Mapping[str, Any]], now_epoch: int
) -> list[Problem]:
    """Compare every digest's recorded heads with the event chains as they are now (chain -> seq -> hash)."""
    problems: list[Problem] = []
    reported: set[tuple[str, int]] = set()
    for digest in sorted(digests, key=lambda d: _seq_value(d.get("seq")) or 0):
        heads = plain(digest.get("heads"))
        if not isinstance(heads, dict):
            continue  # a digest without heads is reported as modified/malformed by the chain check
        for chain, head in sorted(heads.items()):
            if not isinstance(head, dict) or not isinstance(head.get("seq"), int):
                continue
            seq, seqs = head["seq"], index.get(chain, {})
            if (chain, seq) in reported:
                continue
            stored_hash = seqs.get(seq)
            if stored_hash is None:
                if _expired(head.get("expires_at"), now_epoch):
                    continue
                last = max(seqs, default=0)
                if seq > last:
                    reported.add((chain, seq))
                    problems.append(
                        Problem(
                            chain,
                            last + 1,
                            TRUNCATED,
                            f"digest {plain(digest.get('seq'))} saw head seq {seq}; chain ends at {last}",
                        )
                    )
                # a missing seq inside the chain is already reported as deleted
            elif stored_hash != head.get("hash"):
                reported.add((chain, seq))
                problems.append(
                    Problem(
                        chain,
                        seq,
                        DIGEST_MISMATCH,
                        f"differs from the head recorded by digest {plain(digest.get('seq'))}",
                    )
                )
    return problems
