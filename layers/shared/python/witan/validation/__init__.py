"""Check uploaded tables (CSV, XLSX) against Frictionless Table Schemas, fast and exactly.

API (used by the upload_validator Lambda and `witan validate`)::

    from witan.validation import check_file, load_schema

    schema = load_schema("ssda903-episodes")          # built-in name (schemas/tables/*.json) or a path
    report = check_file(
        path_or_binary_stream, schema,
        file_name="episodes.csv",   # shown to users; .xlsx/.xlsm names expect a workbook
        sheet=None,                 # XLSX sheet name; default: the first non-empty sheet
        error_limit=1000,           # report.errors keeps the first N; report.counts counts them all
        max_bytes=None,             # bigger files -> one file-too-large error
        deadline=None,              # a time.monotonic() value; past it, checking stops with a
                                    # "timeout" error (the report is then invalid) instead of being killed
        parquet_path=None,          # if given and the file is valid, typed Parquet is written there
    )                               # batch by batch (removed again if the file turns out invalid)
    report.valid, report.rows, report.error_count, report.counts, report.errors, report.to_dict()

`check_file` never raises for bad input: unreadable files become one error in the report (codes
empty-file, file-too-large, format-error, encoding-error). Schema problems raise SchemaError from
load_schema/parse_schema, before any file is read.

Error codes (frictionless names): missing-label, extra-label, duplicate-label, blank-label,
incorrect-label, blank-row, extra-cell, missing-cell, type-error, constraint-error (with `constraint`:
required, enum, minimum, maximum, minLength, maxLength, pattern), unique-error (on the later
duplicate), primary-key, encoding-error, format-error, empty-file, file-too-large, timeout.
See model.ERROR_CODES for a title per code.

Row numbers: CSV header record is row 1 and the first data record row 2 (records, not physical lines,
so a quoted value with line breaks does not shift later rows: what a spreadsheet shows). XLSX rows and
columns are the sheet's own. Column letters (A, B, ..., AA) are given for CSV too.

Where we differ from frictionless on purpose (fewer, clearer errors): a column missing from the header
gives one missing-label, not a missing-cell on every row; an extra labelled column gives one
extra-label, not an extra-cell on every row; a cell absent from a short row gives missing-cell only
(not also a required constraint-error); a primary key is checked only when all its cells are readable.

Types and Parquet: Schema.field_info() gives per-field type information in words and as Arrow types
(string, int64, float64, bool, date32, timestamp[us]).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from witan.validation.check import check_file
    from witan.validation.records import ERROR_CODES, CheckError, CheckReport
    from witan.validation.schema import (
        Field,
        Schema,
        SchemaError,
        builtin_schema_names,
        load_schema,
        parse_schema,
    )

# Loaded on first use (PEP 562): the checker pulls in pyarrow and numpy, which the access_api only
# needs for schema parsing, never at cold start.
_HOME = {
    "check_file": "witan.validation.check",
    "ERROR_CODES": "witan.validation.records",
    "CheckError": "witan.validation.records",
    "CheckReport": "witan.validation.records",
    "Field": "witan.validation.schema",
    "Schema": "witan.validation.schema",
    "SchemaError": "witan.validation.schema",
    "builtin_schema_names": "witan.validation.schema",
    "load_schema": "witan.validation.schema",
    "parse_schema": "witan.validation.schema",
}

__all__ = [
    "ERROR_CODES",
    "CheckError",
    "CheckReport",
    "Field",
    "Schema",
    "SchemaError",
    "builtin_schema_names",
    "check_file",
    "load_schema",
    "parse_schema",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'witan.validation' has no attribute {name!r}")
    return getattr(import_module(module), name)
