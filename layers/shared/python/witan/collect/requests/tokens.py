"""Partner capability links: random tokens, stored only as SHA-256 hashes, with expiry and revocation.

A token is 256 random bits (`secrets.token_urlsafe(32)`); whoever holds it may see one request and
upload for one recipient. The store keeps only its hash (and finds a token by it), so a leaked table
leaks no links. A recipient may hold several live links (the invitation's and each reminder's: only
hashes are stored, so a link cannot be sent again, only a new one); revoking a recipient revokes all.
Every failed lookup (unknown, expired, revoked, malformed) is the same `None`: the caller cannot tell
them apart, and each path hashes and looks up before deciding, so there is no early exit worth timing.
Tokens are never logged; only their hashes may be.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from witan.collect.requests.records import TokenRecord

TOKEN_BYTES = 32  # 256 bits
DEFAULT_GRACE_DAYS = 14  # links keep working this long after the due date (late returns happen)
MAX_TOKEN_CHARS = 256  # longer input is cut before hashing: it cannot be a token anyway


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Hex SHA-256 of the token (a keyed hash is unnecessary: the token itself has 256 bits)."""
    return hashlib.sha256(token[:MAX_TOKEN_CHARS].encode("utf-8", "surrogatepass")).hexdigest()


def expiry_for(due_date: date, grace_days: int = DEFAULT_GRACE_DAYS) -> datetime:
    """End of the due date (UTC) plus the grace period."""
    return datetime.combine(due_date + timedelta(days=grace_days + 1), time(0, 0), tzinfo=UTC)


@dataclass(frozen=True)
class TokenGrant:
    """What a valid token lets its holder act on."""

    request_id: str
    submission_id: str
    token_hash: str
    expires_at: int  # epoch seconds


def grant_from_record(record: TokenRecord | None, token_hash: str, now: datetime) -> TokenGrant | None:
    """The grant a stored token gives at `now`; None when missing, mismatched, revoked or expired."""
    if record is None or record.token_hash != token_hash or record.revoked_at:
        return None
    if now.timestamp() >= record.token_expires_at:
        return None
    return TokenGrant(
        request_id=record.request_id,
        submission_id=record.submission_id,
        token_hash=token_hash,
        expires_at=record.token_expires_at,
    )
