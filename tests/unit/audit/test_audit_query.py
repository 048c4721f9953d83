"""Pure helpers of the audit reading API: CSV neutralisation and next tokens."""

from __future__ import annotations

import csv
import io

import pytest
from witan.audit.query import (
    SubjectExport,
    UsageRow,
    decode_token,
    encode_token,
    neutralise,
    usage_report_csv,
)
from witan.errors import WitanError

QUERY = {"resource": "dataset/d1", "actor": None, "action": None, "since": None, "until": None}
KEY = {"chain": {"S": "events#1"}, "seq": {"N": "7"}, "resource": {"S": "dataset/d1"}, "time": {"S": "t"}}


@pytest.mark.parametrize("cell", ["=1+1", "+44 20", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_cells_are_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["plain", "", "a=b", 42, None])
def test_other_cells_pass_through(cell: object) -> None:
    assert neutralise(cell) == cell


def test_csv_exports_neutralise_every_text_cell() -> None:
    text = usage_report_csv(
        [UsageRow(day="2026-01-01", dataset="=evil()", actor_sub="@u", actor_email="-x@y")]
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][:4] == ["2026-01-01", "'=evil()", "'@u", "'-x@y"]
    export = SubjectExport(
        subject="u",
        email=None,
        generated_at="now",
        events=[
            {
                "id": "events#0/1",
                "user_agent": "=cmd|' /C calc'!A0",
                "detail": {"a": 1},
                "actor_groups": ["g"],
            }
        ],
    )
    row = next(csv.DictReader(io.StringIO(export.to_csv())))
    assert row["user_agent"].startswith("'=")
    assert row["detail"] == '{"a": 1}' and row["actor_groups"] == '["g"]' and row["resource"] == ""


def test_token_round_trip_and_binding_to_the_query() -> None:
    token = encode_token(KEY, QUERY)
    assert "=" not in token and "events" not in token  # opaque, URL-safe
    assert decode_token(token, QUERY) == KEY
    with pytest.raises(WitanError, match="different query"):
        decode_token(token, {**QUERY, "action": "dataset.read"})


@pytest.mark.parametrize("token", ["", "!!!", "e30", "bm90IGpzb24"])
def test_garbage_tokens_are_refused(token: str) -> None:
    with pytest.raises(WitanError) as err:
        decode_token(token, QUERY)
    assert err.value.code == "invalid-next-token"
