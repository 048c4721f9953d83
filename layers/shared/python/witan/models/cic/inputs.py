"""Reading the SSDA903 episodes, header and UASC tables (DfE column names, CSV or xlsx).

Columns are found by name in any order; dates may be dd/mm/yyyy (as the DfE writes them) or ISO.
Every problem raises `ModelInputError` naming the file, the data row (1-based) and the column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from witan.modelrun.errors import ModelInputError

# PLACE codes of the DfE's SSDA903 guidance, current (Z11-Z14, K3) and earlier (H5, P2, Z1) so stacked
# returns read; anything else is an error.
PLACE_CODES: frozenset[str] = frozenset(
    [
        "A3",
        "A4",
        "A5",
        "A6",
        "H5",
        "K1",
        "K2",
        "K3",
        "P1",
        "P2",
        "P3",
        "R1",
        "R2",
        "R3",
        "R5",
        "S1",
        "T0",
        "T1",
        "T2",
        "T3",
        "T4",
        "U1",
        "U2",
        "U3",
        "U4",
        "U5",
        "U6",
        "Z1",
        "Z11",
        "Z12",
        "Z13",
        "Z14",
    ]
)

EPISODE_COLUMNS = ("CHILD", "DECOM", "RNE", "PLACE", "PLACE_PROVIDER", "DEC")
EPISODE_OPTIONAL = ("REC", "REASON_PLACE_CHANGE", "LS", "CIN", "LA", "YEAR")
HEADER_COLUMNS = ("CHILD", "SEX", "DOB")
HEADER_OPTIONAL = ("ETHNIC", "LA", "YEAR")
UASC_COLUMNS = ("CHILD",)
UASC_OPTIONAL = ("DUC", "LA", "YEAR")

NO_DATE = np.iinfo(np.int64).min  # a blank date, as days since 1970-01-01


@dataclass
class Table:
    """One input file: its name (for messages) and its columns as string arrays (blank -> null)."""

    name: str
    columns: dict[str, pa.Array]

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def encoded(self, column: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
        """(codes, values) with values[codes] the column, trimmed; blank cells have code -1 and
        values[-1] is ''. Work on the few distinct values instead of every row."""
        return encode(self.columns[column])

    def strings(self, column: str) -> npt.NDArray[np.object_]:
        """The column as a numpy object array of str ('' for blank)."""
        codes, values = self.encoded(column)
        return values[codes]

    def dates(self, column: str) -> npt.NDArray[np.int64]:
        """Days since 1970-01-01 (int64; NO_DATE where blank); an unparseable date is an error."""
        return parse_dates(self.columns[column], self.name, column)

    def years(self) -> npt.NDArray[np.int64] | None:
        if "YEAR" not in self.columns:
            return None
        return integers(self.columns["YEAR"], self.name, "YEAR")


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _read_xlsx(data: bytes, name: str) -> dict[str, pa.Array]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ModelInputError(name, f"not a readable xlsx workbook ({exc})", code="unreadable-file") from exc
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise ModelInputError(name, "the first sheet is empty", code="empty-file")
    names = [str(h).strip() if h is not None else "" for h in header]
    cells = [[_cell_text(v) for v in row] for row in rows if any(v is not None for v in row)]
    width = len(names)
    return {
        n: pa.array([r[i] if i < len(r) else None for r in cells], type=pa.string())
        for i, n in enumerate(names[:width])
        if n
    }


def _csv_header(data: bytes) -> list[str]:
    first = data[: data.find(b"\n") if b"\n" in data else len(data)].decode("utf-8-sig", "replace")
    return next(csv.reader([first.rstrip("\r")]), [])


def read_table(name: str, data: bytes, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Table:
    """Read a CSV or xlsx file's columns by name (as strings); missing required columns are an error."""
    if name.lower().endswith(".xlsx") or data[:2] == b"PK":
        columns = _read_xlsx(data, name)
    else:
        header = _csv_header(data)
        wanted = {*required, *optional}
        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(block_size=1 << 24),
                parse_options=pacsv.ParseOptions(newlines_in_values=False),
                convert_options=pacsv.ConvertOptions(
                    # read as dictionaries: the reader hashes in parallel, later steps use the codes
                    column_types=dict.fromkeys(header, pa.dictionary(pa.int32(), pa.string())),
                    strings_can_be_null=True,
                    include_columns=[h for h in header if h.strip() in wanted],
                ),
            )
        except pa.ArrowInvalid as exc:
            raise ModelInputError(name, f"not a readable CSV file ({exc})", code="unreadable-file") from exc
        columns = {}
        for col_name, col in zip(table.column_names, table.columns, strict=True):
            arr = col.unify_dictionaries().combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            columns[col_name.strip()] = arr  # blank cells are null; values are trimmed once encoded
        for h in header:
            columns.setdefault(h.strip(), pa.nulls(table.num_rows, pa.string()))  # names for the message
    missing = [c for c in required if c not in columns]
    if missing:
        raise ModelInputError(
            name,
            f"missing column(s) {', '.join(missing)} (found: {', '.join(columns) or 'none'})",
            column=missing[0],
            code="missing-column",
        )
    keep = {c: columns[c] for c in (*required, *optional) if c in columns}
    return Table(name, keep)


def encode(arr: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """Dictionary-encode a string column: (codes, distinct values trimmed, then '' for code -1)."""
    encoded = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(pc.cast(arr, pa.string()))
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    values = np.array([*(v.strip() for v in encoded.dictionary.to_pylist()), ""], dtype=object)
    codes = np.where(codes >= 0, codes, len(values) - 1)
    return codes, values


def _first_row(codes: npt.NDArray[np.int64], bad_values: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(bad_values[codes])[0])


def parse_dates(arr: pa.Array, file: str, column: str) -> npt.NDArray[np.int64]:
    """dd/mm/yyyy or yyyy-mm-dd strings -> days since 1970-01-01 (NO_DATE where blank). Each distinct
    string is parsed once (a few thousand dates among hundreds of thousands of rows)."""
    codes, values = encode(arr)
    days, bad = _parse_distinct_dates(values)
    if bad.any():
        row = _first_row(codes, bad)
        raise ModelInputError(
            file,
            f"{values[codes[row]]!r} is not a date (dd/mm/yyyy or yyyy-mm-dd)",
            row=row + 1,
            column=column,
            code="bad-date",
        )
    return days[codes]


def _parse_distinct_dates(
    values: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    arr = pa.array([v if v else None for v in values], pa.string())
    # A time part (Excel exports "2017-04-09 00:00:00") is ignored.
    arr = pc.utf8_slice_codeunits(arr, 0, 10)
    dmy = pc.strptime(arr, format="%d/%m/%Y", unit="s", error_is_null=True)
    iso = pc.strptime(arr, format="%Y-%m-%d", unit="s", error_is_null=True)
    parsed = pc.coalesce(dmy, iso)
    # strptime rolls 31/02 over into March: a date is good only if its day is the one written.
    parts = pc.extract_regex(arr, r"^(?:(?P<a>\d{1,2})/\d{1,2}/\d{4}|\d{4}-\d{1,2}-(?P<b>\d{1,2}))$")
    first, second = pc.struct_field(parts, "a"), pc.struct_field(parts, "b")
    written = pc.if_else(pc.equal(first, ""), second, first)
    written = pc.if_else(pc.equal(written, ""), pa.scalar(None, pa.string()), written)
    same_day = pc.equal(pc.cast(pc.day(parsed), pa.int64()), pc.cast(written, pa.int64()))
    parsed = pc.if_else(pc.fill_null(same_day, False), parsed, pa.scalar(None, parsed.type))
    bad = pc.and_(pc.is_valid(arr), pc.is_null(parsed)).to_numpy(zero_copy_only=False)
    seconds = pc.fill_null(pc.cast(parsed, pa.int64()), 0).to_numpy(zero_copy_only=False)
    valid = pc.is_valid(parsed).to_numpy(zero_copy_only=False)
    days = np.where(valid, seconds // 86400, NO_DATE).astype(np.int64)
    return days, np.asarray(bad, dtype=bool)


def integers(arr: pa.Array, file: str, column: str) -> npt.NDArray[np.int64]:
    """Whole numbers (blank is an error); each distinct value checked once."""
    codes, values = encode(arr)
    good = np.array([bool(re.fullmatch(r"-?\d+(\.0+)?", v)) for v in values])
    if not good[codes].all():
        row = _first_row(codes, ~good)
        raise ModelInputError(
            file,
            f"{values[codes[row]]!r} is not a whole number",
            row=row + 1,
            column=column,
            code="bad-integer",
        )
    numbers = np.array(
        [int(float(v)) if ok else 0 for v, ok in zip(values, good, strict=True)], dtype=np.int64
    )
    return numbers[codes]


@dataclass
class Returns903:
    episodes: Table
    header: Table
    uasc: Table | None


def read_returns(
    episodes: tuple[str, bytes], header: tuple[str, bytes], uasc: tuple[str, bytes] | None
) -> Returns903:
    """The three SSDA903 tables from (file name, bytes); uasc may be absent."""
    return Returns903(
        read_table(*episodes, EPISODE_COLUMNS, EPISODE_OPTIONAL),
        read_table(*header, HEADER_COLUMNS, HEADER_OPTIONAL),
        read_table(*uasc, UASC_COLUMNS, UASC_OPTIONAL) if uasc is not None else None,
    )


def find_file(folder: Path, stem: str) -> Path | None:
    for ext in (".csv", ".xlsx"):
        path = folder / f"{stem}{ext}"
        if path.is_file():
            return path
    return None


def read_returns_dir(folder: Path) -> Returns903:
    """episodes, header and (optional) uasc from a folder of .csv or .xlsx files."""
    found = {}
    for stem in ("episodes", "header", "uasc"):
        path = find_file(folder, stem)
        if path is None and stem != "uasc":
            raise ModelInputError(
                f"{stem}.csv", f"no {stem}.csv or {stem}.xlsx in {folder}", code="missing-table"
            )
        found[stem] = (path.name, path.read_bytes()) if path is not None else None
    return read_returns(found["episodes"], found["header"], found["uasc"])  # type: ignore[arg-type]
