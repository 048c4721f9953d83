"""Reports of a check, for people: JSON, CSV (one row per error) and an annotated workbook.

Values from the partner's file are echoed back; anything that a spreadsheet could run as a formula is
neutralised (OWASP CSV injection advice) before it goes into a CSV or a cell we write. The partner's
data is copied into a new workbook as values only (their workbook itself, with its formulas, links and
macros, is never re-saved), and a file refused as a whole is not opened again. The annotated
workbook is bounded: at most `ANNOTATE_MAX_ERRORS` cells are marked, and a source larger than
`ANNOTATE_MAX_SOURCE_BYTES` gets a summary-only workbook (openpyxl holds a whole workbook in memory).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import column_index_from_string
from openpyxl.worksheet.worksheet import Worksheet

from witan.validation.readers import cell_text, detect_encoding, sniff_delimiter
from witan.validation.records import ERROR_CODES, FILE_REFUSAL_CODES, CheckError, CheckReport

CSV_COLUMNS: tuple[str, ...] = ("row", "column", "field", "code", "constraint", "value", "message")
ERROR_FILL = PatternFill(fill_type="solid", start_color="FFFFC7CE", end_color="FFFFC7CE")  # light red
ANNOTATE_MAX_ERRORS = 500  # cells marked in the annotated workbook
ANNOTATE_MAX_SOURCE_BYTES = 20 * 1024 * 1024  # larger sources get a summary-only workbook
FULL_ANNOTATION_MAX_ROWS = 5000  # above this, only the header and the rows with errors are copied
ANNOTATE_MAX_ROW_CELLS = 200  # a row-level error fills at most this many cells of its row
SUMMARY_MAX_ERRORS = 100  # errors listed on the Summary sheet
COMMENT_MAX_CHARS = 1000
XLSX_SUFFIXES = (".xlsx", ".xlsm")
HEADER_ROW = 1  # where header-level errors (row None, column set) are marked

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Control characters other than tab/newline are invalid in xlsx XML and make openpyxl raise.
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(value: str | None) -> str | None:
    """Make `value` inert in a spreadsheet: prefix a quote when it would start a formula.

    Plain numbers such as "-5" or "+3.2" are left alone: a spreadsheet reads them as numbers, not
    formulas, and quoting them would only confuse the reader.
    """
    if not value:
        return value
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _cell_text(value: str | None) -> str | None:
    """Text safe to put in a cell we write: neutralised and without XML-illegal characters."""
    text = neutralise(value)
    return _ILLEGAL_XLSX.sub("\ufffd", text) if text else text


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def report_dict(
    report: CheckReport, *, file_name: str, schema_name: str | None = None, checked_at: str | None = None
) -> dict[str, Any]:
    """The CLI's `--format json` shape plus where it came from. Values stay as found (JSON is data)."""
    body = report.to_dict()
    body["file_name"] = file_name
    body["schema"] = schema_name
    body["checked_at"] = checked_at or _now()
    body["error_limit"] = report.error_limit
    body["errors_listed"] = len(report.errors)
    return body


def report_json_bytes(
    report: CheckReport, *, file_name: str, schema_name: str | None = None, checked_at: str | None = None
) -> bytes:
    body = report_dict(report, file_name=file_name, schema_name=schema_name, checked_at=checked_at)
    return json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8")


def report_csv_text(report: CheckReport) -> str:
    """One row per listed error, every text value neutralised against formula injection."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for error in report.errors:
        writer.writerow(
            [
                "" if error.row is None else error.row,
                error.column or "",
                neutralise(error.field) or "",
                error.code,
                error.constraint or "",
                neutralise(error.value) or "",
                neutralise(error.message) or "",
            ]
        )
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------
# Annotated workbook


def _group_errors(
    errors: Iterable[CheckError],
) -> tuple[dict[tuple[int, int], list[str]], dict[int, list[str]]]:
    """Messages keyed by (row, column index) for cell errors and by row for whole-row errors."""
    cells: dict[tuple[int, int], list[str]] = {}
    rows: dict[int, list[str]] = {}
    for error in errors:
        column = _column_index(error.column)
        if column is not None:
            row = error.row if error.row is not None else HEADER_ROW
            cells.setdefault((row, column), []).append(error.message)
        elif error.row is not None:
            rows.setdefault(error.row, []).append(error.message)
    return cells, rows


def _column_index(letter: str | None) -> int | None:
    if not letter:
        return None
    try:
        return column_index_from_string(letter.upper())
    except ValueError:
        return None


def _comment(messages: list[str]) -> Comment:
    text = "\n".join(messages)
    if len(text) > COMMENT_MAX_CHARS:
        text = text[: COMMENT_MAX_CHARS - 1] + "…"
    comment = Comment(_ILLEGAL_XLSX.sub("\ufffd", text), "Witan")
    comment.width, comment.height = 300, 120
    return comment


def _summary_rows(
    report: CheckReport,
    *,
    file_name: str,
    schema_name: str | None,
    checked_at: str,
    annotated: int,
    note: str | None,
) -> Iterator[list[Any]]:
    """The Summary sheet, as rows of plain values (written by both workbook writers)."""
    yield [f"Check report for {file_name}"]
    yield ["Schema", schema_name or ""]
    yield ["Checked at", checked_at]
    yield ["Rows", report.rows]
    yield ["Result", "valid" if report.valid else f"{report.error_count} errors"]
    listed = len(report.errors)
    if report.error_count > listed:
        yield [f"All {report.error_count} errors counted; first {listed} listed."]
    if annotated < listed:
        yield [f"The first {annotated} errors are highlighted in the data; see the CSV report for the rest."]
    if note:
        yield [note]
    yield []
    yield ["Code", "Count", "Meaning"]
    for code, count in sorted(report.counts.items(), key=lambda item: (-item[1], item[0])):
        yield [code, count, ERROR_CODES.get(code, "")]
    yield []
    shown = report.errors[:SUMMARY_MAX_ERRORS]
    if shown:
        yield [f"First {len(shown)} errors"]
        yield ["Row", "Column", "Field", "Code", "Constraint", "Value", "Message"]
        for e in shown:
            yield [
                e.row,
                e.column,
                _cell_text(e.field),
                e.code,
                e.constraint,
                _cell_text(e.value),
                _cell_text(e.message),
            ]


_BOLD_LABELS = {"Code", "Row"}


def _fill_summary(ws: Worksheet, rows: Iterable[list[Any]]) -> None:
    for values in rows:
        ws.append(values)
        if values and (values[0] in _BOLD_LABELS or ws.max_row == 1):
            for cell in ws[ws.max_row]:
                cell.font = Font(bold=True)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never let openpyxl treat our text as a formula
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["G"].width = 60


def _unique_title(existing: Iterable[str], wanted: str) -> str:
    taken = {name.lower() for name in existing}
    title, n = wanted, 2
    while title.lower() in taken:
        title, n = f"{wanted} {n}", n + 1
    return title


def _csv_rows(source_path: Path) -> tuple[int, Iterator[list[Any]]]:
    """(column offset 0, records numbered as the checker numbers them: header = row 1)."""
    encoding = detect_encoding(source_path)
    encoding = "utf-8-sig" if encoding == "utf8" else encoding

    def rows() -> Iterator[list[Any]]:
        with source_path.open(encoding=encoding, newline="") as handle:
            delimiter = sniff_delimiter(handle.read(64 * 1024))
            handle.seek(0)
            yield from csv.reader(handle, delimiter=delimiter)

    return 0, rows()


def _xlsx_rows(source_path: Path, sheet: str | None) -> tuple[int, Iterator[list[Any]]]:
    """(column offset, rows from sheet row 1) read with calamine, as the checker reads them."""
    import python_calamine

    workbook = python_calamine.CalamineWorkbook.from_path(str(source_path))
    chosen: python_calamine.CalamineSheet | None
    if sheet is not None:
        chosen = workbook.get_sheet_by_name(sheet)
    else:
        chosen = next(
            (s for n in workbook.sheet_names if (s := workbook.get_sheet_by_name(n)).start is not None), None
        )
    if chosen is None or chosen.start is None:
        return 0, iter(())
    return int(chosen.start[1]), ([cell_text(c, None) for c in row] for row in chosen.iter_rows())


def _write_rows(
    ws: Any,
    numbered: Iterable[tuple[int, list[Any]]],
    *,
    col_offset: int,
    cells: dict[tuple[int, int], list[str]],
    rows: dict[int, list[str]],
    with_row_numbers: bool,
) -> None:
    """Append source rows to a write-only sheet, marking error cells; optionally number them in A."""
    widest: dict[int, int] = {}  # per row, the rightmost marked column (may lie beyond the record)
    for row, column in cells:
        widest[row] = max(widest.get(row, 0), column - col_offset)
    for row_number, record in numbered:
        row_messages = rows.get(row_number)
        width = max(len(record), widest.get(row_number, 0), 1 if row_messages else 0)
        out_row: list[Cell] = []  # WriteOnlyCell makes Cells
        if with_row_numbers:
            number = WriteOnlyCell(ws, value=row_number)
            number.font = Font(bold=True)
            out_row.append(number)
        for position in range(1, width + 1):
            raw = record[position - 1] if position <= len(record) else None
            text = _cell_text(str(raw)) if raw not in (None, "") else None
            cell = WriteOnlyCell(ws, value=text)
            if text:
                cell.data_type = "s"  # the value as text (neutralised), never a formula
            messages = cells.get((row_number, position + col_offset))
            if row_messages and position == 1:
                messages = [*row_messages, *(messages or [])]
            if messages or row_messages:
                cell.fill = ERROR_FILL
            if messages:
                cell.comment = _comment(messages)
            out_row.append(cell)
        if with_row_numbers and row_messages:
            out_row[0].fill = ERROR_FILL
        ws.append(out_row)


def _annotate_rows(
    kind: str,
    source_path: Path,
    report: CheckReport,
    *,
    file_name: str,
    sheet: str | None,
    out: Path,
    summary: list[list[Any]],
    only_error_rows: bool,
) -> None:
    """Write-only workbook: Summary, then the data (all rows, or only the header and rows with errors)."""
    cells, rows = _group_errors(report.errors[:ANNOTATE_MAX_ERRORS])
    col_offset, source_rows = _csv_rows(source_path) if kind == "csv" else _xlsx_rows(source_path, sheet)
    wanted = {r for r, _ in cells} | set(rows)
    wb = Workbook(write_only=True)
    _fill_write_only_summary(wb.create_sheet("Summary"), summary)
    title = "Rows with errors" if only_error_rows else (Path(file_name).stem[:31] or "Data")
    ws = wb.create_sheet(_unique_title(["Summary"], title))

    def numbered() -> Iterator[tuple[int, list[Any]]]:
        header_seen = False
        last = max(wanted, default=0)
        for row_number, record in enumerate(source_rows, start=1):
            is_header = not header_seen and any(v not in (None, "") for v in record)
            header_seen = header_seen or is_header
            if not only_error_rows or is_header or row_number in wanted:
                yield row_number, record
            if only_error_rows and header_seen and row_number >= last:
                return  # nothing further to show: stop reading

    _write_rows(
        ws, numbered(), col_offset=col_offset, cells=cells, rows=rows, with_row_numbers=only_error_rows
    )
    wb.save(out)


def _fill_write_only_summary(ws: Any, rows: Iterable[list[Any]]) -> None:
    first = True
    for values in rows:
        out = []
        for value in values:
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            if first or (values and values[0] in _BOLD_LABELS):
                cell.font = Font(bold=True)
            out.append(cell)
        ws.append(out)
        first = False


def _source_kind(source_path: Path, file_name: str) -> str | None:
    """How the checker read the file: xlsx (a zip) or csv (text); None for other formats."""
    with source_path.open("rb") as handle:
        magic = handle.read(4)
    if magic == b"PK\x03\x04" or file_name.lower().endswith(XLSX_SUFFIXES):
        return "xlsx"
    if magic.startswith(b"\xd0\xcf"):  # old .xls: not annotated
        return None
    return "csv"


def write_annotated_workbook(
    report: CheckReport,
    out: Path,
    *,
    source_path: Path | None,
    file_name: str,
    sheet: str | None = None,
    schema_name: str | None = None,
    checked_at: str | None = None,
) -> Path:
    """Summary first, then the partner's data with error cells filled light red and commented.

    Up to FULL_ANNOTATION_MAX_ROWS rows: a new workbook holding the values of their sheet or CSV (never
    their own workbook re-saved: it could carry formulas, links or macros). Larger files (openpyxl
    writes about 5-10k cells a second) get a sheet holding only the header and the rows with annotated
    errors, numbered as in their file. A missing, unreadable, unsupported or refused source gets a
    Summary-only workbook.
    """
    checked_at = checked_at or _now()
    note: str | None = None
    kind: str | None = None
    if source_path is None:
        note = "The file was not read, so only this summary is included."
    elif FILE_REFUSAL_CODES & set(report.counts):
        # Refused as a whole (a bomb, beyond a limit, unreadable): never opened again to annotate.
        note = "The file could not be checked, so only this summary is included."
    elif source_path.stat().st_size > ANNOTATE_MAX_SOURCE_BYTES:
        note = "The file is too large to annotate; see the CSV report for every listed error."
    else:
        kind = _source_kind(source_path, file_name)
        if kind is None:
            note = "Only Excel (.xlsx) and CSV files can be annotated; see the CSV report."
    annotated = min(len(report.errors), ANNOTATE_MAX_ERRORS) if kind else 0
    only_error_rows = report.rows > FULL_ANNOTATION_MAX_ROWS

    def summary(annotated: int, note: str | None) -> list[list[Any]]:
        return list(
            _summary_rows(
                report,
                file_name=file_name,
                schema_name=schema_name,
                checked_at=checked_at,
                annotated=annotated,
                note=note,
            )
        )

    if kind is not None and source_path is not None:
        try:
            large = (
                f"The file has {report.rows} rows, so the next sheet shows only its header and the "
                "rows with highlighted errors; column A gives each row's number in your file."
            )
            _annotate_rows(
                kind,
                source_path,
                report,
                file_name=file_name,
                sheet=sheet,
                out=out,
                summary=summary(annotated, large if only_error_rows else None),
                only_error_rows=only_error_rows,
            )
            return out
        except Exception:
            note = "The file could not be opened for annotation, so only this summary is included."
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Summary"
    _fill_summary(ws, summary(0, note))
    wb.save(out)
    return out


def write_reports(
    report: CheckReport,
    out_dir: Path | str,
    *,
    source_path: Path | str | None,
    file_name: str,
    sheet: str | None = None,
    schema_name: str | None = None,
    checked_at: str | None = None,
) -> dict[str, Path]:
    """Write report.json, report.csv and report.xlsx into `out_dir`; return them by format."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checked_at = checked_at or _now()
    paths = {
        "json": out_dir / "report.json",
        "csv": out_dir / "report.csv",
        "xlsx": out_dir / "report.xlsx",
    }
    paths["json"].write_bytes(
        report_json_bytes(report, file_name=file_name, schema_name=schema_name, checked_at=checked_at)
    )
    paths["csv"].write_text(report_csv_text(report), encoding="utf-8-sig", newline="")
    write_annotated_workbook(
        report,
        paths["xlsx"],
        source_path=Path(source_path) if source_path is not None else None,
        file_name=file_name,
        sheet=sheet,
        schema_name=schema_name,
        checked_at=checked_at,
    )
    return paths
