"""Helpers for the validation tests: write small CSV/XLSX files and run check_file on them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from witan.validation import CheckReport, check_file, parse_schema


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


@pytest.fixture
def check_rows(tmp_path: Path) -> Checker:
    """check_rows(kind, rows, schema_dict, **kw): write rows as csv or xlsx and check them."""

    def run(kind: str, rows: list[list[Any]], schema: dict[str, Any], **kw: Any) -> CheckReport:
        if kind == "csv":
            path = write_csv(tmp_path / "data.csv", [["" if c is None else str(c) for c in r] for r in rows])
        else:
            path = write_xlsx(tmp_path / "data.xlsx", rows)
        kw.setdefault("error_limit", None)
        return check_file(path, parse_schema(schema), file_name=path.name, **kw)

    return run


def codes(report: CheckReport) -> list[tuple[int | None, str | None, str]]:
    """(row, column, code) of every listed error, to assert on exactly."""
    return [(e.row, e.column, e.code) for e in report.errors]
