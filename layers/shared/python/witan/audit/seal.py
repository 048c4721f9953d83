"""Seals: the audit chains' heads, signed outside the table (pure logic, no AWS).

Any role that may PutItem on the audit table can also overwrite items and rebuild a chain (and its
digest items) from any point, recomputing every hash. What it cannot do is sign: only the sealer
function may use the signing key (a KMS asymmetric key, ECDSA P-256; see docs/audit.md). The sealer
writes each chain's head {seq, hash, expires_at, time} as a signed seal into a bucket with S3 Object
Lock in compliance mode, on every batch of the table's stream and every few minutes. Verification then
checks that every head a valid seal recorded is still in the table with the same hash (or expired
after its retention): a rebuilt chain, an overwritten head, a deleted or early-expired head are all
reported; items before a sealed head are covered by the hash links up to it.

The sealer also reads the stream itself (`stream_alerts`): any MODIFY, any REMOVE that is not a TTL
expiry, a TTL expiry before the retention period, and an INSERT whose expiry is shorter than the
retention each raise an alert (a metric with an alarm).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from witan.audit.chain import (
    Problem,
    canonical_json,
    format_time,
    parse_time,
    plain,
    short_expiry,
)

SEAL_VERSION = 1
SEAL_PREFIX = "seals/"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
SEAL_DOMAIN = b"witan-audit-seal-v1\n"  # domain separation: this signature means "audit heads"
# TTL deletions in a DynamoDB stream carry this service principal (DynamoDB developer guide,
# "Time to Live: streams"); every other REMOVE was made by someone.
TTL_PRINCIPAL = "dynamodb.amazonaws.com"

# Problem kinds added to those of witan.audit.chain.
SEAL_MISMATCH = "seal_mismatch"  # the item at a sealed head differs from the signed seal
SEAL_MISSING = "seal_missing"  # a sealed head is gone from the table before its retention ended
BAD_SEAL = "bad_seal"  # a seal object whose signature does not verify (or cannot be read)
NO_SEAL = "no_seal"  # sealing is configured but no seal was found

# Alert kinds (stream_alerts).
ALERT_MODIFY = "modify"
ALERT_REMOVE = "remove"
ALERT_EARLY_TTL = "early-ttl-expiry"
ALERT_SHORT_EXPIRY = "short-expiry"


class SealError(ValueError):
    """A seal object that cannot be parsed."""


def seal_document(
    heads: Mapping[str, Mapping[str, Any]], *, time: datetime, table: str, trigger: str
) -> dict[str, Any]:
    """What is signed: every chain's head (seq, hash, expires_at, time) at `time`."""
    return {
        "v": SEAL_VERSION,
        "table": table,
        "time": format_time(time),
        "trigger": trigger,
        "heads": {
            chain: {
                "seq": int(h["seq"]),
                "hash": str(h["hash"]),
                "expires_at": plain(h.get("expires_at")),
                "time": h.get("time"),
            }
            for chain, h in sorted(heads.items())
        },
    }


def signed_message(document: Mapping[str, Any]) -> bytes:
    """The bytes handed to the signer: a short domain-separated SHA-256 of the document (KMS signs at
    most 4 KB raw, and the document grows with the number of chains)."""
    return SEAL_DOMAIN + hashlib.sha256(canonical_json(dict(document))).hexdigest().encode("ascii")


def seal_key(time: datetime, trigger: str) -> str:
    """`seals/YYYY/MM/DD/<time>-<trigger>-<random>.json`: keys sort by time; never reused (a random
    tail), so no seal is ever a new version of another."""
    stamp = time.astimezone(UTC)
    return f"{SEAL_PREFIX}{stamp:%Y/%m/%d}/{format_time(stamp)}-{trigger}-{secrets.token_hex(4)}.json"


def day_prefix(day: datetime) -> str:
    return f"{SEAL_PREFIX}{day.astimezone(UTC):%Y/%m/%d}/"


def seal_object(document: Mapping[str, Any], signature: bytes, key_id: str) -> bytes:
    """The stored seal: the document, its signature (hex) and the key that made it."""
    return canonical_json(
        {
            "document": dict(document),
            "signature": signature.hex(),
            "key_id": key_id,
            "algorithm": SIGNING_ALGORITHM,
        }
    )


def parse_seal(data: bytes) -> tuple[dict[str, Any], bytes]:
    """(document, signature) of a stored seal. Raises SealError."""
    try:
        stored = json.loads(data)
        document = stored["document"]
        signature = bytes.fromhex(stored["signature"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SealError(f"not a seal: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("heads"), dict):
        raise SealError("not a seal: no heads")
    return document, signature


def check_seals(
    index: Mapping[str, Mapping[int, str]],
    seals: Sequence[Mapping[str, Any]],
    now_epoch: int,
    retention_s: int | None = None,
) -> list[Problem]:
    """Compare the signed heads with the table (chain -> seq -> stored hash)."""
    problems: list[Problem] = []
    reported: set[tuple[str, int]] = set()
    for seal in sorted(seals, key=lambda s: str(s.get("time"))):
        when = seal.get("time")
        for chain, head in sorted(seal.get("heads", {}).items()):
            if not isinstance(head, Mapping) or not isinstance(head.get("seq"), int):
                continue
            seq = head["seq"]
            if (chain, seq) in reported:
                continue
            stored = index.get(chain, {}).get(seq)
            if stored == head.get("hash"):
                continue
            if stored is None:
                expires = plain(head.get("expires_at"))
                expired = isinstance(expires, int) and expires <= now_epoch
                early = retention_s is not None and short_expiry(head.get("time"), expires, retention_s)
                if expired and not early:
                    continue
                why = "expired before its retention" if expired else "is missing from the table"
                problems.append(Problem(chain, seq, SEAL_MISSING, f"the head sealed at {when} {why}"))
            else:
                problems.append(
                    Problem(chain, seq, SEAL_MISMATCH, f"differs from the head sealed at {when} (rewritten)")
                )
            reported.add((chain, seq))
    return problems


def continue_heads(
    previous: Mapping[str, Mapping[str, Any]],
    table_heads: Mapping[str, Mapping[str, Any]],
    stored: Mapping[tuple[str, int], str | None],
    now_epoch: int,
    retention_s: int | None = None,
) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The heads of the next seal, given the previous seal's heads and what the table holds now.

    `stored` is the table's hash at each previously sealed (chain, seq) (None: gone). A chain whose
    sealed head was changed, or removed before its retention, keeps its previously sealed head (and is
    reported), so that a tampered state is never signed: every later seal and every verification
    keeps pointing at it until someone restores the item or investigates."""
    heads = {chain: dict(head) for chain, head in table_heads.items()}
    seal = {"time": "the previous seal", "heads": previous}
    index: dict[str, dict[int, str]] = {}
    for (chain, seq), digest in stored.items():
        if digest is not None:
            index.setdefault(chain, {})[seq] = digest
    problems = check_seals(index, [seal], now_epoch, retention_s)
    for problem in problems:
        heads[problem.chain] = dict(previous[problem.chain])
    return heads, problems


def unsealed(index: Mapping[str, Mapping[int, str]], seals: Sequence[Mapping[str, Any]]) -> int:
    """How many items lie after the newest seal's heads: what no seal vouches for yet."""
    if not seals:
        return sum(len(seqs) for seqs in index.values())
    newest = max(seals, key=lambda s: str(s.get("time")))
    heads = newest.get("heads", {})
    count = 0
    for chain, seqs in index.items():
        head = heads.get(chain)
        last = head["seq"] if isinstance(head, Mapping) and isinstance(head.get("seq"), int) else 0
        count += sum(1 for seq in seqs if seq > last)
    return count


# --------------------------------------------------------------------------------------------------
# The stream check


@dataclass(frozen=True)
class Alert:
    kind: str
    chain: str
    seq: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "chain": self.chain, "seq": self.seq, "message": self.message}


def _is_ttl(record: Mapping[str, Any]) -> bool:
    identity = record.get("userIdentity") or {}
    return identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL


def stream_alerts(records: Iterable[Mapping[str, Any]], retention_days: int) -> list[Alert]:
    """What in a batch of audit-table stream records (images already plain values) needs a human.

    The table is append-only: the only change that may happen after an INSERT is a TTL removal after
    the retention period. Any MODIFY or REMOVE by anyone else means the trail was tampered with, or
    the table's deny policy was lifted; an INSERT with a short expiry is a writer that would make
    TTL remove an event early."""
    retention_s = retention_days * 86400
    alerts: list[Alert] = []
    for record in records:
        name = record.get("eventName")
        data = record.get("dynamodb") or {}
        keys = data.get("Keys") or {}
        chain = str(keys.get("chain", "?"))
        seq_value = plain(keys.get("seq"))
        seq = seq_value if isinstance(seq_value, int) else None
        old = data.get("OldImage") or {}
        new = data.get("NewImage") or {}
        if name == "MODIFY":
            alerts.append(Alert(ALERT_MODIFY, chain, seq, "an audit item was overwritten"))
        elif name == "REMOVE" and not _is_ttl(record):
            alerts.append(Alert(ALERT_REMOVE, chain, seq, "an audit item was deleted (not by TTL)"))
        elif name == "REMOVE":
            if short_expiry(old.get("time"), old.get("expires_at"), retention_s):
                alerts.append(
                    Alert(ALERT_EARLY_TTL, chain, seq, "TTL removed an audit item before its retention ended")
                )
        elif name == "INSERT" and short_expiry(new.get("time"), new.get("expires_at"), retention_s):
            alerts.append(
                Alert(
                    ALERT_SHORT_EXPIRY,
                    chain,
                    seq,
                    "an audit item was written with an expiry shorter than the retention",
                )
            )
    return alerts


def head_of_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """The head record of a stored item (plain values)."""
    return {
        "seq": int(plain(item["seq"])),
        "hash": str(item["hash"]),
        "expires_at": plain(item.get("expires_at")),
        "time": item.get("time"),
    }


def seal_time(document: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_time(str(document.get("time")))
    except ValueError:
        return None
