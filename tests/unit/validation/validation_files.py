"""Helpers for the validation tests: write small CSV/XLSX files, and the codes of a report.

A uniquely named module: `from conftest import ...` would pick up another folder's conftest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from witan.validation import CheckReport


def write_xlsx(path: Path, rows: list[list[Any]], sheet: str = "Data") -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> Path:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


Checker = Callable[..., CheckReport]


def codes(report: CheckReport) -> list[tuple[int | None, str | None, str]]:
    """(row, column, code) of every listed error, to assert on exactly."""
    return [(e.row, e.column, e.code) for e in report.errors]
