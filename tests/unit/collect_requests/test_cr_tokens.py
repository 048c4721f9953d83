"""Capability tokens: randomness, hashing, expiry, revocation, and one answer for every failure."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from witan.aws.submissions import token_gsi_key, token_item
from witan.collect.requests.creation import token_record
from witan.collect.requests.records import TokenRecord
from witan.collect.requests.tokens import expiry_for, grant_from_record, hash_token, new_token

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DUE = date(2026, 12, 1)


def _record(token: str, **changes: object) -> TokenRecord:
    made = token_record("r1", "s1", token, due_date=DUE, grace_days=14, now=NOW)
    return replace(made, **changes)  # type: ignore[arg-type]


def test_tokens_are_long_random_and_distinct() -> None:
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(t) >= 43 for t in tokens)  # 32 bytes in URL-safe base64


def test_only_the_hash_is_stored_and_it_is_the_gsi_key() -> None:
    token = new_token()
    record = _record(token)
    item = token_item(record)  # as stored
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert record.token_hash == item["token_hash"] == digest == hash_token(token)
    assert item["gsi1pk"] == token_gsi_key(digest) == f"TOKEN#{digest}"
    assert token not in repr(item) and token not in repr(record)


def test_expiry_is_end_of_due_date_plus_grace() -> None:
    assert expiry_for(DUE, 14) == datetime(2026, 12, 16, tzinfo=UTC)
    assert expiry_for(DUE, 0) == datetime(2026, 12, 2, tzinfo=UTC)
    item = token_item(_record(new_token()))
    assert item["token_expires_at"] == int(datetime(2026, 12, 16, tzinfo=UTC).timestamp())
    assert item["expires_at"] > item["token_expires_at"]  # TTL removes it only after it stopped working


def test_valid_token_grants_its_submission() -> None:
    token = new_token()
    grant = grant_from_record(_record(token), hash_token(token), NOW)
    assert grant is not None
    assert (grant.request_id, grant.submission_id) == ("r1", "s1")


def test_expired_revoked_wrong_and_missing_are_all_none() -> None:
    token = new_token()
    h = hash_token(token)
    late = datetime(2026, 12, 16, tzinfo=UTC)
    assert grant_from_record(_record(token), h, late - timedelta(seconds=1)) is not None
    outcomes = [
        grant_from_record(_record(token), h, late),  # expired
        grant_from_record(_record(token, revoked_at="2026-11-26T00:00:00+00:00"), h, NOW),  # revoked
        grant_from_record(_record(token), hash_token(token + "x"), NOW),  # hash mismatch
        grant_from_record(None, h, NOW),  # unknown
    ]
    assert outcomes == [None] * 4


def test_oversized_input_is_cut_before_hashing() -> None:
    huge = "a" * 10_000
    assert hash_token(huge) == hash_token("a" * 256)
