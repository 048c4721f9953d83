"""The run workbook: text cells inert as formulas, and bounded in rows (big tables stay CSV/Parquet)."""

from __future__ import annotations

import io

import pyarrow as pa
from openpyxl import load_workbook
from witan.modelrun import xlsx


def test_text_that_would_start_a_formula_is_made_inert() -> None:
    table = pa.table({"scenario": ['=HYPERLINK("http://x")', "-cmd", "plain"], "value": [-5.0, 1.0, 2.0]})
    data = xlsx.summaries_workbook({"count": table}, {"description": "@SUM(A1)", "seed": 3})
    wb = load_workbook(io.BytesIO(data), read_only=True)
    rows = list(wb["count"].iter_rows(values_only=True))
    assert rows[1:] == [('\'=HYPERLINK("http://x")', -5.0), ("'-cmd", 1.0), ("plain", 2.0)]
    assert dict(wb["run"].iter_rows(values_only=True))["description"] == "'@SUM(A1)"


def test_tables_beyond_the_row_budget_are_left_to_their_files(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(xlsx, "MAX_WORKBOOK_ROWS", 10)
    small, big = pa.table({"v": list(range(6))}), pa.table({"v": list(range(7))})
    wb = load_workbook(io.BytesIO(xlsx.summaries_workbook({"a": small, "b": big, "c": small[:4]}, {})))
    assert wb.sheetnames == ["run", "a", "c"]
    notes = dict(wb["run"].iter_rows(values_only=True))
    assert notes["sheet b"] == "left out: 7 rows; see b.csv or b.parquet"
