"""XLSX reading: date cells and serials, numbers as text, trailing empties, sheets, formulas, bombs."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from validation_files import codes, write_xlsx
from witan.validation import check_file, parse_schema

SCHEMA = parse_schema(
    {
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "dob", "type": "date", "format": "%d/%m/%Y"},
            {"name": "seen", "type": "datetime"},
            {"name": "code", "type": "string"},
            {"name": "flag", "type": "boolean"},
        ]
    }
)


def check(path: Path, **kw: Any) -> Any:
    return check_file(path, SCHEMA, file_name=path.name, error_limit=None, **kw)


def test_native_cells_are_read_as_the_field_expects(tmp_path: Path) -> None:
    rows = [
        ["id", "dob", "seen", "code", "flag"],
        [1, dt.date(2020, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 5), "007", True],
        ["2", "01/03/2020", "2024-01-02T03:04:05", 7, False],  # numbers stored as text; text dates
        [3.0, 45000, 45000.5, 1.5, "true"],  # Excel serial numbers in date cells
        [4.5, dt.datetime(2020, 1, 1, 10, 0), "x", None, "maybe"],
    ]
    out = tmp_path / "x.parquet"
    report = check(write_xlsx(tmp_path / "t.xlsx", rows))
    assert codes(report) == [
        (5, "A", "type-error"),
        (5, "B", "type-error"),
        (5, "C", "type-error"),
        (5, "E", "type-error"),
    ]
    assert report.errors[0].value == "4.5"
    del rows[4]
    report = check(write_xlsx(tmp_path / "t.xlsx", rows), parquet_path=out)
    assert report.valid
    import pyarrow.parquet as pq

    got = pq.read_table(out).to_pylist()
    assert [r["dob"] for r in got] == [dt.date(2020, 2, 29), dt.date(2020, 3, 1), dt.date(2023, 3, 15)]
    assert got[2]["seen"] == dt.datetime(2023, 3, 15, 12, 0)
    assert [r["code"] for r in got] == ["007", "7", "1.5"]
    assert [r["id"] for r in got] == [1, 2, 3]


def test_rows_and_columns_are_the_sheets_own(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Empty"
    data = wb.create_sheet("Data")
    for j, label in enumerate(["id", "dob", "seen", "code", "flag"]):
        data.cell(row=3, column=3 + j, value=label)  # table starts at C3
    data.cell(row=4, column=3, value="x")
    data.cell(row=6, column=3, value=5)  # row 5 left empty: a blank row in the middle
    data.cell(row=40, column=20).number_format = "0.00"  # formatting only: trailing, ignored
    path = tmp_path / "offset.xlsx"
    wb.save(path)
    report = check(path)  # the first non-empty sheet is used
    assert codes(report) == [(4, "C", "type-error"), (5, None, "blank-row")]
    assert report.rows == 3


def test_sheet_by_name_and_missing_sheet(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "s.xlsx", [["id", "dob", "seen", "code", "flag"], ["x"]], sheet="Returns")
    assert codes(check(path, sheet="Returns")) == [(2, "A", "type-error")]
    report = check(path, sheet="Nope")
    assert codes(report) == [(None, None, "format-error")]
    assert "Returns" in report.errors[0].message


def test_trailing_empty_rows_and_columns_are_ignored(tmp_path: Path) -> None:
    rows = [
        ["id", "dob", "seen", "code", "flag", None, None],
        [1, None, None, None, None, None, None],
        [None] * 7,
        [None] * 7,
    ]
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    ws.cell(row=10, column=9, value="")  # an empty string cell far away
    path = tmp_path / "t.xlsx"
    wb.save(path)
    report = check(path)
    assert report.valid, report.errors
    assert report.rows == 1


def test_formulas_are_read_by_cached_value(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "f.xlsx", [["id", "dob", "seen", "code", "flag"], ["=1+1", None, None, "a", None]]
    )
    # openpyxl writes no cached value; add one as Excel would.
    patched = tmp_path / "f2.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                assert b"<f>1+1</f><v />" in data
                data = data.replace(b"<f>1+1</f><v />", b"<f>1+1</f><v>2</v>")
            dst.writestr(item, data)
    out = tmp_path / "f.parquet"
    report = check(patched, parquet_path=out)
    assert report.valid, report.errors
    import pyarrow.parquet as pq

    assert pq.read_table(out).column("id").to_pylist() == [2]


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import witan.validation.readers as readers

    path = write_xlsx(tmp_path / "b.xlsx", [["id"], *[[1] for _ in range(2000)]])
    monkeypatch.setattr(readers, "XLSX_MAX_UNCOMPRESSED", 10_000)
    report = check(path)
    assert codes(report) == [(None, None, "file-too-large")]
    assert "unpacks to" in report.errors[0].message
    monkeypatch.setattr(readers, "XLSX_MAX_UNCOMPRESSED", 10**9)
    monkeypatch.setattr(readers, "XLSX_RATIO_FLOOR", 1000)
    monkeypatch.setattr(readers, "XLSX_MAX_RATIO", 2)
    assert codes(check(path)) == [(None, None, "file-too-large")]
