"""Errors and warnings about a model run's inputs, shared by every model and the platform."""

from __future__ import annotations

from dataclasses import dataclass

from witan.errors import InvalidInputError


class ModelInputError(InvalidInputError, ValueError):
    """An input that cannot be modelled: says which file, data row (1-based) and column, and why.

    The catalogue's `invalid-input`; `code` here is the finer input-problem code (missing-column,
    invalid-scenario...), the vocabulary runs and the CLI report. The CLI prints it on one line and exits
    2; the API answers 422 with that code, the whole message and the column; a run's plan step records
    `to_dict()` on the run."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        code: str = "invalid-input",
    ) -> None:
        where = (
            file + (f", row {row}" if row is not None else "") + (f", column {column!r}" if column else "")
        )
        super().__init__(f"{where}: {message}", extra={"column": column})
        self.file, self.row, self.column, self.detail = file, row, column, message
        self.code = code  # type: ignore[misc]  # the instance's finer code; the class keeps the catalogue's

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "message": self.detail,
        }


@dataclass(frozen=True)
class InputWarning:
    """Something worth telling but not worth stopping for: the run goes on, the report shows it."""

    code: str
    file: str
    message: str
    row: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "file": self.file, "row": self.row, "message": self.message}
