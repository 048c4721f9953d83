"""Partner capability links: random tokens, stored only as SHA-256 hashes, with expiry and revocation.

A token is 256 random bits (`secrets.token_urlsafe(32)`); whoever holds it may see one request and
upload for one recipient. The table keeps only its hash (`gsi1pk = TOKEN#{hash}`), so a leaked table
leaks no links. Every failed lookup (unknown, expired, revoked, malformed) is the same `None`: the
caller cannot tell them apart, and each path hashes and looks up before deciding, so there is no
early exit worth timing. Tokens are never logged; only their hashes may be.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

TOKEN_BYTES = 32  # 256 bits
DEFAULT_GRACE_DAYS = 14  # links keep working this long after the due date (late returns happen)
MAX_TOKEN_CHARS = 256  # longer input is cut before hashing: it cannot be a token anyway


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """Hex SHA-256 of the token (a keyed hash is unnecessary: the token itself has 256 bits)."""
    return hashlib.sha256(token[:MAX_TOKEN_CHARS].encode("utf-8", "surrogatepass")).hexdigest()


def token_gsi_key(token_hash: str) -> str:
    return f"TOKEN#{token_hash}"


def token_sk(submission_id: str, token_hash: str) -> str:
    """A recipient may hold several live links (the invitation's and each reminder's: only hashes are
    stored, so a link cannot be sent again, only a new one). Revoking a recipient revokes them all."""
    return f"{token_sk_prefix(submission_id)}{token_hash[:24]}"


def token_sk_prefix(submission_id: str | None = None) -> str:
    return f"TOKEN#{submission_id}#" if submission_id else "TOKEN#"


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


def grant_from_item(item: dict[str, Any] | None, token_hash: str, now: datetime) -> TokenGrant | None:
    """The grant a stored token item gives at `now`; None when missing, mismatched, revoked or expired."""
    if not item or item.get("type") != "token" or item.get("token_hash") != token_hash:
        return None
    if item.get("revoked_at"):
        return None
    expires = int(item.get("token_expires_at", 0))
    if now.timestamp() >= expires:
        return None
    return TokenGrant(
        request_id=str(item["request_id"]),
        submission_id=str(item["submission_id"]),
        token_hash=token_hash,
        expires_at=expires,
    )
