"""CLD as xlsx or Parquet reads like CSV; the demo folder writer."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from asc_fixtures import RESIDENTIAL, cld_csv
from witan.modelrun.definition import InputFile
from witan.models.asc.inputs import read_cld, read_inputs_dir
from witan.models.asc.states import derive_states
from witan.models.asc.synthetic import SyntheticSpec, write_synthetic

ROWS = [
    {"id": "A", "nhs": "1234567890", "service": RESIDENTIAL, "mech": ""},
    {"id": "B", "mech": "Direct Payment", "dob": "1950-02-03"},
]


def _states(f: InputFile) -> list[list[int]]:
    return derive_states(read_cld([f])).state.tolist()


def test_xlsx_and_parquet_read_like_csv() -> None:
    import openpyxl

    data = cld_csv(ROWS)
    table = pacsv.read_csv(io.BytesIO(data), convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    expected = _states(InputFile("cld.csv", data))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    assert _states(InputFile("cld.parquet", buf.getvalue())) == expected
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(table.column_names)
    for row in table.to_pylist():
        ws.append([None if v == "" else v for v in row.values()])
    xbuf = io.BytesIO()
    wb.save(xbuf)
    assert _states(InputFile("cld.xlsx", xbuf.getvalue())) == expected
    assert isinstance(table, pa.Table)


def test_write_synthetic_makes_a_runnable_folder(tmp_path: Path) -> None:
    folder = write_synthetic(tmp_path / "demo", SyntheticSpec(adults=20_000, years=2))
    found = read_inputs_dir(str(folder))
    assert len(found["cld"]) == 8 and len(found["population"]) == 1
    assert json.loads((folder / "prevention.json").read_text())["name"] == "prevention"
