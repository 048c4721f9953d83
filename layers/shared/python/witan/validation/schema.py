"""Frictionless Table Schemas: load, validate (structurally and semantically) and describe them.

A schema is checked when loaded: first against a JSON Schema for the subset of Table Schema we support,
then for meaning (a primaryKey naming real fields, `minimum` only on ordered types, a `pattern` that
compiles, enum values of the field's type). Any problem raises SchemaError naming the path and problem.
Built-in schemas live in `schemas/tables/*.json` (name = file stem); WITAN_SCHEMA_DIR overrides the folder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "year")
FIELDS_MATCH = ("exact", "equal", "subset", "superset", "partial")
ORDERED_TYPES = ("integer", "number", "date", "datetime", "year")
DEFAULT_TRUE = ("true", "True", "TRUE", "1")
DEFAULT_FALSE = ("false", "False", "FALSE", "0")
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
# Default datetime: ISO 8601 with seconds, optional fraction and optional Z / offset (frictionless "default").
DEFAULT_DATETIME_FORMAT = "default"

SCHEMA_DIR_ENV = "WITAN_SCHEMA_DIR"
MAX_PATTERN_CHARS = 1000
_FORMULA_START = ("=", "+", "-", "@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What Python's re has and RE2 lacks: each can make a match backtrack for hours (issue 15), so patterns
# are matched by RE2 only (Arrow's compute functions), in time linear in the cell's length.
_NOT_RE2 = (
    ("(?=", "look-ahead"),
    ("(?!", "negative look-ahead"),
    ("(?<=", "look-behind"),
    ("(?<!", "negative look-behind"),
    ("(?P=", "back-reference"),
    ("(?>", "atomic group"),
    ("(?(", "conditional group"),
)


def _schemas_beside() -> Path:
    """schemas/tables in the nearest folder above this file that has one: the repository root
    (layers/shared/python/witan/validation/schema.py) or, in Lambda, the shared layer's /opt."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        if (folder / "schemas" / "tables").is_dir():
            return folder / "schemas" / "tables"
    return here.parents[len(here.parents) - 1] / "schemas" / "tables"


_REPO_SCHEMA_DIR = _schemas_beside()

_CONSTRAINTS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "required": {"type": "boolean"},
        "unique": {"type": "boolean"},
        "enum": {"type": "array", "minItems": 1},
        "minimum": {"type": ["string", "number", "integer"]},
        "maximum": {"type": ["string", "number", "integer"]},
        "minLength": {"type": "integer", "minimum": 0},
        "maxLength": {"type": "integer", "minimum": 0},
        "pattern": {"type": "string"},
    },
}

# JSON Schema for the Table Schema subset we support (unknown keys on fields are allowed, as in the spec).
TABLE_SCHEMA_PROFILE: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["fields"],
    "properties": {
        "name": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "fields": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "type": {"enum": list(FIELD_TYPES)},
                    "format": {"type": "string"},
                    "constraints": _CONSTRAINTS,
                    "missingValues": {"type": "array", "items": {"type": "string"}},
                    "trueValues": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "falseValues": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "decimalChar": {"type": "string", "minLength": 1, "maxLength": 1},
                    "groupChar": {"type": "string", "minLength": 1, "maxLength": 1},
                },
            },
        },
        "missingValues": {"type": "array", "items": {"type": "string"}},
        "primaryKey": {
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
        },
        "fieldsMatch": {"enum": list(FIELDS_MATCH)},
    },
}


class SchemaError(ValueError):
    """A schema file that cannot be used; `path` is where in the schema (e.g. fields/2/constraints)."""

    def __init__(self, source: str, path: str, problem: str) -> None:
        self.source = source
        self.path = path
        self.problem = problem
        where = f" at {path}" if path else ""
        super().__init__(f"schema {source}{where}: {problem}")


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    format: str = "default"
    title: str = ""
    description: str = ""
    constraints: Mapping[str, Any] = field(default_factory=dict)
    missing_values: tuple[str, ...] = ("",)
    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE
    decimal_char: str = "."
    group_char: str = ""

    @property
    def required(self) -> bool:
        return bool(self.constraints.get("required"))

    def describe(self) -> str:
        """The field's rules in plain English, for reports and the partner-facing schema page."""
        parts = [f"{self.name}: {type_phrase(self)}"]
        c = self.constraints
        parts.append("required" if c.get("required") else "may be left blank")
        if c.get("unique"):
            parts.append("each value must be different")
        if "enum" in c:
            parts.append(
                "one of " + ", ".join(str(v) for v in c["enum"][:20]) + ("..." if len(c["enum"]) > 20 else "")
            )
        if "minimum" in c:
            parts.append(f"at least {c['minimum']}")
        if "maximum" in c:
            parts.append(f"at most {c['maximum']}")
        if "minLength" in c:
            parts.append(f"at least {c['minLength']} characters")
        if "maxLength" in c:
            parts.append(f"at most {c['maxLength']} characters")
        if "pattern" in c:
            parts.append(f"matching the pattern {c['pattern']}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Schema:
    fields: tuple[Field, ...]
    name: str = ""
    title: str = ""
    description: str = ""
    missing_values: tuple[str, ...] = ("",)
    primary_key: tuple[str, ...] = ()
    fields_match: str = "exact"
    source: str = ""

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field_info(self) -> list[dict[str, Any]]:
        """Per-field type information (machine-readable and in words) for explaining a schema."""
        return [
            {
                "name": f.name,
                "type": f.type,
                "format": f.format,
                "title": f.title,
                "description": f.description,
                "constraints": dict(f.constraints),
                "arrow_type": str(arrow_type_name(f.type)),
                "example": example_value(f),
                "rule": f.describe(),
            }
            for f in self.fields
        ]


def arrow_type_name(field_type: str) -> str:
    """The Parquet/Arrow type a valid column is written as."""
    return {
        "string": "string",
        "integer": "int64",
        "year": "int64",
        "number": "float64",
        "boolean": "bool",
        "date": "date32",
        "datetime": "timestamp[us]",
    }[field_type]


def type_phrase(f: Field) -> str:
    if f.type == "integer":
        return "a whole number"
    if f.type == "number":
        return "a number" + (f" (decimal mark '{f.decimal_char}')" if f.decimal_char != "." else "")
    if f.type == "year":
        return "a four-digit year"
    if f.type == "boolean":
        return f"yes/no, written {f.true_values[0]} or {f.false_values[0]}"
    if f.type == "date":
        return "a date" + _format_phrase(f)
    if f.type == "datetime":
        return "a date and time" + _format_phrase(f)
    return "text"


def _format_phrase(f: Field) -> str:
    if f.format == "any":
        return " (dd/mm/yyyy or yyyy-mm-dd)"
    if f.format == "default":
        return " (yyyy-mm-dd)" if f.type == "date" else " (yyyy-mm-ddThh:mm:ss)"
    readable = (
        f.format.replace("%Y", "yyyy")
        .replace("%m", "mm")
        .replace("%d", "dd")
        .replace("%y", "yy")
        .replace("%H", "hh")
        .replace("%M", "mm")
        .replace("%S", "ss")
    )
    return f" ({readable})"


def example_value(f: Field) -> str:
    sample = {
        "string": "text",
        "integer": "42",
        "number": "3.5",
        "year": "2024",
        "boolean": f.true_values[0],
    }
    if f.type in sample:
        if "enum" in f.constraints:
            return str(f.constraints["enum"][0])
        return sample[f.type]
    when = datetime(2024, 3, 31, 14, 30, 0)
    if f.format in ("default", "any"):
        return when.date().isoformat() if f.type == "date" else when.isoformat()
    return when.strftime(f.format)


def builtin_schema_dir() -> Path:
    return Path(os.environ.get(SCHEMA_DIR_ENV) or _REPO_SCHEMA_DIR)


def builtin_schema_names() -> list[str]:
    return sorted(p.stem for p in builtin_schema_dir().glob("*.json"))


def load_schema(name_or_path: str | Path) -> Schema:
    """Load a built-in schema by name (file stem in schemas/tables) or a schema file by path."""
    text = str(name_or_path)
    path = Path(text)
    if not (path.suffix == ".json" or os.sep in text or "/" in text):
        path = builtin_schema_dir() / f"{text}.json"
        if not path.is_file():
            known = ", ".join(builtin_schema_names()) or "none"
            raise SchemaError(text, "", f"no built-in schema called {text!r} (built-in: {known})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(str(path), "", "file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(str(path), "", f"not readable JSON ({exc})") from None
    return parse_schema(raw, source=str(path))


def parse_schema(raw: Any, *, source: str = "<schema>") -> Schema:
    """Validate a Table Schema descriptor and build a Schema; SchemaError on the first problem."""
    # Imported here: jsonschema (with referencing) costs ~80 ms, and the access_api only parses
    # schemas on the routes that take them, never at cold start.
    import jsonschema

    validator = jsonschema.Draft7Validator(TABLE_SCHEMA_PROFILE)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = "/".join(str(p) for p in first.absolute_path)
        raise SchemaError(source, path, first.message)
    schema_missing = tuple(raw.get("missingValues", [""]))
    fields: list[Field] = []
    seen: set[str] = set()
    for i, rf in enumerate(raw["fields"]):
        where = f"fields/{i}"
        name = rf["name"]
        if name in seen:
            raise SchemaError(source, f"{where}/name", f"field name {name!r} is used twice")
        if name.startswith(_FORMULA_START) or _CONTROL.search(name):
            # Field names become template headings and report cells: never something a spreadsheet runs.
            raise SchemaError(
                source,
                f"{where}/name",
                f"field name {name!r} may not start with = + - @ or hold control characters",
            )
        seen.add(name)
        ftype = rf.get("type", "string")
        fmt = rf.get("format", "default")
        _check_format(source, where, ftype, fmt)
        constraints = dict(rf.get("constraints", {}))
        f = Field(
            name=name,
            type=ftype,
            format=fmt,
            title=rf.get("title", ""),
            description=rf.get("description", ""),
            constraints=constraints,
            missing_values=tuple(rf.get("missingValues", schema_missing)),
            true_values=tuple(rf.get("trueValues", DEFAULT_TRUE)),
            false_values=tuple(rf.get("falseValues", DEFAULT_FALSE)),
            decimal_char=rf.get("decimalChar", "."),
            group_char=rf.get("groupChar", ""),
        )
        _check_constraints(source, f"{where}/constraints", f)
        fields.append(f)
    pk = raw.get("primaryKey", [])
    pk = (pk,) if isinstance(pk, str) else tuple(pk)
    for j, key in enumerate(pk):
        if key not in seen:
            raise SchemaError(source, f"primaryKey/{j}", f"primary key names {key!r}, which is not a field")
    if len(set(pk)) != len(pk):
        raise SchemaError(source, "primaryKey", "primary key names a field twice")
    return Schema(
        fields=tuple(fields),
        name=raw.get("name", Path(source).stem if source.endswith(".json") else ""),
        title=raw.get("title", ""),
        description=raw.get("description", ""),
        missing_values=schema_missing,
        primary_key=pk,
        fields_match=raw.get("fieldsMatch", "exact"),
        source=source,
    )


def _check_format(source: str, where: str, ftype: str, fmt: str) -> None:
    if fmt == "default":
        return
    if ftype in ("date", "datetime"):
        if fmt == "any":
            return
        if "%" not in fmt:
            raise SchemaError(source, f"{where}/format", f"date format {fmt!r} has no % directives")
        try:
            datetime(2024, 3, 31, 14, 30, 5).strftime(fmt)
            datetime.strptime(datetime(2024, 3, 31, 14, 30, 5).strftime(fmt), fmt)
        except ValueError as exc:
            raise SchemaError(source, f"{where}/format", f"bad date format {fmt!r}: {exc}") from None
        return
    if ftype == "string" and fmt in ("email", "uri", "uuid", "binary"):
        raise SchemaError(source, f"{where}/format", f"string format {fmt!r} is not supported; use a pattern")
    raise SchemaError(source, f"{where}/format", f"format {fmt!r} does not apply to {ftype} fields")


def _check_constraints(source: str, where: str, f: Field) -> None:
    c = f.constraints
    for key in ("minimum", "maximum"):
        if key in c:
            if f.type not in ORDERED_TYPES:
                raise SchemaError(source, f"{where}/{key}", f"{key} does not apply to a {f.type} field")
            if parse_constraint_value(f, c[key]) is None:
                raise SchemaError(source, f"{where}/{key}", f"{c[key]!r} is not a valid {f.type}")
    for key in ("minLength", "maxLength"):
        if key in c and f.type != "string":
            raise SchemaError(source, f"{where}/{key}", f"{key} applies only to string fields, not {f.type}")
    if "pattern" in c:
        if f.type != "string":
            raise SchemaError(
                source, f"{where}/pattern", f"pattern applies only to string fields, not {f.type}"
            )
        try:
            re.compile(c["pattern"])
        except re.error as exc:
            raise SchemaError(source, f"{where}/pattern", f"pattern does not compile: {exc}") from None
        problem = re2_problem(c["pattern"])
        if problem:
            raise SchemaError(source, f"{where}/pattern", f"pattern cannot be used: {problem}")
    if "enum" in c:
        for k, v in enumerate(c["enum"]):
            if parse_constraint_value(f, v) is None:
                raise SchemaError(source, f"{where}/enum/{k}", f"{v!r} is not a valid {f.type}")
    if c.get("minimum") is not None and c.get("maximum") is not None:
        lo, hi = parse_constraint_value(f, c["minimum"]), parse_constraint_value(f, c["maximum"])
        if lo is not None and hi is not None and lo > hi:
            raise SchemaError(source, where, "minimum is greater than maximum")
    if "minLength" in c and "maxLength" in c and c["minLength"] > c["maxLength"]:
        raise SchemaError(source, where, "minLength is greater than maxLength")


def re2_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be matched by RE2 (look-arounds, back-references, possessive repeats,
    or anything RE2 refuses to compile); None when it can. Without pyarrow (the API's function), only
    the syntax is checked; the validator compiles it with RE2 as well."""
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"longer than {MAX_PATTERN_CHARS} characters"
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            following = pattern[i + 1 : i + 2]
            if not in_class and ((following in "123456789" and following) or following in ("g", "k")):
                return "back-references are not supported (RE2)"
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":  # a leading ] is a literal
                i += 1
        elif ch == "(":
            for opener, name in _NOT_RE2:
                if pattern.startswith(opener, i):
                    return f"{name} is not supported (RE2)"
        elif ch == "+" and i and pattern[i - 1] in "*+?}" and (i < 2 or pattern[i - 2] != "\\"):
            return "possessive repetition is not supported (RE2)"
        i += 1
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # the API checks syntax only; the validator compiles with RE2 too
        return None
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), f"^(?:{pattern})$")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        return f"RE2 cannot compile it ({str(exc)[:120]})"
    return None


def parse_constraint_value(f: Field, value: Any) -> Any:
    """A constraint value (enum item, minimum, maximum) read as the field's type; None if it is not one."""
    if f.type == "string":
        return value if isinstance(value, str) else None
    if f.type in ("integer", "year"):
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        return None
    if f.type == "number":
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value)
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if f.type == "boolean":
        if isinstance(value, bool):
            return value
        if value in f.true_values:
            return True
        if value in f.false_values:
            return False
        return None
    if not isinstance(value, str):
        return None
    formats = [f.format] if f.format not in ("default", "any") else []
    formats += ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y"]
    for fmt in formats:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return parsed.date() if f.type == "date" else parsed
    if f.type == "datetime":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None
