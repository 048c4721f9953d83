"""Agreement with frictionless 5 on generated files: the same (row, field, code) cells."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from validation_files import write_csv, write_xlsx
from witan.validation import check_file, parse_schema

SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
        {"name": "kind", "type": "string", "constraints": {"enum": ["a", "b", "c"]}},
        {"name": "dob", "type": "date", "format": "%d/%m/%Y"},
        {"name": "amount", "type": "number", "constraints": {"minimum": 0}},
        {"name": "flag", "type": "boolean"},
        {"name": "code", "type": "string", "constraints": {"pattern": "[A-Z]{2}[0-9]", "maxLength": 3}},
    ]
}
POOLS = [
    ["1", "2", "3", "-3", " 7", "x", "1.5", ""],
    ["a", "b", "c", "d", ""],
    ["01/02/2023", "1/2/2023", "30/02/2023", "2023-02-01", "29/02/2024", "29/02/2023", ""],
    ["1.5", "-2", "abc", "1e3", "0", ""],
    ["true", "0", "FALSE", "yes", ""],
    ["AB1", "ab1", "ABC1", "A1", ""],
]
row_strategy = st.tuples(*[st.sampled_from(p) for p in POOLS]).map(list)


def frictionless_cells(path: Path) -> set[tuple[int, str, str]]:
    from frictionless import Resource, Schema, validate

    resource = Resource(path=path.name, basepath=str(path.parent), schema=Schema.from_descriptor(SCHEMA))
    report = validate(resource, limit_errors=0)
    return {(r, f or "", t) for r, f, t in report.flatten(["rowNumber", "fieldName", "type"])}


def witan_cells(path: Path) -> set[tuple[int, str, str]]:
    report = check_file(path, parse_schema(SCHEMA), file_name=path.name, error_limit=None)
    return {
        (e.row or 0, e.field or "", e.code if e.code != "blank-row" else "blank-row") for e in report.errors
    }


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row_strategy, min_size=1, max_size=25), blank_at=st.integers(0, 30))
def test_csv_agrees_with_frictionless(rows: list[list[str]], blank_at: int) -> None:
    if blank_at < len(rows):
        rows.insert(blank_at, [""] * 6)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_csv(Path(tmp) / "data.csv", [[f["name"] for f in SCHEMA["fields"]], *rows])
        assert witan_cells(path) == frictionless_cells(path)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row_strategy, min_size=1, max_size=15))
def test_xlsx_text_cells_agree_with_frictionless(rows: list[list[str]]) -> None:
    rows = [[v if v else None for v in r] for r in rows if any(r)]
    if not rows:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = write_xlsx(Path(tmp) / "data.xlsx", [[f["name"] for f in SCHEMA["fields"]], *rows])
        assert witan_cells(path) == frictionless_cells(path)
