"""A template workbook for a schema: the header row, a sheet explaining every field, and data
validations so that Excel flags wrong values while the partner types them (the upload check still
decides; validations are a courtesy, pasted values bypass them).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from witan.collect.requests.partner import explain_field
from witan.validation.schema import Field, Schema, example_value, parse_constraint_value

if TYPE_CHECKING:  # openpyxl is imported when a template is built: the API's cold start stays small
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

TEMPLATE_ROWS = 5000  # rows covered by the validations
DATA_SHEET = "Data"
HELP_SHEET = "Fields"
LISTS_SHEET = "Lists"  # hidden: long enum lists (an inline list is limited to 255 characters)
HEADER_COLOUR = "DDEBF7"
REQUIRED_COLOUR = "FCE4D6"


def _excel_date(f: Field, value: object) -> str | None:
    parsed = parse_constraint_value(f, value)
    if isinstance(parsed, datetime):
        parsed = parsed.date()
    if isinstance(parsed, date):
        return f"DATE({parsed.year},{parsed.month},{parsed.day})"
    return None


def _validation(f: Field, column: str, wb: Workbook, lists_col: list[int]) -> DataValidation | None:
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    from witan.validation.reports import neutralise

    c = f.constraints
    where = f"{column}2:{column}{TEMPLATE_ROWS + 1}"
    dv: DataValidation | None = None
    if "enum" in c or f.type == "boolean":
        values = [str(v) for v in c["enum"]] if "enum" in c else [f.true_values[0], f.false_values[0]]
        inline = ",".join(values)
        if len(inline) <= 250 and not any("," in v or '"' in v for v in values):
            formula = f'"{inline}"'
        else:
            lists = wb[LISTS_SHEET] if LISTS_SHEET in wb.sheetnames else wb.create_sheet(LISTS_SHEET)
            lists.sheet_state = "hidden"
            lists_col[0] += 1
            letter = get_column_letter(lists_col[0])
            lists.cell(row=1, column=lists_col[0], value=neutralise(f.name))
            for i, v in enumerate(values, start=2):
                lists.cell(row=i, column=lists_col[0], value=neutralise(v))
            formula = f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(values) + 1}"
        dv = DataValidation(type="list", formula1=formula, allow_blank=True)
        dv.error = f"Choose one of the allowed values for {f.name}."
    elif f.type in ("integer", "year", "number"):
        kind: Literal["decimal", "whole"] = "decimal" if f.type == "number" else "whole"
        lo, hi = c.get("minimum"), c.get("maximum")
        if f.type == "year":
            lo, hi = lo if lo is not None else 1000, hi if hi is not None else 9999
        big = 10**15
        dv = DataValidation(
            type=kind,
            operator="between",
            formula1=str(lo if lo is not None else -big),
            formula2=str(hi if hi is not None else big),
            allow_blank=True,
        )
        dv.error = f"{f.name} must be {f.describe().split(': ', 1)[1]}."
    elif f.type in ("date", "datetime"):
        lo = _excel_date(f, c["minimum"]) if "minimum" in c else None
        hi = _excel_date(f, c["maximum"]) if "maximum" in c else None
        if lo and hi:
            dv = DataValidation(type="date", operator="between", formula1=lo, formula2=hi, allow_blank=True)
        elif lo:
            dv = DataValidation(type="date", operator="greaterThanOrEqual", formula1=lo, allow_blank=True)
        elif hi:
            dv = DataValidation(type="date", operator="lessThanOrEqual", formula1=hi, allow_blank=True)
        else:
            dv = DataValidation(
                type="date", operator="greaterThan", formula1="DATE(1900,1,1)", allow_blank=True
            )
        dv.error = f"{f.name} must be {f.describe().split(': ', 1)[1]}."
    elif f.type == "string" and ("maxLength" in c or "minLength" in c):
        dv = DataValidation(
            type="textLength",
            operator="between",
            formula1=str(c.get("minLength", 0)),
            formula2=str(c.get("maxLength", 32767)),
            allow_blank=True,
        )
        dv.error = f"{f.name} must be {f.describe().split(': ', 1)[1]}."
    if dv is None:
        return None
    dv.errorTitle = f"Not allowed in {f.name}"[:32]
    dv.error = (dv.error or "")[:255]
    dv.showErrorMessage = True
    dv.prompt = explain_field(f)["rule"][:255]
    dv.promptTitle = f.name[:32]
    dv.showInputMessage = True
    dv.add(where)
    return dv


def template_xlsx(schema: Schema, *, sheet: str | None = None, title: str = "") -> bytes:
    """The template workbook's bytes. `sheet` names the data sheet (the request's `sheet`, which the
    validator reads); the data sheet is always first, so a request without `sheet` reads it too."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from witan.validation.reports import neutralise

    header_fill = PatternFill("solid", fgColor=HEADER_COLOUR)
    required_fill = PatternFill("solid", fgColor=REQUIRED_COLOUR)
    wb = Workbook()
    ws = wb.worksheets[0]  # a new workbook's one sheet (wb.active, typed as a worksheet)
    ws.title = (sheet or DATA_SHEET)[:31]
    lists_col = [0]
    for i, f in enumerate(schema.fields, start=1):
        cell = ws.cell(row=1, column=i, value=neutralise(f.name))
        cell.data_type = "s"  # a heading is text, whatever it looks like
        cell.font = Font(bold=True)
        cell.fill = required_fill if f.required else header_fill
        cell.comment = Comment(explain_field(f)["rule"][:1000], "Witan")
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = max(12, min(40, len(f.name) + 4))
        if f.type == "date":  # a column style, not styled cells: empty rows must stay absent
            ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
        dv = _validation(f, letter, wb, lists_col)
        if dv is not None:
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"

    help_ws = wb.create_sheet(HELP_SHEET, index=1)
    if title:
        help_ws.append([neutralise(f"Template for: {title}")])
        help_ws.append([])
    headers = [
        "Column",
        "Field",
        "Required",
        "Type",
        "Allowed values",
        "Format / limits",
        "Example",
        "Description",
    ]
    help_ws.append(headers)
    for cell in help_ws[help_ws.max_row]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
    for i, f in enumerate(schema.fields, start=1):
        info = explain_field(f)
        limits = "; ".join(
            part
            for part in (
                f"format {f.format}" if f.type in ("date", "datetime") and f.format != "default" else "",
                f"at least {info['minimum']}" if "minimum" in info else "",
                f"at most {info['maximum']}" if "maximum" in info else "",
                f"{info['min_length']}+ characters" if "min_length" in info else "",
                f"up to {info['max_length']} characters" if "max_length" in info else "",
                f"pattern {info['pattern']}" if "pattern" in info else "",
                "each value different" if info["unique"] else "",
            )
            if part
        )
        help_ws.append(
            [
                get_column_letter(i),
                neutralise(f.name),
                "yes" if info["required"] else "no",
                info["type_words"],
                neutralise(", ".join(info.get("allowed_values", []))[:2000]) or "",
                neutralise(limits) or "",
                neutralise(example_value(f)),
                neutralise(f.description or f.title) or "",
            ]
        )
    for letter, width in zip("ABCDEFGH", (8, 28, 10, 30, 40, 30, 16, 60), strict=True):
        help_ws.column_dimensions[letter].width = width
    for row in help_ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
