"""Streaming readers: CSV (pyarrow) and XLSX (fastexcel or python-calamine), yielding batches of text columns.

Both give a Header (labels and where they are) and then Batches: one pyarrow string array per header
position plus the user-visible row number of every row. CSV memory stays flat (4 MB blocks; one batch
checked while the next is parsed). XLSX: when every column holds one kind of cell, fastexcel reads the
sheet straight into Arrow columns (about 40% less CPU than Python objects per cell, measured in
benchmarks/); otherwise calamine holds the parsed sheet in (compact, Rust) memory and Python objects
exist for one batch of 20,000 rows at a time. Both XLSX paths give the same text for every cell.

Row numbers. CSV: the record-number convention, as a spreadsheet shows a CSV: the header record is
row 1 and the first data record row 2, whatever embedded newlines quoted values contain. XLSX: the
sheet's own row numbers (leading empty rows and columns count, as Excel shows them).
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import struct
import threading
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import chain
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from witan.validation.schema import Field

CSV_BLOCK_BYTES = 4 * 1024 * 1024  # one pyarrow block (bounds memory); also the longest record we accept
XLSX_BATCH_ROWS = 20_000
XLSX_SAMPLE_ROWS = 200  # rows looked at before choosing the XLSX reader path (~20 ms)
SNIFF_BYTES = 256 * 1024
# Decompression-bomb guards for XLSX: checked on the zip directory before any XML is parsed.
XLSX_MAX_UNCOMPRESSED = 2 * 1024**3
XLSX_MAX_RATIO = 200
XLSX_RATIO_FLOOR = 64 * 1024**2  # the ratio rule applies only above this much uncompressed data
_EXCEL_EPOCH = datetime(1899, 12, 30)
# Table limits, each refused with its own code (issue 15): far beyond any return a council collects,
# low enough that a hostile file cannot exhaust memory or time.
MAX_COLUMNS = 702  # columns A to ZZ
MAX_ROWS = 5_000_000  # model-run inputs of every English council reach ~1.2M rows
MAX_CELL_CHARS = 32_767  # Excel's own limit for a cell
XLSX_MAX_CELLS = 25_000_000  # calamine holds a sheet as a dense rectangle of cells (about 32 bytes each)


class InputError(Exception):
    """The file cannot be read as a table; becomes one report error with this code."""

    def __init__(self, code: str, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.row = row


@dataclass
class Header:
    labels: list[str]
    row: int  # user-visible row number of the header row
    col_offset: int = 0  # XLSX: index of the sheet's first used column (0 = A)


@dataclass
class Batch:
    columns: list[pa.Array]  # pa.string() arrays, one per header position
    rows: npt.NDArray[np.int64]  # int64 user-visible row numbers
    # Ragged rows only: number of cells present per row (None = every row full width) and extra cells.
    cell_counts: npt.NDArray[np.int64] | None = None
    extras: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # row -> (offset past width, text)

    def __len__(self) -> int:
        return len(self.rows)


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# ---------------------------------------------------------------------------------------------- CSV


def detect_encoding(path: Path) -> str:
    """strict UTF-8 (with or without BOM) first, else Windows-1252; neither -> encoding-error with row."""
    for encoding in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        offset = 0
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(4 * 1024 * 1024):
                    decoder.decode(chunk)
                    offset += len(chunk)
                decoder.decode(b"", final=True)
            return "utf8" if encoding == "utf-8" else encoding
        except UnicodeDecodeError as exc:
            bad_offset = offset + exc.start
    row = _record_row_at(path, bad_offset)
    raise InputError(
        "encoding-error",
        f"Row {row} contains bytes that are neither UTF-8 nor Windows-1252 text. "
        "Save the file as 'CSV UTF-8' and upload it again.",
        row=row,
    )


def _record_row_at(path: Path, byte_offset: int) -> int:
    """Record-convention row number of the record holding byte_offset (slow; only on the error path)."""
    with path.open("rb") as fh:
        head = fh.read(byte_offset + 1)
    line = head.count(b"\n") + 1
    text = head.decode("latin-1")
    reader = csv.reader(io.StringIO(text))
    row = 0
    for _ in reader:
        row += 1
        if reader.line_num >= line:
            break
    return max(row, 1)


def sniff_delimiter(sample: str) -> str:
    """Comma, semicolon or tab: the one most used (outside quotes) in the first lines; comma on a tie."""
    unquoted = re.sub(r'"[^"]*"', "", sample)
    lines = [ln for ln in unquoted.splitlines()[:20] if ln.strip()]
    if not lines:
        return ","
    best, best_score = ",", 0
    for candidate in (",", ";", "\t"):
        counts = [ln.count(candidate) for ln in lines]
        # Prefer a delimiter present on the header line and consistent across lines.
        score = counts[0] * (2 if len(set(counts)) == 1 else 1)
        if score > best_score:
            best, best_score = candidate, score
    return best


class NeedSerialRead(Exception):
    """A ragged record was met while parsing in parallel, where pyarrow cannot tell its row number."""


class CsvReader:
    """pyarrow's streaming CSV reader, every column as text.

    Parsing runs on all cores; pyarrow then cannot number invalid (ragged) records, so the first one
    raises NeedSerialRead and check_file reads the file again single-threaded (only ever for files
    that are invalid anyway).
    """

    def __init__(self, path: Path, *, threads: bool = True) -> None:
        self.path = path
        self.threads = threads
        self.encoding = "utf8"
        self.delimiter = ","
        self._reader: Any = None
        self._invalid: list[tuple[int, str]] = []  # (row number, raw text) of ragged records
        self._skipped: set[int] = set()
        self._lock = threading.Lock()  # the handler runs on the prefetch thread
        self._first: pa.RecordBatch | None = None
        self._need_serial = False
        self.header: Header | None = None

    def open(self) -> Header:
        with self.path.open("rb") as fh:
            sample_bytes = fh.read(SNIFF_BYTES)
        if sample_bytes.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InputError(
                "encoding-error",
                "This file is saved as UTF-16 ('Unicode text'). Save it as 'CSV UTF-8' and upload it again.",
                row=1,
            )
        if b"\x00" in sample_bytes[:8192]:
            raise InputError("format-error", "This is not a text (CSV) file: it contains binary data.")
        self.encoding = detect_encoding(self.path)
        sample = sample_bytes.decode(
            "utf-8-sig" if self.encoding == "utf8" else self.encoding, errors="ignore"
        )
        if not sample.strip():
            raise InputError("empty-file", "The file has no content: no header row and no data.")
        self.delimiter = sniff_delimiter(sample)
        # newline=None: CR-only line endings (old Mac exports, R on some systems) split into rows too.
        header_cells = next(csv.reader(io.StringIO(sample, newline=None), delimiter=self.delimiter), [])
        _check_width(len(header_cells), 1)  # before pyarrow builds a column for each
        n_guess = max(len(header_cells), 1)

        def on_invalid(row: Any) -> str:
            if row.number is None:
                self._need_serial = True
                return "error"
            number = int(row.number)
            with self._lock:
                self._invalid.append((number, row.text))
                self._skipped.add(number)
            return "skip"

        try:
            self._reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(
                    autogenerate_column_names=True,
                    block_size=CSV_BLOCK_BYTES,
                    encoding=self.encoding,
                    use_threads=self.threads,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={f"f{i}": pa.string() for i in range(max(n_guess, 1) + 1)},
                    null_values=[],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            first = self._read_next()
        except pa.ArrowInvalid as exc:
            raise self._error(exc) from None
        if first is None or first.num_rows == 0:
            raise InputError("empty-file", "The file has no content: no header row and no data.")
        _check_width(first.num_columns, 1)
        labels = [str(first.column(i)[0].as_py()) for i in range(first.num_columns)]
        self._first = first.slice(1)
        self.header = Header(labels=labels, row=1)
        self._next_row = 2
        return self.header

    def _read_next(self) -> pa.RecordBatch | None:
        try:
            return self._reader.read_next_batch()
        except StopIteration:
            return None

    def _error(self, exc: Exception) -> Exception:
        if self._need_serial:
            return NeedSerialRead()
        return _csv_error(exc)

    def batches(self, fields: list[Field | None]) -> Iterator[Batch]:
        del fields  # CSV cells are already text
        assert self.header is not None
        width = len(self.header.labels)
        pending = self._first
        self._first = None
        # Parse the next block on a helper thread while this one checks the current batch (pyarrow
        # releases the GIL): parsing and checking overlap instead of taking turns.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-prefetch") as pool:
            upcoming = pool.submit(self._read_next)
            while True:
                if pending is None:
                    try:
                        pending = upcoming.result()
                    except pa.ArrowInvalid as exc:
                        raise self._error(exc) from None
                    if pending is None:
                        break
                    upcoming = pool.submit(self._read_next)
                batch = pending
                pending = None
                out = self._numbered(batch, width)
                if len(out):
                    yield out
        if self._invalid:  # ragged records after the last full one
            out = self._merge_ragged(
                Batch(columns=[pa.array([], pa.string())] * width, rows=np.array([], np.int64)),
                self._invalid,
                width,
            )
            self._invalid = []
            yield out

    def _numbered(self, batch: pa.RecordBatch, width: int) -> Batch:
        with self._lock:
            n = batch.num_rows
            rows = self._number_rows(n)
            last = int(rows[-1]) if n else self._next_row - 1
            take = [(r, t) for r, t in self._invalid if r <= last]
            if take:
                self._invalid = [(r, t) for r, t in self._invalid if r > last]
        columns = [batch.column(i) for i in range(batch.num_columns)]
        out = Batch(columns=columns, rows=rows)
        if take:
            out = self._merge_ragged(out, take, width)
        return out

    def _number_rows(self, n: int) -> npt.NDArray[np.int64]:
        """Row numbers of n kept records: the next n record numbers not taken by skipped ragged rows."""
        start = self._next_row
        if not self._skipped or max(self._skipped) < start:
            rows = np.arange(start, start + n, dtype=np.int64)
        else:
            skipped = np.fromiter((s for s in self._skipped if s >= start), dtype=np.int64)
            cand = np.arange(start, start + n + len(skipped), dtype=np.int64)
            rows = cand[~np.isin(cand, skipped)][:n]
        if n:
            self._next_row = int(rows[-1]) + 1
        while self._next_row in self._skipped:
            self._next_row += 1
        return rows

    def _merge_ragged(self, batch: Batch, ragged: list[tuple[int, str]], width: int) -> Batch:
        cells_per_row = [
            next(csv.reader(io.StringIO(text), delimiter=self.delimiter), []) for _, text in ragged
        ]
        for (row, _), cells in zip(ragged, cells_per_row, strict=True):
            _check_width(len(cells), row)
        n_main = len(batch)
        counts = np.concatenate(
            [
                np.full(n_main, width, np.int64),
                np.array([min(len(c), width) for c in cells_per_row], np.int64),
            ]
        )
        rows = np.concatenate([batch.rows, np.array([r for r, _ in ragged], np.int64)])
        columns = []
        for i in range(width):
            extra = pa.array([c[i] if i < len(c) else "" for c in cells_per_row], pa.string())
            columns.append(pa.concat_arrays([batch.columns[i].cast(pa.string()), extra]))
        order = np.argsort(rows, kind="stable")
        extras = {}
        position = {int(old): new for new, old in enumerate(order)}
        for k, cells in enumerate(cells_per_row):
            if len(cells) > width:
                extras[position[n_main + k]] = list(enumerate(cells[width:]))
        idx = pa.array(order)
        return Batch(
            columns=[c.take(idx) for c in columns],
            rows=rows[order],
            cell_counts=counts[order],
            extras=extras,
        )


def _check_width(columns: int, row: int) -> None:
    if columns > MAX_COLUMNS:
        raise InputError(
            "too-many-columns",
            f"Row {row} has {columns} columns; at most {MAX_COLUMNS} can be checked. "
            "Remove the columns you do not need.",
            row=row,
        )


def check_cells(batch: Batch, col_offset: int = 0) -> None:
    """Refuse the file at the first cell longer than MAX_CELL_CHARS (vectorised per column)."""
    for i, column in enumerate(batch.columns):
        lengths = pc.utf8_length(column)
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > MAX_CELL_CHARS:
            at = int(np.argmax(lengths.to_numpy(zero_copy_only=False) > MAX_CELL_CHARS))
            row = int(batch.rows[at])
            raise InputError(
                "cell-too-large",
                f"Row {row}, column {column_letter(col_offset + i)} holds {longest:,} characters; a cell "
                f"may hold at most {MAX_CELL_CHARS:,} (as in Excel). Check the file is split into columns "
                "correctly.",
                row=row,
            )
    for at, cells in batch.extras.items():
        for _, text in cells:
            if len(text) > MAX_CELL_CHARS:
                row = int(batch.rows[at])
                raise InputError(
                    "cell-too-large", f"Row {row} holds a cell of {len(text):,} characters.", row=row
                )


def _csv_error(exc: Exception) -> InputError:
    text = str(exc)
    if "straddling" in text or "block size" in text:
        return InputError(
            "format-error",
            f"A row is longer than {CSV_BLOCK_BYTES // (1024 * 1024)} MB, or a quote is never closed.",
        )
    if "UTF8" in text or "utf8" in text.lower():
        return InputError("encoding-error", "The file contains text that is not valid UTF-8 or Windows-1252.")
    return InputError("format-error", f"The file could not be read as CSV: {text[:200]}")


# --------------------------------------------------------------------------------------------- XLSX


XLSX_MAX_MEMBERS = 10_000
_INFLATE_CHUNK = 1024 * 1024
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # signature ... name length, extra length
# A cell reference (`<c r="AB12"`, any attribute order) and a row number (`<row r="12"`).
_CELL_REF = re.compile(rb'<c\s[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
_ROW_REF = re.compile(rb'<row\s[^>]*?\br="([0-9]{1,7})"')


@dataclass
class _SheetExtent:
    """How far a worksheet's cells reach, from their references (what calamine allocates)."""

    max_row: int = 0
    max_col: int = -1
    rows_seen: int = 0  # rows without a number are placed one after another
    _tail: bytes = b""

    def feed(self, chunk: bytes, final: bool = False) -> None:
        """Scan whole rows: the text after the last `<row` waits for the next chunk."""
        data = self._tail + chunk
        cut = len(data) if final else data.rfind(b"<row")
        if cut <= 0:
            if len(data) < 4 * _INFLATE_CHUNK:
                self._tail = data
                return
            # One enormous row: scan up to its last tag, so that no reference is cut in two.
            cut = data.rfind(b"<")
            cut = cut if cut > 0 else len(data)
        part, self._tail = data[:cut], data[cut:]
        refs = _CELL_REF.findall(part)
        if refs:
            self.max_col = max([self.max_col, *(_letters_index(c) for c in {c for c, _ in refs})])
            widest = max(map(len, (r for _, r in refs)))
            self.max_row = max(self.max_row, int(max(r for _, r in refs if len(r) == widest)))
        rows = _ROW_REF.findall(part)
        if rows:
            widest = max(map(len, rows))
            self.max_row = max(self.max_row, int(max(r for r in rows if len(r) == widest)))
        self.rows_seen += part.count(b"<row ") + part.count(b"<row>")
        self.max_row = max(self.max_row, self.rows_seen)
        if part.count(b"<c ") + part.count(b"<c>") > len(refs):
            # Cells placed by position (no `r`): count each row's cells (rare writers; slower).
            for row in part.split(b"<row")[1:]:
                self.max_col = max(self.max_col, row.count(b"<c ") + row.count(b"<c>") - 1)

    def check(self) -> None:
        columns = self.max_col + 1
        if columns > MAX_COLUMNS:
            raise InputError(
                "too-many-columns",
                f"The sheet reaches column {column_letter(columns - 1)} ({columns} columns); at most "
                f"{MAX_COLUMNS} (column {column_letter(MAX_COLUMNS - 1)}) can be checked. Delete the "
                "columns you do not need, or cells left far to the right.",
            )
        if self.max_row > MAX_ROWS + 1:
            raise InputError(
                "too-many-rows",
                f"The sheet reaches row {self.max_row}; at most {MAX_ROWS} rows of data can be checked. "
                "Split the data into several files, or delete cells left far below the data.",
            )
        if self.max_row * columns > XLSX_MAX_CELLS:
            raise InputError(
                "too-many-cells",
                f"The sheet spans {self.max_row} rows by {columns} columns, more cells than we can check "
                f"({XLSX_MAX_CELLS:,}). Delete cells far below or right of the data, or split the file.",
            )


def _letters_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n - 1


def _too_large(inflated: int, compressed: int) -> InputError:
    return InputError(
        "file-too-large",
        f"This workbook unpacks to more than {inflated // (1024 * 1024)} MB from {compressed // 1024} KB, "
        f"more than we can check (limit {XLSX_MAX_UNCOMPRESSED // (1024 * 1024)} MB, compression ratio "
        f"{XLSX_MAX_RATIO}:1). Remove unused sheets or upload the data as CSV.",
    )


def _damaged(detail: str) -> InputError:
    return InputError(
        "format-error",
        f"This file is not a valid Excel workbook (.xlsx): it may be damaged or renamed ({detail}).",
    )


def check_zip_bomb(path: Path) -> None:
    """Refuse a workbook before any reader opens it, by inflating every member ourselves.

    The zip directory's sizes are not trusted: each member is decompressed in a stream with a hard
    cap on the bytes it actually produces (and on the ratio to the file's size), its CRC checked, and
    every worksheet's cell references scanned for how far the sheet reaches, since calamine and
    fastexcel (which read the file themselves) hold a sheet as a dense rectangle of cells. Costs one
    extra decompression and scan of the file: about 1 s per million cells (measured).
    """
    file_size = path.stat().st_size or 1
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _damaged("no readable zip directory") from None
    if "[Content_Types].xml" not in names:
        raise InputError("format-error", "This is a zip file but not an Excel workbook (.xlsx).")
    if len(infos) > XLSX_MAX_MEMBERS:
        raise InputError("file-too-large", f"The workbook has {len(infos)} parts; at most {XLSX_MAX_MEMBERS}")
    budget = [0]  # bytes inflated so far, across members
    with path.open("rb") as raw:
        for info in infos:
            extent = _SheetExtent() if info.filename.endswith(".xml") else None
            _inflate_member(raw, info, file_size, budget, extent)
            if extent is not None:
                extent.check()


def _inflate_member(
    raw: Any, info: zipfile.ZipInfo, file_size: int, budget: list[int], extent: _SheetExtent | None
) -> None:
    raw.seek(info.header_offset)
    head = raw.read(_LOCAL_HEADER.size)
    if len(head) < _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        raise _damaged(f"part {info.filename!r} is missing")
    name_len, extra_len = _LOCAL_HEADER.unpack(head)[-2:]
    raw.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
    if info.compress_type == zipfile.ZIP_STORED:
        decompressor = None
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        decompressor = zlib.decompressobj(-15)
    else:
        raise _damaged(f"part {info.filename!r} uses an unsupported compression")
    produced = 0
    crc = 0
    left = info.compress_size  # stored parts: exactly this many bytes; deflated ones end themselves
    pending: list[bytes] = []  # scanned 256 KB at a time, however small the pieces inflate gives
    pending_size = 0

    def take(data: bytes) -> None:
        nonlocal produced, crc, pending_size
        produced += len(data)
        budget[0] += len(data)
        if budget[0] > XLSX_MAX_UNCOMPRESSED or (
            budget[0] > XLSX_RATIO_FLOOR and budget[0] / file_size > XLSX_MAX_RATIO
        ):
            raise _too_large(budget[0], file_size)
        crc = zlib.crc32(data, crc)
        if extent is not None and data:
            pending.append(data)
            pending_size += len(data)
            if pending_size >= 256 * 1024:
                extent.feed(b"".join(pending))
                pending.clear()
                pending_size = 0

    while True:
        if decompressor is None:
            if left <= 0:
                break
            chunk = raw.read(min(_INFLATE_CHUNK, left))
            if not chunk:
                raise _damaged(f"part {info.filename!r} is cut short")
            left -= len(chunk)
            take(chunk)
            continue
        if decompressor.eof:
            break
        chunk = raw.read(64 * 1024)
        if not chunk:
            raise _damaged(f"part {info.filename!r} is cut short")
        try:
            data = decompressor.decompress(chunk, _INFLATE_CHUNK)
            take(data)
            while decompressor.unconsumed_tail and not decompressor.eof:
                take(decompressor.decompress(decompressor.unconsumed_tail, _INFLATE_CHUNK))
        except zlib.error:
            raise _damaged(f"part {info.filename!r} is corrupt") from None
    if extent is not None:
        extent.feed(b"".join(pending), final=True)
    if produced != info.file_size or (crc & 0xFFFFFFFF) != info.CRC:
        raise _damaged(f"part {info.filename!r} does not match the size or checksum the zip declares")


def _format_when(value: datetime | date, f: Field) -> str:
    if f.format in ("default", "any"):
        if f.type == "datetime":
            return (
                value.isoformat(timespec="seconds")
                if isinstance(value, datetime)
                else f"{value.isoformat()}T00:00:00"
            )
        return value.isoformat()
    return value.strftime(f.format)


def cell_text(value: Any, f: Field | None) -> str:
    """An XLSX cell as the text a CSV of it would hold, shaped for the field that will read it."""
    kind = f.type if f is not None else "string"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        if kind == "boolean" and f is not None:
            return f.true_values[0] if value else f.false_values[0]
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if kind == "date" and f is not None:
            if value.time() == time(0):
                return _format_when(value.date(), f)
            return value.isoformat(sep=" ")
        if kind == "datetime" and f is not None:
            return _format_when(value, f)
        return value.isoformat(sep=" ") if value.time() != time(0) else value.date().isoformat()
    if isinstance(value, date):
        if kind in ("date", "datetime") and f is not None:
            return _format_when(value, f)
        return value.isoformat()
    if isinstance(value, int | float):
        if kind in ("date", "datetime") and f is not None and 0 < value < 2958466:
            # An Excel serial date (1900 date system) in a cell not formatted as a date.
            when = _EXCEL_EPOCH + timedelta(days=float(value))
            if kind == "date" and when.time() == time(0):
                return _format_when(when.date(), f)
            if kind == "datetime":
                return _format_when(when.replace(microsecond=0), f)
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, time | timedelta):
        return str(value)
    return "" if value is None else str(value)


class XlsxReader:
    """XLSX through calamine (Rust), read as values: cached results for formulas.

    calamine reads a 100k-row sheet 10-18x faster than openpyxl (measured in benchmarks/), which is
    what makes checking large workbooks inside a Lambda time limit possible. The fast path
    (_FastSheet, fastexcel's Arrow columns) is tried first; python-calamine cell by cell is the exact
    path it falls back to. `variant` says which one read the sheet.
    """

    def __init__(self, path: Path, sheet: str | None = None) -> None:
        self.path = path
        self.sheet_name = sheet
        self.header: Header | None = None
        self._rows: Iterator[list[Any]] | None = None
        self._index = 0
        self._fast: _FastSheet | None = None
        self.variant = "python-calamine"  # or "fastexcel": which path read the sheet (benchmarks report it)

    def open(self) -> Header:
        check_zip_bomb(self.path)
        fast = _FastSheet.load(self.path, self.sheet_name)
        if fast is not None:
            self._fast = fast
            self.variant = "fastexcel"
            self.header = fast.header
            return fast.header
        return self._open_calamine()

    def _open_calamine(self) -> Header:
        import python_calamine

        try:
            workbook = python_calamine.CalamineWorkbook.from_path(str(self.path))
        except Exception as exc:  # calamine raises its own error types for damaged workbooks
            raise InputError(
                "format-error", f"This Excel workbook could not be opened: {str(exc)[:200]}"
            ) from None
        names = list(workbook.sheet_names)
        try:
            if self.sheet_name is not None:
                if self.sheet_name not in names:
                    raise InputError(
                        "format-error",
                        f"The workbook has no sheet called {self.sheet_name!r}; "
                        f"its sheets are: {', '.join(names)}.",
                    )
                sheet = workbook.get_sheet_by_name(self.sheet_name)
            else:
                sheet = None
                for name in names:
                    candidate = workbook.get_sheet_by_name(name)
                    if candidate.start is not None:
                        sheet = candidate
                        break
                if sheet is None:
                    raise InputError("empty-file", "Every sheet in this workbook is empty.")
        except InputError:
            raise
        except Exception as exc:
            raise InputError(
                "format-error", f"This Excel sheet could not be read: {str(exc)[:200]}"
            ) from None
        if sheet is None or sheet.start is None:  # (None only for the type checker: refused above)
            raise InputError("empty-file", f"The sheet {self.sheet_name or ''!r} is empty.")
        col_offset = int(sheet.start[1])
        self._rows = iter(sheet.iter_rows())
        for cells in self._rows:
            self._index += 1
            if any(c != "" and c is not None for c in cells):
                labels = [cell_text(c, None) for c in cells]
                while labels and labels[-1] == "":
                    labels.pop()  # trailing empty columns are not columns
                self.header = Header(labels=labels, row=self._index, col_offset=col_offset)
                return self.header
        raise InputError("empty-file", f"The sheet {sheet.name!r} is empty.")

    def batches(self, fields: list[Field | None]) -> Iterator[Batch]:
        if self._fast is not None:
            yield from self._fast.batches(fields)
            return
        assert self.header is not None and self._rows is not None
        width = len(self.header.labels)
        buf: list[list[Any]] = []
        numbers: list[int] = []
        blank_run: list[int] = []  # empty rows held back: trailing ones are dropped, inner ones reported
        for cells in self._rows:
            self._index += 1
            if cells.count("") + cells.count(None) == len(cells):
                blank_run.append(self._index)
                continue
            for r in blank_run:
                buf.append([""] * len(cells))
                numbers.append(r)
            blank_run = []
            buf.append(cells)
            numbers.append(self._index)
            if len(buf) >= XLSX_BATCH_ROWS:
                yield self._to_batch(buf, numbers, width, fields)
                buf, numbers = [], []
        if buf:
            yield self._to_batch(buf, numbers, width, fields)

    @staticmethod
    def _to_batch(buf: list[list[Any]], numbers: list[int], width: int, fields: list[Field | None]) -> Batch:
        n = len(buf)
        lengths = set(map(len, buf))
        if len(lengths) > 1:  # calamine gives rows of the sheet's width; pad defensively if not
            longest = max(lengths)
            buf = [cells + [""] * (longest - len(cells)) for cells in buf]
        row_len = len(buf[0]) if buf else 0
        flat = list(chain.from_iterable(buf))  # then strided slices: C-speed, faster than zip(*buf)
        transposed = [flat[j::row_len] for j in range(row_len)]
        extras: dict[int, list[tuple[int, str]]] = {}
        for j in range(width, len(transposed)):  # cells right of the last heading
            col = transposed[j]
            if col.count("") + col.count(None) == n:
                continue
            for k, value in enumerate(col):
                if value != "" and value is not None:  # an empty spreadsheet cell is no cell at all
                    extras.setdefault(k, []).append((j - width, cell_text(value, None)))
        empty = [""] * n
        columns = [
            _column_text(
                transposed[i] if i < len(transposed) else empty, fields[i] if i < len(fields) else None
            )
            for i in range(width)
        ]
        return Batch(columns=columns, rows=np.array(numbers, np.int64), extras=extras)


def _column_text(col: list[Any], f: Field | None) -> pa.Array:
    """One column of calamine values as text, vectorised when the column is all text or all numbers."""
    try:
        return pa.array(col, pa.string())  # all text: the common case, no Python loop
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    kind = f.type if f is not None else "string"
    if kind not in ("date", "datetime", "boolean"):
        try:
            numbers = pa.array(col, pa.float64())  # all numbers (ints and floats, no bools or text)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            numbers = None
        if numbers is not None and not any(type(v) is bool for v in col):
            return _number_text(numbers)
    return pa.array([cell_text(v, f) for v in col], pa.string())


def _number_text(numbers: pa.Array) -> pa.Array:
    """float64 cells as cell_text writes them ("" for nulls): whole ones as integers, others as repr."""
    values = numbers.to_numpy(zero_copy_only=False)
    magnitude = np.abs(values)
    whole = np.isfinite(values) & (np.floor(values) == values) & (magnitude < 1e16)
    as_int = pa.array(np.where(whole, values, 0).astype(np.int64)).cast(pa.string())
    # Arrow prints the shortest round-trip digits, as repr does, but switches to exponents at other
    # sizes (0.00001 for 1e-05, 2.5e+11 for 250000000000.5): measured equal on 1e-4 <= |x| < 1e9.
    text = pc.fill_null(pc.if_else(pa.array(whole), as_int, numbers.cast(pa.string())), "")
    odd = np.flatnonzero(~whole & ~np.isnan(values) & ((magnitude < 1e-4) | (magnitude >= 1e9)))
    if len(odd):
        fixed = text.to_pylist()
        for k in odd.tolist():
            fixed[k] = repr(float(values[k]))
        text = pa.array(fixed, pa.string())
    return text


# ------------------------------------------------------------------------------- XLSX fast path

_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_TEXT_CELL_TYPES = ("s", "inlineStr", "str")
_CELL_KINDS = {"s": "text", "inlineStr": "text", "str": "text", "b": "bool", "e": "error", "d": "date"}
_DEDUPED = re.compile(r"^(.*)_[0-9]+$")
_FIRST_DATE = datetime(1900, 1, 1)  # earlier values are time-only cells, which calamine gives as times


def _column_index(ref: str) -> int:
    """'C3' -> 2."""
    n = 0
    for ch in ref:
        if not ch.isalpha():
            break
        n = n * 26 + ord(ch.upper()) - 64
    return n - 1


def _sheet_parts(zf: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet name, zip member of its XML), in workbook order."""
    # ElementTree never fetches external entities and Python's expat (>= 2.4) caps entity expansion;
    # sizes were already bounded by check_zip_bomb.
    workbook = ET.fromstring(zf.read("xl/workbook.xml"))  # noqa: S314
    rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))  # noqa: S314
    targets = {r.get("Id"): r.get("Target") or "" for r in rels.iter(f"{_PKG_NS}Relationship")}
    parts = []
    for sheet in workbook.iter(f"{_MAIN_NS}sheet"):
        target = targets[sheet.get(f"{_REL_NS}id")]
        member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
        parts.append((sheet.get("name") or "", member))
    return parts


def _scan_head(zf: zipfile.ZipFile, member: str) -> tuple[int, list[tuple[int, str]], bool] | None:
    """The first row holding a value: its sheet row number and (column index, cell type) of its cells;
    and whether the next rows already mix kinds of cell (text, number, boolean...) in one
    column, which makes fastexcel's strict reading fail after a full parse, so it is not worth trying.
    The sample is XLSX_SAMPLE_ROWS rows.

    Streams only the head of the sheet XML. A cell with neither <v> nor <is> (formatting only, or a
    formula without a cached value) holds no value, as calamine sees it.
    """
    parser: ET.XMLPullParser[ET.Element[str]] = ET.XMLPullParser(events=("end",))
    row_number = 0
    header: tuple[int, list[tuple[int, str]]] | None = None
    kinds: dict[int, set[str]] = {}
    seen = 0
    sample_rows = XLSX_SAMPLE_ROWS
    with zf.open(member) as fh:
        while chunk := fh.read(64 * 1024):
            parser.feed(chunk)
            # Only "end" events were asked for: each is (event, element).
            ends = cast("Iterator[tuple[str, ET.Element[str]]]", parser.read_events())
            for _, el in ends:
                if el.tag != f"{_MAIN_NS}row":
                    continue
                r = el.get("r")
                row_number = int(r) if r else row_number + 1
                cells: list[tuple[int, str]] = []
                col = -1
                for c in el.iter(f"{_MAIN_NS}c"):
                    ref = c.get("r")
                    col = _column_index(ref) if ref else col + 1
                    v = c.find(f"{_MAIN_NS}v")
                    if (v is not None and v.text) or c.find(f"{_MAIN_NS}is") is not None:
                        cells.append((col, c.get("t", "n")))
                el.clear()
                if header is None:
                    if cells:
                        header = (row_number, cells)
                    continue
                for col, t in cells:
                    kinds.setdefault(col, set()).add(_CELL_KINDS.get(t, "number"))
                seen += 1
                if seen >= sample_rows:
                    break
            if seen >= sample_rows:
                break
    if header is None:
        return None
    return header[0], header[1], any(len(k) > 1 for k in kinds.values())


class _FastSheet:
    """The whole sheet as Arrow columns through fastexcel (calamine in Rust, no Python object per cell).

    Used only where it gives exactly what the python-calamine path gives; `load` returns None in every
    other case and XlsxReader reads the sheet cell by cell instead. The conditions: the header is the
    first row with a value and holds only text cells (its labels are then fastexcel's column names,
    checked cell by cell against the sheet XML); every column holds one kind of cell (strict dtypes, so
    a number-or-text column still tells numbers from text) and fastexcel reports no cell it turned
    into a null ("N/A", error cells) and no NaN (text "NaN"); no time-only cells (fastexcel gives them
    as datetimes of 1899) and no fractional seconds (not compared between the readers). Sheet row
    numbers come from the XML (fastexcel numbers rows from the first used one). Differential tests
    (tests/unit/validation/test_validation_xlsx_fast.py) compare both paths on random workbooks.
    """

    def __init__(self, header: Header, data: pa.RecordBatch) -> None:
        self.header = header
        self.data = data

    @classmethod
    def load(cls, path: Path, sheet: str | None) -> _FastSheet | None:
        try:
            import fastexcel
        except ImportError:
            return None
        try:
            with zipfile.ZipFile(path) as zf:
                parts = _sheet_parts(zf)
                first: tuple[int, list[tuple[int, str]], bool] | None = None
                name = None
                for candidate, member in parts:
                    if sheet is not None and candidate != sheet:
                        continue
                    first = _scan_head(zf, member)
                    if first is not None:
                        name = candidate
                        break
                    if sheet is not None:
                        return None
            if first is None or name is None or first[2]:
                return None
            if any(t not in _TEXT_CELL_TYPES for _, t in first[1]):
                return None
            loaded = fastexcel.read_excel(str(path)).load_sheet(
                name, header_row=0, schema_sample_rows=None, dtype_coercion="strict", eager=False
            )
            columns = loaded.selected_columns
            data, cell_errors = loaded.to_arrow_with_errors()
        except Exception:  # fastexcel's errors (mixed columns, damaged files): the exact path decides
            return None
        if cell_errors is not None and cell_errors.errors:
            return None  # text such as "N/A" or an error cell that fastexcel turned into a null
        header_row, cells, _ = first
        offset = cells[0][0] - next(
            (i for i, c in enumerate(columns) if c.column_name_from == "looked_up"), cells[0][0]
        )
        by_position = {col - offset for col, _ in cells}
        names = [c.name for c in columns]
        named = {i for i, c in enumerate(columns) if c.column_name_from == "looked_up"}
        if offset < 0 or by_position != named:
            return None
        for i in named:  # a renamed duplicate ("id_1" for a second "id") is not the cell's text
            m = _DEDUPED.match(names[i])
            if m and m.group(1) in names:
                return None
        if not all(cls._exact(data.column(i)) for i in range(data.num_columns)):
            return None
        labels = [names[i] if i in named else "" for i in range(len(columns))]
        while labels and labels[-1] == "":
            labels.pop()
        if not any(labels):
            return None
        return cls(Header(labels=labels, row=header_row, col_offset=offset), data)

    @staticmethod
    def _exact(col: pa.Array) -> bool:
        """A column fastexcel gives as the python-calamine path would see it."""
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
            return True
        if pa.types.is_floating(t):  # NaN: text "NaN" that fastexcel read as a number
            return not pc.any(pc.is_nan(col)).as_py()
        if pa.types.is_integer(t) or pa.types.is_boolean(t):
            return True
        if pa.types.is_date(t):
            return True
        if pa.types.is_timestamp(t):
            if col.null_count == len(col):
                return True
            # Whole seconds only: fractional ones are not compared between the two readers.
            ms = pc.cast(pc.cast(col, pa.timestamp("ms")), pa.int64())
            fraction = pc.max(pc.abs(pc.subtract(ms, pc.multiply(pc.divide(ms, 1000), 1000)))).as_py()
            return not fraction and pc.min(col).as_py() >= _FIRST_DATE
        return False

    def batches(self, fields: list[Field | None]) -> Iterator[Batch]:
        data = self.data
        width = len(self.header.labels)
        n = data.num_rows
        if n == 0 or data.num_columns == 0:
            return
        empty = np.ones(n, bool)
        for i in range(data.num_columns):
            col = data.column(i)
            blank = pc.is_null(col)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                blank = pc.or_(blank, pc.equal(pc.binary_length(col), 0))
            empty &= pc.fill_null(blank, True).to_numpy(zero_copy_only=False)
        kept = np.flatnonzero(~empty)
        if not len(kept):
            return
        n = int(kept[-1]) + 1  # trailing empty rows are not rows; inner ones are blank rows
        first_row = self.header.row + 1
        for start in range(0, n, XLSX_BATCH_ROWS):
            stop = min(start + XLSX_BATCH_ROWS, n)
            part = data.slice(start, stop - start)
            columns = [
                _arrow_text(part.column(i), fields[i] if i < len(fields) else None)
                if i < part.num_columns
                else pa.array([""] * (stop - start), pa.string())
                for i in range(width)
            ]
            extras: dict[int, list[tuple[int, str]]] = {}
            for j in range(width, part.num_columns):  # cells right of the last heading
                if part.column(j).null_count == len(part):
                    continue
                for k, value in enumerate(part.column(j).to_pylist()):
                    if value != "" and value is not None:
                        extras.setdefault(k, []).append((j - width, cell_text(value, None)))
            rows = np.arange(first_row + start, first_row + stop, dtype=np.int64)
            yield Batch(columns=columns, rows=rows, extras=extras)


def _arrow_text(col: pa.Array, f: Field | None) -> pa.Array:
    """One typed fastexcel column as the text cell_text gives for each of its cells."""
    t = col.type
    if pa.types.is_null(t):
        return pa.array([""] * len(col), pa.string())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pc.fill_null(col.cast(pa.string()), "")
    kind = f.type if f is not None else "string"
    if (pa.types.is_floating(t) or pa.types.is_integer(t)) and kind not in ("date", "datetime", "boolean"):
        return _number_text(col.cast(pa.float64()))
    # Dates, booleans, and numbers read as dates (Excel serials): per cell, as the exact path does.
    return pa.array(["" if v is None else cell_text(v, f) for v in col.to_pylist()], pa.string())
