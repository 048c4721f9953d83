"""Errors and warnings about a model run's inputs, shared by every model and the platform."""

from __future__ import annotations

from dataclasses import dataclass


class ModelInputError(ValueError):
    """An input that cannot be modelled: says which file, data row (1-based) and column, and why.

    The CLI prints it on one line and exits 2; the API answers 422 with `to_dict()`; a run's plan
    step records it on the run."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        code: str = "invalid-input",
    ) -> None:
        self.file, self.row, self.column, self.code, self.detail = file, row, column, code, message
        where = (
            file + (f", row {row}" if row is not None else "") + (f", column {column!r}" if column else "")
        )
        super().__init__(f"{where}: {message}")

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
