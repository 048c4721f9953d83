"""The run's summaries as one workbook (openpyxl write-only mode: streams rows, low memory)."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
from openpyxl import Workbook


def summaries_workbook(sheets: dict[str, pa.Table], metadata: dict[str, Any]) -> bytes:
    wb = Workbook(write_only=True)
    about = wb.create_sheet("run")
    for key, value in metadata.items():
        about.append([key, value if isinstance(value, int | float | str) else json.dumps(value)])
    for name, table in sheets.items():
        ws = wb.create_sheet(name[:31])
        ws.append(table.column_names)
        for row in zip(*(table[c].to_pylist() for c in table.column_names), strict=True):
            ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
