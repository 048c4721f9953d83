"""The template workbook: header row, explanation sheet, data validations per field type."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from witan.collect.requests.template import HELP_SHEET, LISTS_SHEET, template_xlsx
from witan.validation.schema import parse_schema

SCHEMA = parse_schema(
    {
        "name": "pupils",
        "fields": [
            {
                "name": "id",
                "type": "integer",
                "constraints": {"required": True, "minimum": 1, "maximum": 99999},
            },
            {"name": "dob", "type": "date", "constraints": {"minimum": "2000-01-01"}},
            {"name": "school", "type": "string", "constraints": {"enum": ["A", "B", "C"]}},
            {"name": "fte", "type": "number", "constraints": {"maximum": 1.5}},
            {"name": "code", "type": "string", "constraints": {"enum": [f"CODE-{i:03d}" for i in range(60)]}},
            {"name": "sen", "type": "boolean"},
            {"name": "note", "type": "string", "description": "=cmd|' /C calc'!A0"},
        ],
    }
)


def _book(**kwargs: object):
    return load_workbook(io.BytesIO(template_xlsx(SCHEMA, **kwargs)))  # type: ignore[arg-type]


def _validations(ws) -> dict[str, object]:
    out = {}
    for dv in ws.data_validations.dataValidation:
        for cell_range in dv.sqref.ranges:
            out[str(cell_range).split(":")[0].rstrip("0123456789")] = dv
    return out


def test_header_row_and_sheet_order() -> None:
    wb = _book()
    assert wb.sheetnames[:2] == ["Data", HELP_SHEET]
    ws = wb["Data"]
    assert [c.value for c in ws[1]] == ["id", "dob", "school", "fte", "code", "sen", "note"]
    assert ws.max_row == 1  # no data rows: formats alone do not add rows the validator would read
    assert ws.freeze_panes == "A2"


def test_data_sheet_takes_request_sheet_name() -> None:
    assert _book(sheet="Pupils").sheetnames[0] == "Pupils"


def test_validations_per_type() -> None:
    dvs = _validations(_book()["Data"])
    assert (dvs["A"].type, dvs["A"].formula1, dvs["A"].formula2) == ("whole", "1", "99999")
    assert (dvs["B"].type, dvs["B"].operator, dvs["B"].formula1) == (
        "date",
        "greaterThanOrEqual",
        "DATE(2000,1,1)",
    )
    assert (dvs["C"].type, dvs["C"].formula1) == ("list", '"A,B,C"')
    assert (dvs["D"].type, dvs["D"].formula2) == ("decimal", "1.5")
    assert dvs["E"].type == "list" and dvs["E"].formula1 == "'Lists'!$A$2:$A$61"  # too long to inline
    assert dvs["F"].formula1 == '"true,false"'
    assert "G" not in dvs  # free text: nothing to validate
    assert all(dv.showErrorMessage for dv in dvs.values())
    assert "A2:A5001" in str(dvs["A"].sqref)


def test_long_enum_list_sheet_is_hidden() -> None:
    wb = _book()
    lists = wb[LISTS_SHEET]
    assert lists.sheet_state == "hidden"
    assert [lists.cell(row=r, column=1).value for r in (1, 2, 61)] == ["code", "CODE-000", "CODE-059"]


def test_explanation_sheet() -> None:
    ws = _book(title="Census")[HELP_SHEET]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header_at = next(i for i, r in enumerate(rows) if r[0] == "Column")
    by_field = {r[1]: r for r in rows[header_at + 1 :]}
    assert set(by_field) == set(SCHEMA.field_names)
    assert by_field["id"][2] == "yes" and by_field["school"][2] == "no"
    assert by_field["id"][3] == "a whole number"
    assert by_field["school"][4] == "A, B, C"
    assert "at least 1" in by_field["id"][5] and "at most 99999" in by_field["id"][5]
    assert by_field["note"][7].startswith("'=")  # formula injection neutralised
    assert rows[0][0] == "Template for: Census"


def test_filled_template_passes_the_upload_check(tmp_path) -> None:
    from datetime import date

    from witan.validation import check_file

    wb = _book()
    ws = wb["Data"]
    ws.append([1, date(2010, 5, 1), "A", 1.0, "CODE-001", "true", "ok"])
    ws.append([2, date(2011, 6, 2), "C", 0.5, "CODE-059", "false", None])
    path = tmp_path / "filled.xlsx"
    wb.save(path)
    report = check_file(path, SCHEMA, file_name="filled.xlsx")
    assert report.counts == {} and report.rows == 2
