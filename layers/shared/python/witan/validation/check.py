"""check_file: stream a CSV or XLSX through the schema's checks, batch by batch, into a CheckReport.

Cells are checked column-wise with pyarrow.compute; CheckError objects are built only for failing
cells, so speed depends on the size of the file, not on Python loops over every cell. Errors within a
batch are ordered by row, then column, so `report.errors` holds the first errors as a reader meets them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from witan.validation import readers
from witan.validation.cells import ReadColumn, arrow_type, read_column
from witan.validation.keys import DuplicateIndex
from witan.validation.readers import (
    Batch,
    CsvReader,
    Header,
    InputError,
    NeedSerialRead,
    XlsxReader,
    check_cells,
    column_letter,
)
from witan.validation.records import CheckError, CheckReport
from witan.validation.schema import Field, Schema, parse_constraint_value

VALUE_CHARS = 100
_CONSTRAINT_ORDER = ("required", "enum", "minimum", "maximum", "minLength", "maxLength", "pattern")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"


def _short(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _materialise(source: Path | IO[bytes], stack: contextlib.ExitStack) -> Path:
    """A path for the readers (pyarrow and calamine want seekable files): copy a stream to a temp file."""
    if isinstance(source, str | os.PathLike):
        return Path(source)
    tmp = stack.enter_context(tempfile.NamedTemporaryFile(prefix="witan-check-", suffix=".bin"))  # noqa: SIM115
    shutil.copyfileobj(source, tmp, 1024 * 1024)
    tmp.flush()
    return Path(tmp.name)


def _open_reader(path: Path, file_name: str, sheet: str | None, threads: bool) -> CsvReader | XlsxReader:
    with path.open("rb") as fh:
        magic = fh.read(8)
    lower = file_name.lower()
    if magic.startswith(_OLE_MAGIC):
        raise InputError("format-error", "This is an old-style Excel file (.xls). Save it as .xlsx or CSV.")
    if magic.startswith(_ZIP_MAGIC):
        return XlsxReader(path, sheet)
    if lower.endswith((".xlsx", ".xlsm")):
        raise InputError(
            "format-error",
            "This file is named as an Excel workbook but is not one: it may be damaged or renamed.",
        )
    return CsvReader(path, threads=threads)


def check_file(
    source: Path | IO[bytes],
    schema: Schema,
    *,
    file_name: str,
    sheet: str | None = None,
    error_limit: int | None = 1000,
    max_bytes: int | None = None,
    deadline: float | None = None,
    parquet_path: Path | None = None,
) -> CheckReport:
    """Check one uploaded file against a schema. See the package docstring for the contract."""
    with contextlib.ExitStack() as stack:
        try:
            path = _materialise(source, stack)
        except OSError as exc:
            report = CheckReport(error_limit=error_limit)
            report.add(CheckError(code="format-error", message=f"The file could not be read: {exc}"))
            return report
        try:
            return _check_path(
                path, schema, file_name, sheet, error_limit, max_bytes, deadline, parquet_path, True
            )
        except NeedSerialRead:  # ragged CSV rows: number them exactly with a single-threaded read
            return _check_path(
                path, schema, file_name, sheet, error_limit, max_bytes, deadline, parquet_path, False
            )


def _check_path(
    path: Path,
    schema: Schema,
    file_name: str,
    sheet: str | None,
    error_limit: int | None,
    max_bytes: int | None,
    deadline: float | None,
    parquet_path: Path | None,
    threads: bool,
) -> CheckReport:
    report = CheckReport(error_limit=error_limit)
    checker: _Checker | None = None
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise InputError(
                "file-too-large",
                f"The file is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.",
            )
        if size == 0:
            raise InputError("empty-file", "The file is empty (0 bytes).")
        reader = _open_reader(path, file_name, sheet, threads)
        header = reader.open()
        checker = _Checker(schema, header, report, parquet_path)
        checker.check_header()
        for batch in reader.batches(checker.fields_by_position):
            if report.rows + len(batch) > readers.MAX_ROWS:
                row = int(batch.rows[readers.MAX_ROWS - report.rows])
                raise InputError(
                    "too-many-rows",
                    f"Row {row} is beyond the {readers.MAX_ROWS:,} rows of data that can be checked in one "
                    "file. Split the data into several files.",
                    row=row,
                )
            check_cells(batch, header.col_offset)
            checker.check_batch(batch)
            if deadline is not None and time.monotonic() > deadline:
                report.add(
                    CheckError(
                        code="timeout",
                        message=f"Checking stopped after row {int(batch.rows[-1])}: the file took too long "
                        "to check. Split it into smaller files.",
                        row=int(batch.rows[-1]),
                    )
                )
                break
        checker.finish()
    except InputError as exc:
        report.add(CheckError(code=exc.code, message=exc.message, row=exc.row))
    except OSError as exc:
        report.add(
            CheckError(code="format-error", message=f"The file could not be read: {exc.strerror or exc}")
        )
    finally:
        if checker is not None and checker.writer is not None:
            checker.writer.close()
        if parquet_path is not None and not report.valid:
            Path(parquet_path).unlink(missing_ok=True)
    return report


class _Checker:
    def __init__(
        self, schema: Schema, header: Header, report: CheckReport, parquet_path: Path | None
    ) -> None:
        self.schema = schema
        self.header = header
        self.report = report
        self.parquet_path = parquet_path
        self.writer: Any = None
        self.width = len(header.labels)
        self.positions: dict[str, int] = {}  # field name -> header position
        self.fields_by_position: list[Field | None] = [None] * self.width
        self.unique_seen: dict[str, DuplicateIndex] = {}
        self.pk_seen = DuplicateIndex()
        self.constraints: dict[str, dict[str, Any]] = {}
        self.listing_full = False
        self.pk_fields: list[str] = []

    def letter(self, position: int) -> str:
        return column_letter(self.header.col_offset + position)

    # ------------------------------------------------------------------------------------------ header
    def _label_error(
        self, code: str, position: int | None, field: str | None, label: str | None, msg: str
    ) -> None:
        self.report.add(
            CheckError(
                code=code,
                message=msg,
                row=self.header.row,
                field=field,
                column=self.letter(position) if position is not None else None,
                value=_short(label),
            )
        )

    def check_header(self) -> None:
        labels = self.header.labels
        fields = self.schema.fields
        mode = self.schema.fields_match
        first_label: dict[str, int] = {}
        for i, label in enumerate(labels):
            first_label.setdefault(label, i)
        if (
            mode == "exact"
            and any(first_label.get(f.name, i) != i for i, f in enumerate(fields))
            and all(f.name in first_label for f in fields if f.constraints.get("required"))
        ):
            # Columns out of the schema's order but every required one there by name: match by name,
            # so the report names the missing and unexpected columns instead of every column shifted.
            mode = "equal"
        if mode == "exact":
            for i in range(max(len(labels), len(fields))):
                heading = labels[i] if i < len(labels) else None
                f = fields[i] if i < len(fields) else None
                if f is None:
                    self._label_error(
                        "extra-label",
                        i,
                        None,
                        heading,
                        f"Column {self.letter(i)} ({heading!r}) is not in the schema.",
                    )
                    continue
                if heading is None:
                    self._label_error(
                        "missing-label",
                        None,
                        f.name,
                        None,
                        f"The column {f.name!r} is missing (expected as column {self.letter(i)}).",
                    )
                    continue
                if heading == "":
                    self._label_error(
                        "blank-label",
                        i,
                        f.name,
                        heading,
                        f"Column {self.letter(i)} has no heading; it should be {f.name!r}.",
                    )
                elif heading in labels[:i]:
                    self._label_error(
                        "duplicate-label",
                        i,
                        f.name,
                        heading,
                        f"The heading {heading!r} in column {self.letter(i)} appears earlier too.",
                    )
                elif heading != f.name:
                    self._label_error(
                        "incorrect-label",
                        i,
                        f.name,
                        heading,
                        f"Column {self.letter(i)} is headed {heading!r} but should be {f.name!r}.",
                    )
                self.positions[f.name] = i
        else:
            names = {f.name for f in fields}
            first_at: dict[str, int] = {}
            for i, label in enumerate(labels):
                if label == "":
                    self._label_error(
                        "blank-label", i, None, label, f"Column {self.letter(i)} has no heading."
                    )
                elif label in first_at:
                    self._label_error(
                        "duplicate-label",
                        i,
                        label if label in names else None,
                        label,
                        f"The heading {label!r} in column {self.letter(i)} appears earlier too.",
                    )
                else:
                    first_at[label] = i
                    if label not in names and mode in ("equal", "superset"):
                        self._label_error(
                            "extra-label",
                            i,
                            None,
                            label,
                            f"Column {self.letter(i)} ({label!r}) is not in the schema.",
                        )
            for f in fields:
                if f.name in first_at:
                    self.positions[f.name] = first_at[f.name]
                elif mode in ("equal", "subset"):
                    self._label_error(
                        "missing-label", None, f.name, None, f"The column {f.name!r} is missing."
                    )
            if mode == "partial" and not self.positions:
                self._label_error(
                    "missing-label",
                    None,
                    None,
                    None,
                    "None of the columns in the schema is present: " + ", ".join(f.name for f in fields[:10]),
                )
        for f in fields:
            if f.name in self.positions:
                self.fields_by_position[self.positions[f.name]] = f
        for f in fields:
            self.constraints[f.name] = {
                k: (parse_constraint_value(f, v) if k in ("minimum", "maximum") else v)
                for k, v in f.constraints.items()
            }
            if "enum" in f.constraints:
                typed_enum = [parse_constraint_value(f, v) for v in f.constraints["enum"]]
                self.constraints[f.name]["enum"] = pa.array(typed_enum, arrow_type(f.type))
            if f.constraints.get("unique"):
                self.unique_seen[f.name] = DuplicateIndex()
        pk_mapped = all(name in self.positions for name in self.schema.primary_key)
        self.pk_fields = list(self.schema.primary_key) if pk_mapped else []

    # ------------------------------------------------------------------------------------------- rows
    def check_batch(self, batch: Batch) -> None:
        n = len(batch)
        limit = self.report.error_limit
        self.listing_full = limit is not None and len(self.report.errors) >= limit
        self.report.rows += n
        present_counts = batch.cell_counts
        read: dict[str, ReadColumn] = {}
        absent: dict[str, npt.NDArray[np.bool_]] = {}
        blank = np.ones(n, bool)
        for f in self.schema.fields:
            pos = self.positions.get(f.name)
            if pos is None:
                continue
            col = read_column(f, batch.columns[pos])
            read[f.name] = col
            gone = present_counts <= pos if present_counts is not None else np.zeros(n, bool)
            absent[f.name] = gone
            blank &= col.missing | gone
        if not read:
            blank[:] = False
        # (row index, column position, order within the cell, error)
        found: list[tuple[int, int, int, CheckError]] = []
        rows = batch.rows
        for f in self.schema.fields:
            if f.name not in read:
                continue
            self._cell_errors(f, read[f.name], absent[f.name], blank, batch, found)
        self._key_errors(read, blank, rows, found)
        for k, cells in batch.extras.items():
            if blank[k]:
                continue
            for j, cell in cells:
                pos = self.width + j
                found.append(
                    (
                        k,
                        pos,
                        20,
                        CheckError(
                            code="extra-cell",
                            row=int(rows[k]),
                            column=self.letter(pos),
                            value=_short(cell),
                            message=f"Row {int(rows[k])} has a value in column {self.letter(pos)}, "
                            "beyond the last heading.",
                        ),
                    )
                )
        for k in map(int, np.flatnonzero(blank)):
            found.append(
                (
                    int(k),
                    -1,
                    0,
                    CheckError(code="blank-row", row=int(rows[k]), message=f"Row {int(rows[k])} is empty."),
                )
            )
        found.sort(key=lambda t: (t[0], t[1], t[2]))
        for *_, error in found:
            self.report.add(error)
        if self.parquet_path is not None and self.report.valid:
            self._write_parquet(read, n)

    def _cell_errors(
        self,
        f: Field,
        col: ReadColumn,
        gone: npt.NDArray[np.bool_],
        blank: npt.NDArray[np.bool_],
        batch: Batch,
        found: list[tuple[int, int, int, CheckError]],
    ) -> None:
        pos = self.positions[f.name]
        letter = self.letter(pos)
        rows = batch.rows
        live = ~blank
        raw = batch.columns[pos]

        def add(mask: npt.NDArray[np.bool_], order: int, make: Any, code: str) -> None:
            hits = np.flatnonzero(mask & live)
            if not len(hits):
                return
            if self.listing_full:  # the report lists no more errors: count them, build nothing
                self.report.count_only(code, len(hits))
                return
            values = raw.take(pa.array(hits)).to_pylist()
            for k, value in zip(hits.tolist(), values, strict=True):
                found.append((k, pos, order, make(value, int(rows[k]))))

        add(
            gone,
            30,
            lambda v, r: CheckError(
                code="missing-cell",
                row=r,
                field=f.name,
                column=letter,
                message=f"Row {r} stops before column {letter} ({f.name}).",
            ),
            "missing-cell",
        )
        bad = col.bad & ~gone
        add(
            bad,
            1,
            lambda v, r: CheckError(
                code="type-error",
                row=r,
                field=f.name,
                column=letter,
                value=_short(v),
                message=f"Row {r}, column {letter} ({f.name}): {_short(v)!r} is not {_type_words(f)}.",
            ),
            "type-error",
        )
        valid = ~col.missing & ~col.bad & ~gone
        limits = self.constraints[f.name]
        for order, name in enumerate(_CONSTRAINT_ORDER, start=2):
            if name not in limits:
                continue
            fail = self._constraint_fail(f, name, limits[name], col, raw, valid, gone)
            if fail is None or not fail.any():
                continue
            add(
                fail,
                order,
                lambda v, r, name=name: CheckError(
                    code="constraint-error",
                    constraint=name,
                    row=r,
                    field=f.name,
                    column=letter,
                    value=_short(v) if name != "required" else None,
                    message=_constraint_message(f, name, r, letter, v),
                ),
                "constraint-error",
            )
        if f.name in self.unique_seen:
            self._unique_errors(f, col.typed, valid & live, raw, rows, found)

    def _unique_errors(
        self,
        f: Field,
        typed: pa.Array,
        valid: npt.NDArray[np.bool_],
        raw: pa.Array,
        rows: npt.NDArray[np.int64],
        found: list[tuple[int, int, int, CheckError]],
    ) -> None:
        """Later duplicates get unique-error, naming the row of the first."""
        pos = self.positions[f.name]
        letter = self.letter(pos)
        idx = np.flatnonzero(valid)
        clashes = self.unique_seen[f.name].add(typed.take(pa.array(idx)), rows[idx])
        for j, first in clashes:
            k = int(idx[j])
            r = int(rows[k])
            value = raw[k].as_py()
            found.append(
                (
                    k,
                    pos,
                    10,
                    CheckError(
                        code="unique-error",
                        row=r,
                        field=f.name,
                        column=letter,
                        value=_short(value),
                        message=f"Row {r}, column {letter} ({f.name}): {_short(value)!r} is also in "
                        f"row {first}; each value must be different.",
                    ),
                )
            )

    def _constraint_fail(
        self,
        f: Field,
        name: str,
        limit: Any,
        col: ReadColumn,
        raw: pa.Array,
        valid: npt.NDArray[np.bool_],
        gone: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.bool_] | None:
        typed = col.typed
        if name == "required":
            return col.missing & ~gone if limit else None
        if name == "enum":
            return valid & ~_bool(pc.is_in(typed, value_set=limit))
        if name == "minimum" and limit is not None:
            return valid & _bool(pc.less(typed, pa.scalar(limit, typed.type)))
        if name == "maximum" and limit is not None:
            return valid & _bool(pc.greater(typed, pa.scalar(limit, typed.type)))
        if name in ("minLength", "maxLength"):
            length: npt.NDArray[np.int64] = np.asarray(
                pc.fill_null(pc.utf8_length(typed), 0).to_numpy(zero_copy_only=False), dtype=np.int64
            )
            bound = int(limit)
            return valid & (length < bound if name == "minLength" else length > bound)
        if name == "pattern":
            try:  # RE2: linear in the cell's length. Never Python's re, which can backtrack for hours.
                ok = _bool(pc.match_substring_regex(typed, f"^(?:{limit})$"))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a schema stored before the check
                raise InputError(
                    "schema-error",
                    f"The schema's pattern for {f.name} cannot be used (RE2 cannot run it): {limit}",
                ) from None
            return valid & ~ok
        return None

    def _key_errors(
        self,
        read: dict[str, ReadColumn],
        blank: npt.NDArray[np.bool_],
        rows: npt.NDArray[np.int64],
        found: list[tuple[int, int, int, CheckError]],
    ) -> None:
        if not self.pk_fields:
            return
        names = ", ".join(self.pk_fields)
        cols = [read[name] for name in self.pk_fields]

        def key_error(k: int, message: str, value: str | None = None) -> None:
            error = CheckError(
                code="primary-key", row=int(rows[k]), field=self.pk_fields[0], value=value, message=message
            )
            found.append((k, 10**6, 0, error))  # after the row's cell errors

        all_blank = np.logical_and.reduce([c.missing for c in cols]) & ~blank
        for k in np.flatnonzero(all_blank).tolist():
            key_error(k, f"Row {int(rows[k])} has no value in its key ({names}).")
        # Rows with a blank or unreadable key cell are reported by required / type errors instead.
        complete = np.logical_and.reduce([_bool(pc.is_valid(c.typed)) for c in cols]) & ~blank
        idx = np.flatnonzero(complete)
        take = pa.array(idx)
        if len(cols) == 1:
            keys = cols[0].typed.take(take)
        else:  # one text key per row: the typed values in canonical text, joined by a unit separator
            parts = [c.typed.take(take).cast(pa.string()) for c in cols]
            keys = pc.binary_join_element_wise(*parts, "\x1f")
        for j, first in self.pk_seen.add(keys, rows[idx]):
            k = int(idx[j])
            value = ", ".join(str(c.typed[k].as_py()) for c in cols)
            key_error(
                k, f"Row {int(rows[k])} repeats the key ({names}) = ({value}) of row {first}.", _short(value)
            )

    # ---------------------------------------------------------------------------------------- parquet
    def _write_parquet(self, read: dict[str, ReadColumn], n: int) -> None:
        import pyarrow.parquet as pq

        arrays = []
        for f in self.schema.fields:
            t = arrow_type(f.type)
            arrays.append(read[f.name].typed.cast(t) if f.name in read else pa.nulls(n, t))
        table = pa.Table.from_arrays(
            arrays, schema=pa.schema([pa.field(f.name, arrow_type(f.type)) for f in self.schema.fields])
        )
        if self.writer is None:
            self.writer = pq.ParquetWriter(str(self.parquet_path), table.schema, compression="zstd")
        self.writer.write_table(table)

    def finish(self) -> None:
        if self.parquet_path is None:
            return
        if self.writer is None and self.report.valid:
            self._write_parquet({}, 0)
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _bool(mask: Any) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _type_words(f: Field) -> str:
    from witan.validation.schema import type_phrase

    return type_phrase(f)


def _constraint_message(f: Field, name: str, row: int, letter: str, value: Any) -> str:
    where = f"Row {row}, column {letter} ({f.name})"
    c = f.constraints
    shown = repr(_short(value))
    if name == "required":
        return f"{where} is empty but a value is required."
    if name == "enum":
        allowed = ", ".join(str(v) for v in c["enum"][:15]) + (", ..." if len(c["enum"]) > 15 else "")
        return f"{where}: {shown} is not one of the allowed values ({allowed})."
    if name == "minimum":
        return f"{where}: {shown} is below the minimum {c['minimum']}."
    if name == "maximum":
        return f"{where}: {shown} is above the maximum {c['maximum']}."
    if name == "minLength":
        return f"{where}: {shown} is shorter than {c['minLength']} characters."
    if name == "maxLength":
        return f"{where}: {shown} is longer than {c['maxLength']} characters."
    return f"{where}: {shown} does not match the required pattern {c['pattern']}."
