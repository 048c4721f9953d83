"""The shape of a check result: one error per problem found, and a report that counts them all.

Codes follow frictionless (missing-label, type-error, constraint-error, ...). Row numbers are the ones
the user sees: CSV header line is row 1 and the first record row 2; XLSX rows are spreadsheet rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CheckError:
    code: str  # e.g. "type-error"
    message: str  # plain English, for a partner with a spreadsheet
    row: int | None = None  # row number as the user sees it; None for file- or header-level errors
    field: str | None = None  # schema field name
    column: str | None = None  # spreadsheet column letter (A, B, ..., AA) for xlsx and CSV alike
    constraint: str | None = None  # for constraint-error: required, unique, enum, minimum, ...
    value: str | None = None  # offending value as text, truncated

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckReport:
    """All errors are counted in `counts`; `errors` may hold only the first `error_limit` of them."""

    rows: int = 0
    error_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[CheckError] = field(default_factory=list)
    error_limit: int | None = None

    @property
    def valid(self) -> bool:
        return self.error_count == 0

    def add(self, error: CheckError) -> None:
        self.error_count += 1
        self.counts[error.code] = self.counts.get(error.code, 0) + 1
        if self.error_limit is None or len(self.errors) < self.error_limit:
            self.errors.append(error)

    def count_only(self, code: str, n: int) -> None:
        """Count n errors of one code without listing them (used once `errors` is full)."""
        self.error_count += n
        self.counts[code] = self.counts.get(code, 0) + n

    def to_dict(self) -> dict[str, Any]:
        """The `witan validate --format json` contract."""
        return {
            "valid": self.valid,
            "rows": self.rows,
            "error_count": self.error_count,
            "counts": dict(self.counts),
            "errors": [e.to_dict() for e in self.errors],
        }


# Every code check_file can report, with a short title for reports and emails.
ERROR_CODES: dict[str, str] = {
    "missing-label": "Missing column",
    "extra-label": "Column not in the schema",
    "duplicate-label": "Repeated column heading",
    "blank-label": "Column without a heading",
    "incorrect-label": "Wrong column heading",
    "blank-row": "Empty row",
    "extra-cell": "Value beyond the last column",
    "missing-cell": "Row too short",
    "type-error": "Wrong kind of value",
    "constraint-error": "Value not allowed",
    "unique-error": "Repeated value",
    "primary-key": "Repeated or missing key",
    "encoding-error": "Unreadable characters",
    "format-error": "Unreadable file",
    "empty-file": "Empty file",
    "file-too-large": "File too large",
    "too-many-columns": "Too many columns",
    "too-many-rows": "Too many rows",
    "too-many-cells": "Sheet too large",
    "cell-too-large": "Cell too long",
    "timeout": "Checking took too long",
    "schema-error": "Schema could not be used",
}

# Codes meaning the file as a whole was refused (not a table we can read, or beyond a limit): the
# check stops there, and reports show only the summary (the file is never opened again to annotate).
FILE_REFUSAL_CODES: frozenset[str] = frozenset(
    {
        "empty-file",
        "format-error",
        "encoding-error",
        "file-too-large",
        "too-many-columns",
        "too-many-rows",
        "too-many-cells",
        "cell-too-large",
        "schema-error",
    }
)
