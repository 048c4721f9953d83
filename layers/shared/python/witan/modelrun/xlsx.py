"""The run's summaries as one workbook (openpyxl write-only mode: streams rows, low memory).

Every text cell is neutralised against formulas (scenario names and descriptions are user text), and
the workbook is bounded: sheets are written in order while their rows fit in MAX_WORKBOOK_ROWS (a
demography run of every council holds millions of rows; a sheet holds at most 1,048,576, and openpyxl
writes about 20,000 rows a second); a table that does not fit is left to its CSV and Parquet files,
and the "run" sheet says so.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
from openpyxl import Workbook

MAX_WORKBOOK_ROWS = 25_000


def _cell(value: Any) -> Any:
    from witan.validation.reports import neutralise

    return neutralise(value) if isinstance(value, str) else value


def summaries_workbook(sheets: dict[str, pa.Table], metadata: dict[str, Any]) -> bytes:
    wb = Workbook(write_only=True)
    about = wb.create_sheet("run")
    for key, value in metadata.items():
        about.append([key, _cell(value if isinstance(value, int | float | str) else json.dumps(value))])
    room = MAX_WORKBOOK_ROWS
    for name, table in sheets.items():
        if table.num_rows > room:
            about.append(
                [
                    f"sheet {name}",
                    _cell(f"left out: {table.num_rows:,} rows; see {name}.csv or {name}.parquet"),
                ]
            )
            continue
        room -= table.num_rows
        ws = wb.create_sheet(name[:31])
        ws.append(table.column_names)
        text = [pa.types.is_string(t) or pa.types.is_large_string(t) for t in table.schema.types]
        columns = [
            [_cell(v) for v in table[c].to_pylist()] if is_text else table[c].to_pylist()
            for c, is_text in zip(table.column_names, text, strict=True)
        ]
        for row in zip(*columns, strict=True):
            ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
