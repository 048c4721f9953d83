"""Columns matched by name when every required name is present in any order: missing and unexpected
columns are reported by name instead of every column being read as shifted. And DfE-layout SSDA903
files (from the children looked after model's generator) pass the built-in ssda903 schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from validation_files import Checker, codes
from witan.validation import check_file, load_schema

S: dict[str, Any] = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
        {"name": "when", "type": "date", "constraints": {"required": True}},
    ]
}


def test_reordered_columns_are_matched_by_name(check_rows: Checker) -> None:
    report = check_rows("csv", [["when", "id", "name"], ["2024-01-01", "1", "a"]], S)
    assert codes(report) == []


def test_values_are_checked_in_their_named_column(check_rows: Checker) -> None:
    report = check_rows("csv", [["when", "id", "name"], ["2024-01-01", "x", "a"]], S)
    assert codes(report) == [(2, "B", "type-error")]


def test_missing_and_unexpected_columns_are_named(check_rows: Checker) -> None:
    report = check_rows("csv", [["when", "id", "extra"], ["2024-01-01", "1", "z"]], S)
    assert sorted(codes(report), key=str) == sorted(
        [(1, None, "missing-label"), (1, "C", "extra-label")], key=str
    )
    messages = " ".join(e.message for e in report.errors)
    assert "'name'" in messages and "'extra'" in messages


def test_xlsx_reordered_too(check_rows: Checker) -> None:
    report = check_rows("xlsx", [["name", "when", "id"], ["a", "2024-01-01", 1]], S)
    assert codes(report) == []


def test_a_required_column_missing_keeps_positional_checking(check_rows: Checker) -> None:
    report = check_rows("csv", [["id", "name", "then"], ["1", "a", "2024-01-01"]], S)
    assert codes(report) == [(1, "C", "incorrect-label")]


def _write_dfe(path: Path, table: dict[str, np.ndarray], columns: list[str]) -> Path:
    from witan.models.cic.synthetic import csv_bytes

    path.write_bytes(csv_bytes({c: table[c] for c in columns}))
    return path


def test_dfe_layout_903_files_validate_against_the_ssda903_schemas(tmp_path: Path) -> None:
    from witan.models.cic.synthetic import EPISODE_HEADER, HEADER_HEADER, UASC_HEADER, generate

    # one year's return of a large council: about 5,000 episodes
    data = generate(starts_per_year=1200, first_year=2024, last_year=2024, seed=11)
    assert 4000 <= len(data.episodes["CHILD"]) <= 7000
    for name, table, header in (
        ("episodes", data.episodes, EPISODE_HEADER),
        ("header", data.header, HEADER_HEADER),
        ("uasc", data.uasc, UASC_HEADER),
    ):
        dfe_columns = [c for c in header if c not in ("LA", "YEAR")]
        path = _write_dfe(tmp_path / f"{name}.csv", table, dfe_columns)
        report = check_file(path, load_schema(f"ssda903-{name}"), file_name=path.name, error_limit=None)
        assert codes(report) == [], (name, report.errors[:3])
        # the same with the DfE columns in another order and the data platform's LA and YEAR added
        shuffled = _write_dfe(tmp_path / f"{name}-stacked.csv", table, ["YEAR", *reversed(dfe_columns), "LA"])
        report = check_file(
            shuffled, load_schema(f"ssda903-{name}"), file_name=shuffled.name, error_limit=None
        )
        assert codes(report) == [], (name, report.errors[:3])


def test_old_layout_episodes_file_is_told_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "episodes.csv"
    path.write_text("CHILD,SEX,DOB,DECOM,RNE\n1,1,01/01/2010,01/02/2020,S\n")
    report = check_file(path, load_schema("ssda903-episodes"), file_name=path.name, error_limit=None)
    missing = sorted(e.field for e in report.errors if e.code == "missing-label")
    assert missing == sorted(
        [
            "LS",
            "CIN",
            "PLACE",
            "PLACE_PROVIDER",
            "DEC",
            "REC",
            "REASON_PLACE_CHANGE",
            "HOME_POST",
            "PL_POST",
            "URN",
        ]
    )
