"""XLSX fast path (fastexcel, Arrow columns): it must give exactly what the cell-by-cell path gives.

Every workbook here is checked twice, once as it comes and once with the fast path switched off, and
the reports and Parquet files must be equal; `variant` says which path read the sheet.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from validation_files import codes, write_xlsx
from witan.validation import check_file, parse_schema, readers
from witan.validation.readers import XlsxReader

SCHEMA = parse_schema(
    {
        "fields": [
            {"name": "id", "type": "integer", "constraints": {"unique": True}},
            {"name": "dob", "type": "date", "format": "%d/%m/%Y"},
            {"name": "seen", "type": "datetime"},
            {"name": "code", "type": "string", "constraints": {"maxLength": 5}},
            {"name": "flag", "type": "boolean"},
            {"name": "score", "type": "number", "constraints": {"minimum": 0}},
        ]
    }
)
LABELS = ["id", "dob", "seen", "code", "flag", "score"]


def both_ways(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """(variant used, report) after asserting the other path reports and writes the same."""
    reader = XlsxReader(path)
    reader.open()
    fast_out, slow_out = tmp_path / "fast.parquet", tmp_path / "slow.parquet"
    fast = check_file(path, SCHEMA, file_name=path.name, error_limit=None, parquet_path=fast_out)
    with monkeypatch.context() as m:
        m.setattr(readers._FastSheet, "load", classmethod(lambda cls, p, s: None))
        slow = check_file(path, SCHEMA, file_name=path.name, error_limit=None, parquet_path=slow_out)
    assert fast.to_dict() == slow.to_dict()
    assert fast_out.exists() == slow_out.exists()
    if fast_out.exists():
        fast_table, slow_table = pq.read_table(fast_out), pq.read_table(slow_out)
        assert fast_table.schema == slow_table.schema
        assert repr(fast_table.to_pylist()) == repr(slow_table.to_pylist())  # repr: NaN equals NaN
    return reader.variant, fast


def test_typed_columns_take_the_fast_path_and_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        LABELS,
        [1, dt.date(2020, 2, 29), dt.datetime(2024, 1, 2, 3, 4, 5), "007", True, 1e-05],
        [2, dt.date(2021, 3, 1), dt.datetime(2024, 1, 2), "abc", False, 1e20],
        [3, dt.datetime(2021, 3, 1, 9, 30), dt.datetime(2024, 1, 2, 3, 4, 5), "toolong", True, -2.5],
        [4, None, None, None, None, None],
    ]
    variant, report = both_ways(write_xlsx(tmp_path / "t.xlsx", rows), tmp_path, monkeypatch)
    assert variant == "fastexcel"
    assert codes(report) == [
        (4, "B", "type-error"),
        (4, "D", "constraint-error"),
        (4, "F", "constraint-error"),
    ]
    assert report.errors[2].value == "-2.5"


def test_valid_sheet_writes_the_same_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        LABELS,
        *[
            [i, dt.date(2020, 1, i), dt.datetime(2024, 1, i, 8), f"c{i}", i % 2 == 0, i / 4]
            for i in range(1, 29)
        ],
    ]
    variant, report = both_ways(write_xlsx(tmp_path / "v.xlsx", rows), tmp_path, monkeypatch)
    assert variant == "fastexcel"
    assert report.valid and report.rows == 28


def test_serial_numbers_in_date_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [LABELS, [1, 45000, 45000.5, 12, 1, 0], [2, 45001.25, 45001, 3.5, 0, 7]]
    variant, report = both_ways(write_xlsx(tmp_path / "s.xlsx", rows), tmp_path, monkeypatch)
    assert variant == "fastexcel"
    # 45001.25 is a date and a time: not a date; 1 and 0 are booleans ("1", "0" are true/false values).
    assert codes(report) == [(3, "B", "type-error")]


def test_offsets_blank_rows_trailing_rows_and_extra_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    for j, label in enumerate(LABELS):
        ws.cell(row=3, column=3 + j, value=label)  # table at C3
    for i, r in enumerate([[1, None, None, "a"], None, [2, None, None, "b"]]):
        for j, v in enumerate(r or []):
            if v is not None:
                ws.cell(row=4 + i, column=3 + j, value=v)
    ws.cell(row=6, column=10, value="stray")  # right of the last heading
    ws.cell(row=9, column=4).number_format = "0.00"  # formatting only: a trailing row that is no row
    path = tmp_path / "o.xlsx"
    wb.save(path)
    variant, report = both_ways(path, tmp_path, monkeypatch)
    assert variant == "fastexcel"
    assert codes(report) == [(5, None, "blank-row"), (6, "J", "extra-cell")]
    assert report.rows == 3


def test_leading_cells_left_of_the_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    for j, label in enumerate(LABELS):
        ws.cell(row=2, column=2 + j, value=label)
    ws.cell(row=3, column=2, value=1)
    ws.cell(row=4, column=1, value="left")  # moves the used range to column A
    path = tmp_path / "l.xlsx"
    wb.save(path)
    variant, report = both_ways(path, tmp_path, monkeypatch)
    assert variant == "fastexcel"
    # Column A is part of the table (blank heading); the headings, one column late, are matched by name.
    assert codes(report) == [(2, "A", "blank-label"), (4, None, "blank-row")]


@pytest.mark.parametrize(
    "rows",
    [
        [LABELS, [1, None, None, "a", None, None], ["x", None, None, 5, None, None]],  # mixed columns
        [[*LABELS[:5], "id"], [1, None, None, "a", True, 2]],  # duplicate label, renamed by fastexcel
        [[2024, *LABELS[1:]], [1, None, None, "a", True, 2]],  # a number as a label
        [LABELS, [1, None, dt.time(10, 30), "a", True, 2]],  # a time-only cell
        [LABELS, [1, None, dt.datetime(2024, 1, 2, 3, 4, 5, 250000), "a", True, 2]],  # fractional seconds
        # Text fastexcel reads as null or NaN in a number column: here type errors.
        [LABELS, [1, None, None, "a", True, 2], [2, None, None, "b", True, "N/A"]],
        [LABELS, [1, None, None, "a", True, 2], [2, None, None, "b", True, "NaN"]],
        [LABELS, [1, None, None, "a", True, 2], [2, None, None, "b", True, " "]],
        [LABELS, [1, dt.date(2020, 1, 1), None, "a", True, 2], [2, "null", None, "b", True, 3]],
    ],
)
def test_other_sheets_take_the_exact_path(
    rows: list[list[Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant, _ = both_ways(write_xlsx(tmp_path / "m.xlsx", rows), tmp_path, monkeypatch)
    assert variant == "python-calamine"


def test_null_like_text_in_a_number_column_stays_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [LABELS, [1, None, None, "a", True, 2], [2, "null", None, "b", True, "N/A"]]
    variant, report = both_ways(write_xlsx(tmp_path / "n.xlsx", rows), tmp_path, monkeypatch)
    assert variant == "python-calamine"
    assert codes(report) == [(3, "B", "type-error"), (3, "F", "type-error")]


def test_named_sheet_and_first_non_empty_sheet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Empty"
    data = wb.create_sheet("Data")
    data.append(LABELS)
    data.append([1, None, None, "a", True, 2])
    path = tmp_path / "n.xlsx"
    wb.save(path)
    variant, report = both_ways(path, tmp_path, monkeypatch)
    assert variant == "fastexcel" and report.valid
    named = XlsxReader(path, sheet="Data")
    assert named.open().labels == LABELS and named.variant == "fastexcel"
    missing = check_file(path, SCHEMA, file_name=path.name, sheet="Nope")
    assert codes(missing) == [(None, None, "format-error")]


def test_small_and_large_numbers_read_as_python_writes_them(tmp_path: Path) -> None:
    # Arrow writes 1e-05 as "0.00001" and 250000000000.5 as "2.500000000000005e+11", not as cell_text
    # does; "code" has no empty cell (the column is read as numbers), "score" has one (read cell by cell).
    values = [1e-05, 250000000000.5, 1.5e-07, 0.25]
    rows = [LABELS, *[[i, None, None, v, None, v if i > 1 else None] for i, v in enumerate(values, start=1)]]
    schema = parse_schema({"fields": [{"name": n, "type": "string"} for n in LABELS]})
    path = write_xlsx(tmp_path / "n.xlsx", rows)
    reader = XlsxReader(path)
    reader.open()
    assert reader.variant == "fastexcel"
    for fast in (True, False):
        out = tmp_path / f"{fast}.parquet"
        with pytest.MonkeyPatch.context() as m:
            if not fast:
                m.setattr(readers._FastSheet, "load", classmethod(lambda cls, p, s: None))
            assert check_file(path, schema, file_name=path.name, parquet_path=out).valid
        table = pq.read_table(out)
        assert table.column("code").to_pylist() == ["1e-05", "250000000000.5", "1.5e-07", "0.25"]
        assert table.column("score").to_pylist() == [None, "250000000000.5", "1.5e-07", "0.25"]


def test_random_workbooks_read_the_same_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Differential check: random typed, mixed, sparse and offset sheets (fixed seed)."""
    rng = random.Random(20261125)
    makers = {
        "int": lambda: rng.randint(-5, 100_000),
        "float": lambda: rng.choice([rng.random() * 100, 1e-05, 1e20, 2.5, 0.1 + 0.2, -0.0]),
        "text": lambda: rng.choice(["a", "007", "too long text", "2024-01-02", "true", "15/03/2023", " x "]),
        "date": lambda: dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 9000)),
        "datetime": lambda: dt.datetime(2020, 1, 1) + dt.timedelta(seconds=rng.randint(0, 10**8)),
        "bool": lambda: rng.random() < 0.5,
        "serial": lambda: rng.choice([45000, 45000.5, 40000.25, 3, 0.5]),
    }
    variants = set()
    for n in range(24):
        wb = openpyxl.Workbook()
        ws = wb.active
        top, left = rng.randint(1, 3), rng.randint(1, 3)
        kinds = [rng.choice(list(makers)) for _ in LABELS]
        mixed = n % 3 == 0
        for j, label in enumerate(LABELS):
            ws.cell(row=top, column=left + j, value=label)
        for i in range(rng.randint(1, 15)):
            if rng.random() < 0.05:
                continue  # a blank row
            for j, kind in enumerate(kinds):
                if rng.random() < 0.15:
                    continue  # an empty cell
                maker = makers[rng.choice(list(makers))] if mixed and rng.random() < 0.1 else makers[kind]
                ws.cell(row=top + 1 + i, column=left + j, value=maker())
        if n % 4 == 1:
            ws.cell(row=top + 1, column=left + len(LABELS) + 1, value="extra")
        path = tmp_path / f"r{n}.xlsx"
        wb.save(path)
        variant, _ = both_ways(path, tmp_path, monkeypatch)
        variants.add(variant)
    assert variants == {"fastexcel", "python-calamine"}  # both paths were compared, not just one


def test_mixed_columns_seen_early_skip_fastexcel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fastexcel

    calls: list[str] = []
    real = fastexcel.read_excel

    def spy(source: Any) -> Any:
        calls.append(str(source))
        return real(source)

    monkeypatch.setattr(fastexcel, "read_excel", spy)
    rows = [LABELS, *[[i, None, None, "a", True, 2] for i in range(1, 6)], [6, None, None, "b", True, "N/A"]]
    path = write_xlsx(tmp_path / "early.xlsx", rows)
    assert codes(check_file(path, SCHEMA, file_name=path.name)) == [(7, "F", "type-error")]
    assert calls == []  # the head of the sheet showed text in a number column: no wasted parse
    monkeypatch.setattr(readers, "XLSX_SAMPLE_ROWS", 3)  # mixed only past the sample: strict reading finds it
    assert codes(check_file(path, SCHEMA, file_name=path.name)) == [(7, "F", "type-error")]
    assert calls == [str(path)]
