"""Fuzzing the CSV reader against frictionless 5 (issue 15, item 8): arbitrary text in cells (quotes,
delimiters, line breaks inside quoted values, non-ASCII), either line ending, with or without a BOM,
UTF-8 or Windows-1252, and ragged rows. Both must read the same cells from the same records, and report
the same short and long rows. Example counts stay small so the suite stays fast (about 2 s)."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from witan.validation import check_file, parse_schema

SCHEMA: dict[str, Any] = {"fields": [{"name": n, "type": "string"} for n in ("a", "b", "c")]}
# Characters that stress a CSV parser, all encodable in Windows-1252 too.
ALPHABET = st.sampled_from([*"x y,\"\n;\té€£'", "ab", "12"])
cell = st.lists(ALPHABET, max_size=6).map("".join)
row = st.lists(cell, min_size=3, max_size=3)
ragged_row = st.lists(cell.filter(bool), min_size=1, max_size=5)


def write(rows: list[list[str]], *, terminator: str, bom: bool, encoding: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(["a", "b", "c"])
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom and encoding == "utf-8" else data


def frictionless_read(path: Path, encoding: str = "utf-8") -> tuple[list[list[Any]], set[tuple[int, str]]]:
    """What frictionless reads, told the encoding, delimiter and header row: its guesses on a few
    bytes are not what is compared here (ours are tested in test_validation_csv)."""
    from frictionless import Dialect, Resource, Schema, validate
    from frictionless.formats import CsvControl

    def resource() -> Resource:
        return Resource(
            path=path.name,
            basepath=str(path.parent),
            schema=Schema.from_descriptor(SCHEMA),
            encoding="utf-8-sig" if encoding == "utf-8" else encoding,
            dialect=Dialect(header_rows=[1], controls=[CsvControl(delimiter=",", skip_initial_space=False)]),
        )

    report = validate(resource(), limit_errors=0)
    errors = {(r, t) for r, t in report.flatten(["rowNumber", "type"])}
    with resource() as res:
        rows = [[r.get(n) for n in ("a", "b", "c")] for r in res.read_rows()]
    return rows, errors


def witan_read(path: Path) -> tuple[list[list[Any]], set[tuple[int, str]]]:
    parquet = path.with_suffix(".parquet")
    report = check_file(
        path, parse_schema(SCHEMA), file_name=path.name, error_limit=None, parquet_path=parquet
    )
    errors = {(e.row or 0, e.code) for e in report.errors}
    if not report.valid:
        return [], errors
    table = pq.read_table(parquet)
    return [list(r.values()) for r in table.to_pylist()], errors


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(row, min_size=1, max_size=8),
    terminator=st.sampled_from(["\n", "\r\n"]),
    bom=st.booleans(),
    encoding=st.sampled_from(["utf-8", "cp1252"]),
)
def test_csv_reader_reads_the_cells_frictionless_reads(
    rows: list[list[str]], terminator: str, bom: bool, encoding: str
) -> None:
    rows = [r for r in rows if any(r)]  # all-blank rows: see test_validation_malformed
    if not rows:
        return
    data = write(rows, terminator=terminator, bom=bom, encoding=encoding)
    # Some cp1252 text is also valid UTF-8 of other characters ("é€€" is the bytes of "退"): a reader not
    # told the encoding rightly takes UTF-8 there, frictionless is told cp1252. Not a disagreement.
    assume(encoding == "utf-8" or _utf8_or_none(data) in (None, data.decode(encoding)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        path.write_bytes(data)
        ours, our_errors = witan_read(path)
        theirs, their_errors = frictionless_read(path, encoding)
    assert our_errors == their_errors == set()
    assert _blank_as_null(ours) == _blank_as_null(theirs)


def _utf8_or_none(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _blank_as_null(rows: list[list[Any]]) -> list[list[Any]]:
    """frictionless reads a cell of only spaces as null in some places and as text in others; we keep
    the text as written (the value reaches the dataset as the partner sent it). Not compared."""
    return [[None if isinstance(v, str) and not v.strip(" ") else v for v in r] for r in rows]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ragged_row, min_size=1, max_size=8), terminator=st.sampled_from(["\n", "\r\n"]))
def test_short_and_long_rows_are_the_ones_frictionless_reports(
    rows: list[list[str]], terminator: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        path.write_bytes(write(rows, terminator=terminator, bom=False, encoding="utf-8"))
        _, our_errors = witan_read(path)
        _, their_errors = frictionless_read(path)
    assert our_errors == their_errors
