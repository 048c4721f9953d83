"""Reports from a CheckReport: JSON shape, CSV rows, formula neutralisation, annotated workbooks."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from witan.validation import reports
from witan.validation.records import CheckError, CheckReport
from witan.validation.reports import neutralise, report_csv_text, report_dict, write_reports

LIGHT_RED = "FFFFC7CE"


def _report(errors: list[CheckError], rows: int = 3, limit: int | None = None) -> CheckReport:
    report = CheckReport(rows=rows, error_limit=limit)
    for error in errors:
        report.add(error)
    return report


def _type_error(row: int, column: str, value: str, field: str = "dob") -> CheckError:
    return CheckError(
        code="type-error",
        message=f"'{value}' is not a date",
        row=row,
        field=field,
        column=column,
        value=value,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("-5", "-5"),  # a plain number is not a formula
        ("+3.25", "+3.25"),
        ("1e5", "1e5"),
        ("abc", "abc"),
        ("", ""),
        (None, None),
    ],
)
def test_neutralise(value: str | None, expected: str | None) -> None:
    assert neutralise(value) == expected


def test_report_dict_is_the_cli_shape_plus_provenance() -> None:
    report = _report([_type_error(2, "B", "x")])
    body = report_dict(
        report, file_name="a.csv", schema_name="pupils", checked_at="2026-01-01T00:00:00+00:00"
    )
    assert body["valid"] is False
    assert body["error_count"] == 1
    assert body["counts"] == {"type-error": 1}
    assert body["errors"][0]["row"] == 2 and body["errors"][0]["column"] == "B"
    assert (body["file_name"], body["schema"], body["checked_at"]) == (
        "a.csv",
        "pupils",
        "2026-01-01T00:00:00+00:00",
    )
    assert set(report.to_dict()) <= set(body)


def test_csv_has_one_neutralised_row_per_error() -> None:
    report = _report(
        [
            _type_error(2, "B", "=cmd|' /C calc'!A0"),
            CheckError(code="missing-label", message="Column 'age' is missing", field="age"),
            CheckError(
                code="constraint-error",
                message="@SUM(1) is not allowed",
                row=4,
                field="=evil",
                column="C",
                constraint="enum",
                value="@SUM(1)",
            ),
        ]
    )
    rows = list(csv.reader(io.StringIO(report_csv_text(report))))
    assert rows[0] == ["row", "column", "field", "code", "constraint", "value", "message"]
    assert len(rows) == 4
    assert rows[1][:5] == ["2", "B", "dob", "type-error", ""]
    assert rows[1][5] == "'=cmd|' /C calc'!A0"
    assert rows[2] == ["", "", "age", "missing-label", "", "", "Column 'age' is missing"]
    assert rows[3] == ["4", "C", "'=evil", "constraint-error", "enum", "'@SUM(1)", "'@SUM(1) is not allowed"]
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), cell


def _csv_upload(tmp_path: Path) -> Path:
    path = tmp_path / "pupils.csv"
    path.write_text("id,dob,school\n1,2020-01-01,A\n2,notadate,=1+1\n3,2021-13-01,C\n", encoding="utf-8")
    return path


def test_annotated_workbook_from_csv_marks_cells_rows_and_headers(tmp_path: Path) -> None:
    report = _report(
        [
            _type_error(3, "B", "notadate"),
            _type_error(4, "B", "2021-13-01"),
            CheckError(code="blank-row", message="Row 3 has a problem across the row", row=3),
            CheckError(code="incorrect-label", message="Expected 'School' here", column="C", field="school"),
            CheckError(code="missing-label", message="Column 'age' is missing", field="age"),
        ]
    )
    out = write_reports(report, tmp_path / "out", source_path=_csv_upload(tmp_path), file_name="pupils.csv")
    assert set(out) == {"json", "csv", "xlsx"}
    wb = load_workbook(out["xlsx"])
    assert wb.sheetnames[0] == "Summary"
    data = wb[wb.sheetnames[1]]
    # cell-level: filled light red and commented with the message
    assert data["B4"].fill.fgColor.rgb == LIGHT_RED
    assert "'2021-13-01' is not a date" in data["B4"].comment.text
    assert data["B3"].comment is not None and "notadate" in data["B3"].comment.text
    # the row-level error fills the whole row and is commented on its first cell
    assert all(data.cell(row=3, column=c).fill.fgColor.rgb == LIGHT_RED for c in (1, 2, 3))
    assert "across the row" in data["A3"].comment.text
    # the header-level error sits on the header cell
    assert data["C1"].fill.fgColor.rgb == LIGHT_RED
    assert "Expected 'School'" in data["C1"].comment.text
    # untouched cells stay plain
    assert data["A2"].fill.fgColor.rgb != LIGHT_RED and data["A2"].comment is None
    # the partner's data is kept as text, never a formula, and neutralised (issue 15)
    assert data["C3"].value == "'=1+1" and data["C3"].data_type == "s"
    assert data["A2"].value == "1"
    summary = [[c for c in row if c is not None] for row in wb["Summary"].iter_rows(values_only=True)]
    assert ["type-error", 2, "Wrong kind of value"] in summary
    assert ["missing-label", 1, "Missing column"] in summary


def test_annotated_workbook_from_xlsx_copies_values_only(tmp_path: Path) -> None:
    source = tmp_path / "upload.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Pupils"
    for row in (["id", "dob", "note"], [1, "2020-01-01", "=1+1"], [2, "bad", "x"], [3, "worse", "y"]):
        ws.append(row)
    ws["D1"] = '=HYPERLINK("http://evil.example","x")'  # a live formula in the partner's workbook
    ws["C2"].data_type = "s"  # formula-like text
    wb.create_sheet("Summary").append(["the partner's own summary"])
    wb.save(source)
    report = _report([_type_error(3, "B", "bad"), _type_error(4, "B", "worse")])
    out = write_reports(report, tmp_path / "out", source_path=source, file_name="upload.xlsx")
    result = load_workbook(out["xlsx"])
    # a new workbook: our summary and the checked sheet's values; never their workbook re-saved
    assert result.sheetnames == ["Summary", "upload"]
    data = result["upload"]
    assert data["B3"].fill.fgColor.rgb == LIGHT_RED and "'bad'" in data["B3"].comment.text
    assert data["B4"].fill.fgColor.rgb == LIGHT_RED and "'worse'" in data["B4"].comment.text
    assert data["B2"].comment is None
    assert data["A3"].value == "2"
    assert data["C2"].value == "'=1+1" and data["C2"].data_type == "s"
    assert all(c.data_type != "f" for row in data.iter_rows() for c in row)


def test_named_sheet_is_annotated(tmp_path: Path) -> None:
    source = tmp_path / "upload.xlsx"
    wb = Workbook()
    wb.active.title = "Notes"
    wb.active.append(["not this one"])
    wb.create_sheet("Data").append(["id"])
    wb.save(source)
    report = _report([CheckError(code="missing-label", message="Column 'dob' is missing", column="B")])
    out = write_reports(report, tmp_path / "out", source_path=source, file_name="upload.xlsx", sheet="Data")
    result = load_workbook(out["xlsx"])
    assert result["upload"]["A1"].value == "id"
    assert result["upload"]["B1"].comment is not None


def test_capped_counts_are_stated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "ANNOTATE_MAX_ERRORS", 2)
    report = _report([_type_error(r, "B", f"v{r}") for r in range(2, 12)], rows=10, limit=5)
    assert (report.error_count, len(report.errors)) == (10, 5)
    source = tmp_path / "u.csv"
    source.write_text("id,dob\n" + "".join(f"{r},v{r}\n" for r in range(2, 12)), encoding="utf-8")
    out = write_reports(report, tmp_path / "out", source_path=source, file_name="u.csv")
    wb = load_workbook(out["xlsx"])
    texts = [row[0] for row in wb["Summary"].iter_rows(values_only=True) if row and row[0]]
    assert "All 10 errors counted; first 5 listed." in texts
    assert any(str(t).startswith("The first 2 errors are highlighted") for t in texts)
    data = wb[wb.sheetnames[1]]
    commented = [c.coordinate for row in data.iter_rows() for c in row if c.comment is not None]
    assert commented == ["B2", "B3"]
    assert len(list(csv.reader(out["csv"].open(encoding="utf-8-sig")))) == 6  # header + 5 listed
    assert json.loads(out["json"].read_text())["errors_listed"] == 5


def test_summary_only_when_not_downloaded(tmp_path: Path) -> None:
    report = _report([CheckError(code="file-too-large", message="The file is 200 MB")], rows=0)
    out = write_reports(report, tmp_path, source_path=None, file_name="big.xlsx")
    wb = load_workbook(out["xlsx"])
    assert wb.sheetnames == ["Summary"]
    texts = [row[0] for row in wb["Summary"].iter_rows(values_only=True) if row and row[0]]
    assert any("not read" in str(t) for t in texts)


def test_unreadable_xlsx_still_gets_a_summary(tmp_path: Path) -> None:
    source = tmp_path / "broken.xlsx"
    source.write_bytes(b"this is not a zip file")
    report = _report([CheckError(code="format-error", message="Not an Excel file")], rows=0)
    out = write_reports(report, tmp_path / "out", source_path=source, file_name="broken.xlsx")
    wb = load_workbook(out["xlsx"])
    assert wb.sheetnames == ["Summary"]
    assert ["format-error", 1] in [list(r[:2]) for r in wb["Summary"].iter_rows(values_only=True)]


def test_summary_values_are_neutralised_and_never_formulas(tmp_path: Path) -> None:
    report = _report([_type_error(2, "B", '=HYPERLINK("http://x")', field="+f")])
    out = write_reports(report, tmp_path, source_path=None, file_name="=evil.csv")
    ws = load_workbook(out["xlsx"])["Summary"]
    for row in ws.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate
    values = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert '\'=HYPERLINK("http://x")' in values
    assert "'+f" in values


def test_valid_report_has_no_errors_listed(tmp_path: Path) -> None:
    out = write_reports(_report([]), tmp_path, source_path=_csv_upload(tmp_path), file_name="pupils.csv")
    assert (
        out["csv"].read_text(encoding="utf-8-sig").strip() == "row,column,field,code,constraint,value,message"
    )
    body = json.loads(out["json"].read_text())
    assert body["valid"] is True and body["errors"] == []
    wb = load_workbook(out["xlsx"])
    data = wb[wb.sheetnames[1]]
    assert not any(c.comment for row in data.iter_rows() for c in row)


def test_large_csv_gets_only_header_and_error_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reports, "FULL_ANNOTATION_MAX_ROWS", 3)
    source = tmp_path / "big.csv"
    source.write_text(
        "id;dob\n" + "".join(f"{i};2020-01-0{i % 9 + 1}\n" for i in range(1, 9)), encoding="utf-8"
    )
    report = _report(
        [_type_error(4, "B", "2020-01-04"), CheckError(code="blank-row", message="Row 7 is odd", row=7)],
        rows=8,
    )
    out = write_reports(report, tmp_path / "out", source_path=source, file_name="big.csv")
    wb = load_workbook(out["xlsx"])
    assert wb.sheetnames == ["Summary", "Rows with errors"]
    ws = wb["Rows with errors"]
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values == [[1, "id", "dob"], [4, "3", "2020-01-04"], [7, "6", "2020-01-07"]]
    assert ws["C2"].fill.fgColor.rgb == LIGHT_RED and "'2020-01-04'" in ws["C2"].comment.text
    assert ws["B3"].comment is not None and "Row 7 is odd" in ws["B3"].comment.text
    assert ws["A3"].fill.fgColor.rgb == LIGHT_RED
    texts = [row[0] for row in wb["Summary"].iter_rows(values_only=True) if row and row[0]]
    assert any("only its header and the rows with highlighted errors" in str(t) for t in texts)


def test_large_xlsx_rows_keep_sheet_row_numbers_and_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports, "FULL_ANNOTATION_MAX_ROWS", 1)
    source = tmp_path / "offset.xlsx"
    wb = Workbook()
    ws = wb.active
    ws["C3"], ws["D3"] = "id", "dob"  # data starts at C3, as partners' sheets sometimes do
    for i, row in enumerate(range(4, 8)):
        ws.cell(row=row, column=3, value=i)
        ws.cell(row=row, column=4, value=f"bad{i}")
    wb.save(source)
    report = _report([_type_error(6, "D", "bad2")], rows=4)
    out = write_reports(report, tmp_path / "out", source_path=source, file_name="offset.xlsx")
    result = load_workbook(out["xlsx"])["Rows with errors"]
    assert [list(r) for r in result.iter_rows(values_only=True)] == [[3, "id", "dob"], [6, "2", "bad2"]]
    assert result["C2"].comment is not None and "'bad2'" in result["C2"].comment.text
    assert result["B2"].comment is None
