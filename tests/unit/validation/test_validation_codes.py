"""Every error code, on CSV and on XLSX, with the row and column a user would look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from validation_files import Checker, codes
from witan.validation import check_file, parse_schema

S: dict[str, Any] = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "name", "type": "string"},
        {"name": "when", "type": "date"},
    ]
}
HEADER = ["id", "name", "when"]

CASES: list[tuple[str, list[list[Any]], dict[str, Any], list[tuple[int | None, str | None, str]]]] = [
    ("missing-label", [["id", "name"], ["1", "a"]], S, [(1, None, "missing-label")]),
    ("extra-label", [[*HEADER, "x"], ["1", "a", "2024-01-01", "z"]], S, [(1, "D", "extra-label")]),
    ("duplicate-label", [["id", "id", "when"], ["1", "a", "2024-01-01"]], S, [(1, "B", "duplicate-label")]),
    ("blank-label", [["id", None, "when"], ["1", "a", "2024-01-01"]], S, [(1, "B", "blank-label")]),
    ("incorrect-label", [["id", "Name", "when"], ["1", "a", "2024-01-01"]], S, [(1, "B", "incorrect-label")]),
    (
        "blank-row",
        [HEADER, ["1", "a", "2024-01-01"], [None, None, None], ["2", "b", "2024-01-02"]],
        S,
        [(3, None, "blank-row")],
    ),
    ("type-error", [HEADER, ["x1", "a", "2024-02-30"]], S, [(2, "A", "type-error"), (2, "C", "type-error")]),
    ("constraint-error", [HEADER, [None, "a", "2024-01-01"]], S, [(2, "A", "constraint-error")]),
    (
        "unique-error",
        [HEADER, ["1", "a", ""], ["2", "b", ""], ["1", "a", ""]],
        {**S, "fields": [{**S["fields"][0], "constraints": {"unique": True}}, *S["fields"][1:]]},
        [(4, "A", "unique-error")],
    ),
    (
        "primary-key",
        [HEADER, ["1", "a", ""], ["1", "a", ""], ["1", "b", ""]],
        {**S, "primaryKey": ["id", "name"]},
        [(3, None, "primary-key")],
    ),
]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize(("code", "rows", "schema", "expected"), CASES, ids=[c[0] for c in CASES])
def test_error_code(
    check_rows: Checker,
    kind: str,
    code: str,
    rows: list[list[Any]],
    schema: dict[str, Any],
    expected: list[tuple[int | None, str | None, str]],
) -> None:
    report = check_rows(kind, rows, schema)
    assert codes(report) == expected
    assert report.counts == {code: len(expected)}
    assert not report.valid
    for error in report.errors:
        assert error.message and len(error.message) < 300


def test_every_constraint(check_rows: Checker) -> None:
    schema = {
        "fields": [
            {
                "name": "a",
                "type": "integer",
                "constraints": {"minimum": 1, "maximum": 9, "enum": [1, 2, 3, 10]},
            },
            {
                "name": "b",
                "type": "string",
                "constraints": {"minLength": 2, "maxLength": 3, "pattern": "[a-z]+"},
            },
            {"name": "c", "type": "date", "format": "%d/%m/%Y", "constraints": {"minimum": "01/01/2020"}},
        ]
    }
    rows = [["a", "b", "c"], ["10", "A", "31/12/2019"], ["0", "abcd", "01/01/2020"], ["2", "ab", "1/1/2020"]]
    for kind in ("csv", "xlsx"):
        report = check_rows(kind, rows, schema)
        got = [(e.row, e.column, e.constraint) for e in report.errors]
        assert got == [
            (2, "A", "maximum"),
            (2, "B", "minLength"),
            (2, "B", "pattern"),
            (2, "C", "minimum"),
            (3, "A", "enum"),
            (3, "A", "minimum"),
            (3, "B", "maxLength"),
        ], kind
        assert report.counts == {"constraint-error": 7}
        assert report.errors[0].value == "10"


def test_type_error_hides_constraints(check_rows: Checker) -> None:
    schema = {"fields": [{"name": "a", "type": "integer", "constraints": {"minimum": 5, "unique": True}}]}
    report = check_rows("csv", [["a"], ["x"], ["x"]], schema)
    assert codes(report) == [(2, "A", "type-error"), (3, "A", "type-error")]


def test_ragged_csv_rows(check_rows: Checker) -> None:
    report = check_rows(
        "csv", [HEADER, ["1", "a"], ["2", "b", "2024-01-01", "extra", "more"], ["3", "c", ""]], S
    )
    assert codes(report) == [(2, "C", "missing-cell"), (3, "D", "extra-cell"), (3, "E", "extra-cell")]
    assert report.errors[1].value == "extra"
    assert report.rows == 3


def test_xlsx_cells_beyond_the_header_are_extra_cells(check_rows: Checker) -> None:
    report = check_rows("xlsx", [HEADER, ["1", "a", "2024-01-01", None, "stray"]], S)
    assert codes(report) == [(2, "E", "extra-cell")]


def test_error_limit_keeps_counting(check_rows: Checker) -> None:
    rows = [HEADER] + [["x", "a", ""] for _ in range(50)]
    report = check_rows("csv", rows, S, error_limit=5)
    assert len(report.errors) == 5
    assert report.error_count == 50
    assert report.counts == {"type-error": 50}
    assert report.to_dict()["error_count"] == 50


def test_fields_match_modes(check_rows: Checker) -> None:
    rows = [["when", "id", "other"], ["2024-01-01", "1", "z"]]
    assert codes(check_rows("csv", rows, {**S, "fieldsMatch": "equal"})) == [
        (1, "C", "extra-label"),
        (1, None, "missing-label"),
    ]
    assert codes(check_rows("csv", rows, {**S, "fieldsMatch": "subset"})) == [(1, None, "missing-label")]
    assert codes(check_rows("csv", rows, {**S, "fieldsMatch": "superset"})) == [(1, "C", "extra-label")]
    assert codes(check_rows("csv", rows, {**S, "fieldsMatch": "partial"})) == []
    assert codes(check_rows("csv", [["x"], ["1"]], {**S, "fieldsMatch": "partial"})) == [
        (1, None, "missing-label")
    ]
    # Mapped by name, the values are still checked in the right column.
    bad = check_rows("csv", [["when", "id"], ["2024-01-01", "nope"]], {**S, "fieldsMatch": "superset"})
    assert codes(bad) == [(2, "B", "type-error")]


def test_error_cap_across_batches_counts_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import witan.validation.readers as readers

    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 2048)
    path = tmp_path / "many.csv"
    path.write_text("id,name,when\n" + "".join(f"x{i},a,2024-02-{20 + 10 * (i % 2)}\n" for i in range(3000)))
    report = check_file(path, parse_schema(S), file_name=path.name, error_limit=7)
    assert report.counts == {"type-error": 4500}  # every id, and every 2024-02-30
    assert report.error_count == 4500
    assert [(e.row, e.column) for e in report.errors] == [
        (2, "A"),
        (3, "A"),
        (3, "C"),
        (4, "A"),
        (5, "A"),
        (5, "C"),
        (6, "A"),
    ]
