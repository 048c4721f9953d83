"""CSV reading: encodings, delimiters, embedded newlines, date and number forms, Parquet, limits."""

from __future__ import annotations

import datetime as dt
import io
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from validation_files import codes
from witan.validation import check_file, parse_schema

S = parse_schema(
    {
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "name", "type": "string", "constraints": {"enum": ["café", "£5", "x"]}},
        ]
    }
)


def check(path: Path, schema: Any = S, **kw: Any) -> Any:
    kw.setdefault("error_limit", None)
    return check_file(path, schema, file_name=path.name, **kw)


@pytest.mark.parametrize(
    ("encoding", "prefix"), [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b"")]
)
def test_encodings_are_detected(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(prefix + "id,name\n1,café\n2,£5\n3,y\n".encode(encoding))
    report = check(path)
    assert codes(report) == [(4, "B", "constraint-error")]  # é and £ read right; only 'y' is wrong


def test_bytes_invalid_in_utf8_and_cp1252_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b'id,name\n1,x\n2,"a\nb"\n3,\x81oops\n')
    report = check(path)
    assert codes(report) == [(4, None, "encoding-error")]
    assert "Row 4" in report.errors[0].message


def test_utf16_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_bytes("id\tname\n1\tx\n".encode("utf-16"))
    report = check(path)
    assert codes(report) == [(1, None, "encoding-error")]
    assert "UTF-16" in report.errors[0].message


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text(f"id{delimiter}name\n1{delimiter}x\nbad{delimiter}x\n")
    assert codes(check(path)) == [(3, "A", "type-error")]


def test_embedded_newlines_do_not_shift_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text('id,name\n1,"x\n\nstill x"\n2,x\nbad,x\n3\n')
    report = check(path)
    assert codes(report) == [(2, "B", "constraint-error"), (4, "A", "type-error"), (5, "B", "missing-cell")]


def test_ragged_rows_across_batches_keep_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import witan.validation.readers as readers

    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 4096)
    lines = ["id,name"] + [f"{i},x" if i % 997 else f"{i}" for i in range(1, 5001)]
    lines[3000] = "3000,x,extra"
    path = tmp_path / "r.csv"
    path.write_text("\n".join(lines) + "\n")
    report = check(path)
    expected = [(i + 1, "B", "missing-cell") for i in range(997, 5001, 997)]
    expected.append((3001, "C", "extra-cell"))
    assert sorted(codes(report)) == sorted(expected)
    assert report.rows == 5000


INT = {"name": "v", "type": "integer"}
NUM = {"name": "v", "type": "number"}


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        (INT, ["1", " 2 ", "+3", "-4", "007"], ["1.0", "1e3", "x", "9223372036854775808"]),
        (NUM, ["1.5", " 2 ", "-3e2", ".5", "NaN", "inf"], ["1,5", "x", "1.2.3"]),
        ({"name": "v", "type": "number", "decimalChar": ",", "groupChar": "."}, ["1.234,5", "2"], ["1,2,3"]),
        ({"name": "v", "type": "boolean"}, ["true", "FALSE", "1", "0"], ["yes", "T"]),
        ({"name": "v", "type": "year"}, ["2024", "1999"], ["24", "20245", "two"]),
        (
            {"name": "v", "type": "date"},
            ["2024-02-29", "2023-1-5"],
            ["2023-02-29", "2023-02-30", "29/02/2024", "2024-13-01"],
        ),
        (
            {"name": "v", "type": "date", "format": "%d/%m/%Y"},
            ["29/02/2024", "1/2/2023", "01/02/2023"],
            ["30/02/2023", "31/04/2023", "01/02/23", "2023-02-01"],
        ),
        ({"name": "v", "type": "date", "format": "%d %b %Y"}, ["1 Feb 2023", "01 feb 2023"], ["1 Febx 2023"]),
        (
            {"name": "v", "type": "date", "format": "any"},
            ["2023-02-01", "01/02/2023", "1 February 2023"],
            ["02/30/2023", "yesterday"],
        ),
        (
            {"name": "v", "type": "datetime"},
            [
                "2024-01-02T03:04:05",
                "2024-01-02T03:04:05.25",
                "2024-01-02T03:04:05Z",
                "2024-01-02T03:04:05+01:00",
            ],
            ["2024-01-02", "2024-01-02T25:00:00", "2024-02-30T00:00:00"],
        ),
        ({"name": "v", "type": "datetime", "format": "%d/%m/%Y %H:%M"}, ["01/02/2023 14:30"], ["01/02/2023"]),
        ({"name": "v", "type": "date", "format": "%j/%Y"}, ["032/2023"], ["400/2023"]),  # per-cell fallback
    ],
)
def test_type_forms(tmp_path: Path, field: dict[str, Any], good: list[str], bad: list[str]) -> None:
    path = tmp_path / "t.csv"
    path.write_text("v\n" + "\n".join(f'"{v}"' for v in good + bad) + "\n")
    report = check(path, parse_schema({"fields": [field]}))
    assert [e.row for e in report.errors] == list(range(len(good) + 2, len(good) + len(bad) + 2))
    assert all(e.code == "type-error" for e in report.errors)


def test_parquet_is_typed_and_only_kept_when_valid(tmp_path: Path) -> None:
    schema = parse_schema(
        {
            "fields": [
                {"name": "i", "type": "integer"},
                {"name": "n", "type": "number"},
                {"name": "b", "type": "boolean"},
                {"name": "d", "type": "date", "format": "%d/%m/%Y"},
                {"name": "t", "type": "datetime"},
                {"name": "s", "type": "string"},
                {"name": "y", "type": "year"},
            ]
        }
    )
    path = tmp_path / "ok.csv"
    path.write_text(
        "i,n,b,d,t,s,y\n1,1.5,true,29/02/2024,2024-01-02T03:04:05+01:00,x,2024\n,,,,,,\n2,2,0,1/3/2024,"
        "2024-01-02T03:04:05,,1999\n"
    )
    out = tmp_path / "ok.parquet"
    report = check(path, schema, parquet_path=out)
    assert codes(report) == [(3, None, "blank-row")]
    assert not out.exists()  # a blank row makes the file invalid, so no Parquet
    path.write_text(
        "i,n,b,d,t,s,y\n1,1.5,true,29/02/2024,2024-01-02T03:04:05+01:00,x,2024\n2,2,0,1/3/2024,"
        "2024-01-02T03:04:05,,1999\n"
    )
    report = check(path, schema, parquet_path=out)
    assert report.valid
    table = pq.read_table(out)
    assert [str(t) for t in table.schema.types] == [
        "int64",
        "double",
        "bool",
        "date32[day]",
        "timestamp[us]",
        "string",
        "int64",
    ]
    assert table.to_pylist()[0] == {
        "i": 1,
        "n": 1.5,
        "b": True,
        "d": dt.date(2024, 2, 29),
        "t": dt.datetime(2024, 1, 2, 2, 4, 5),
        "s": "x",
        "y": 2024,
    }
    assert table.column("s").to_pylist() == ["x", None]  # blank -> null


def test_binary_stream_source_and_size_limit(tmp_path: Path) -> None:
    data = b"id,name\n1,x\n"
    report = check_file(io.BytesIO(data), S, file_name="upload.csv")
    assert report.valid and report.rows == 1
    report = check_file(io.BytesIO(data), S, file_name="upload.csv", max_bytes=5)
    assert codes(report) == [(None, None, "file-too-large")]


def test_deadline_stops_with_a_timeout_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,name\n1,x\n")
    report = check(path, deadline=time.monotonic() - 1)
    assert [e.code for e in report.errors] == ["timeout"]
    assert not report.valid


def test_header_only_is_valid_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("id,name\n")
    report = check(path)
    assert report.valid and report.rows == 0
