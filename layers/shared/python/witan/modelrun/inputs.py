"""A model's input files: found by role in a folder, and checked against their Table Schemas with the
upload checker before the model reads them (so a run reports what an upload would: row, column, code).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from witan.modelrun.definition import InputFile, InputFiles, InputRole, ModelDefinition
from witan.modelrun.errors import ModelInputError

MAX_REPORTED_ERRORS = 100


class InputCheckFailed(ModelInputError):
    """An input file failed its Table Schema: the first error in the message, every error (up to
    MAX_REPORTED_ERRORS) in `errors`, as the upload checker reports them."""

    def __init__(self, file: str, errors: list[dict[str, Any]], error_count: int) -> None:
        first = errors[0]
        self.errors, self.error_count = errors, error_count
        more = f" ({error_count - 1} more error(s))" if error_count > 1 else ""
        super().__init__(
            file,
            f"{first['message']}{more}",
            row=None if first.get("row") is None else int(first["row"]) - 1,  # data row, header excluded
            column=first.get("field"),
            code=first["code"],
        )

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "errors": self.errors, "error_count": self.error_count}


def _stems(file: str) -> list[str]:
    return list(dict.fromkeys([file, file.replace("-", "_"), file.replace("_", "-")]))


def find_role_files(definition: ModelDefinition, directory: str | Path) -> dict[str, list[Path]]:
    """role -> its files in `directory` (`file`.csv / .parquet / ..., or `file`*.ext for `many` roles)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise ModelInputError(str(folder), "is not a directory", code="missing-input")
    found: dict[str, list[Path]] = {}
    for role in definition.inputs:
        paths: list[Path] = []
        for stem in _stems(role.file):
            for ext in role.formats:
                pattern = f"{stem}*{ext}" if role.many else f"{stem}{ext}"
                paths += sorted(p for p in folder.glob(pattern) if p.is_file() and p not in paths)
        if not role.many:
            paths = paths[:1]
        if paths:
            found[role.role] = paths
        elif role.required:
            raise ModelInputError(
                str(folder / f"{role.file}{role.formats[0]}"),
                f"input file not found (the {role.role} input: {role.description})",
                code="missing-input",
            )
    return found


def read_role_files(definition: ModelDefinition, directory: str | Path) -> dict[str, list[InputFile]]:
    return {
        role: [InputFile(p.name, p.read_bytes()) for p in paths]
        for role, paths in find_role_files(definition, directory).items()
    }


def schema_path(definition: ModelDefinition, role: InputRole) -> Path | None:
    """The role's Table Schema: `role.schema` under schemas/models/{model}/, or under schemas/ when it
    names a folder (SEND's inputs are also built-in collection schemas in schemas/tables/)."""
    if role.schema is None:
        return None
    from witan.validation.schema import builtin_schema_dir

    root = builtin_schema_dir().parent
    return root / role.schema if "/" in role.schema else root / "models" / definition.name / role.schema


def check_inputs(definition: ModelDefinition, files: InputFiles) -> None:
    """Every required role present, no unknown role, and every CSV or workbook valid against its role's
    Table Schema; raises InputCheckFailed with the upload checker's errors. Parquet files are typed
    already (written by the platform or a run): the model's own reader checks them."""
    roles = {r.role: r for r in definition.inputs}
    unknown = sorted(set(files) - set(roles))
    if unknown:
        raise ModelInputError(
            "request",
            f"unknown input role(s) {', '.join(unknown)} for model {definition.name} "
            f"(roles: {', '.join(roles)})",
            column="inputs",
            code="unknown-input",
        )
    for role in definition.inputs:
        given: Sequence[InputFile] = files.get(role.role, ())
        if not given and role.required:
            raise ModelInputError(
                role.role, f"input {role.role!r} not given ({role.description})", code="missing-input"
            )
        if len(given) > 1 and not role.many:
            raise ModelInputError(role.role, "takes one file", column="inputs", code="invalid-request")
        path = schema_path(definition, role)
        if path is None:
            continue
        for f in given:
            if not f.name.lower().endswith((".csv", ".xlsx", ".xlsm")):
                continue
            check_file_against(path, f)


def check_file_against(schema_file: Path, f: InputFile) -> None:
    from witan.validation import check_file, load_schema

    report = check_file(
        io.BytesIO(f.data), load_schema(schema_file), file_name=f.name, error_limit=MAX_REPORTED_ERRORS
    )
    if not report.valid:
        raise InputCheckFailed(f.name, [e.to_dict() for e in report.errors], report.error_count)


def hashes(files: Mapping[str, Sequence[InputFile]]) -> dict[str, str]:
    """sha256 of every input, each file hashed once: by file name, and by role (a role of several
    files: the hash of their hashes in name order), so a run can be traced either way."""
    import hashlib

    out: dict[str, str] = {}
    for role, given in files.items():
        digests = sorted((f.name, hashlib.sha256(f.data).hexdigest()) for f in given)
        out.update(digests)
        out[role] = (
            digests[0][1]
            if len(digests) == 1
            else hashlib.sha256("".join(d for _, d in digests).encode()).hexdigest()
        )
    return out
