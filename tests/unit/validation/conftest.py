"""The validation tests' fixture: write rows as CSV or XLSX and check them (helpers: validation_files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from validation_files import Checker, write_csv, write_xlsx
from witan.validation import CheckReport, check_file, parse_schema


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
