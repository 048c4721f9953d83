"""Schemas: built-ins load, and bad schemas give SchemaError naming the path and the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from witan.validation import SchemaError, builtin_schema_names, load_schema, parse_schema

BUILT_INS = {
    "send-transitions": [
        "calendar-year",
        "setting-1",
        "need-1",
        "academic-year-1",
        "setting-2",
        "need-2",
        "academic-year-2",
    ],
    "send-population": ["calendar-year", "academic-year", "population"],
    "send-costs": ["need", "setting", "cost"],
    "send-valid-states": [
        "setting",
        "setting-group",
        "min-academic-year",
        "max-academic-year",
        "needs",
        "setting->setting",
    ],
    "ssda903-episodes": [
        "CHILD",
        "DECOM",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "DEC",
        "REC",
        "REASON_PLACE_CHANGE",
        "HOME_POST",
        "PL_POST",
        "URN",
    ],
}


@pytest.mark.parametrize("name", sorted(BUILT_INS))
def test_built_in_schemas_have_the_expected_fields(name: str) -> None:
    assert load_schema(name).field_names == BUILT_INS[name]


def test_every_built_in_loads_and_explains_itself() -> None:
    names = builtin_schema_names()
    assert {"sen2-ehcp", "population-by-age", *BUILT_INS} <= set(names)
    for name in names:
        schema = load_schema(name)
        for info in schema.field_info():
            assert info["rule"].startswith(info["name"] + ": ")
            assert info["arrow_type"] in {"string", "int64", "float64", "bool", "date32", "timestamp[us]"}


def test_ssda903_uses_real_code_lists_and_uk_dates() -> None:
    schema = load_schema("ssda903-episodes")
    by_name = {f.name: f for f in schema.fields}
    assert by_name["DECOM"].format == "%d/%m/%Y"
    assert set(by_name["CIN"].constraints["enum"]) == {f"N{i}" for i in range(1, 9)}
    assert "V2" in by_name["LS"].constraints["enum"]
    assert schema.primary_key == ("CHILD", "DECOM")


def test_load_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"fields": [{"name": "a", "type": "integer"}], "primaryKey": "a"}))
    schema = load_schema(path)
    assert schema.primary_key == ("a",)
    assert schema.fields[0].type == "integer"


BAD: list[tuple[Any, str, str]] = [
    ({}, "", "'fields' is a required property"),
    ({"fields": []}, "fields", "should be non-empty"),
    ({"fields": [{"name": "a", "type": "text"}]}, "fields/0/type", "is not one of"),
    (
        {"fields": [{"name": "a", "constraints": {"minimum": 3}}]},
        "fields/0/constraints/minimum",
        "minimum does not apply to a string field",
    ),
    (
        {"fields": [{"name": "a", "type": "integer", "constraints": {"pattern": "x"}}]},
        "fields/0/constraints/pattern",
        "pattern applies only to string fields",
    ),
    (
        {"fields": [{"name": "a", "constraints": {"pattern": "("}}]},
        "fields/0/constraints/pattern",
        "does not compile",
    ),
    (
        {"fields": [{"name": "a", "type": "integer", "constraints": {"enum": [1, "x"]}}]},
        "fields/0/constraints/enum/1",
        "not a valid integer",
    ),
    (
        {"fields": [{"name": "a", "type": "integer", "constraints": {"minimum": 5, "maximum": 1}}]},
        "fields/0/constraints",
        "minimum is greater than maximum",
    ),
    ({"fields": [{"name": "a"}], "primaryKey": ["b"]}, "primaryKey/0", "not a field"),
    ({"fields": [{"name": "a"}, {"name": "a"}]}, "fields/1/name", "used twice"),
    (
        {"fields": [{"name": "a", "type": "date", "format": "dd/mm/yyyy"}]},
        "fields/0/format",
        "no % directives",
    ),
    ({"fields": [{"name": "a", "type": "integer", "format": "%Y"}]}, "fields/0/format", "does not apply"),
    (
        {"fields": [{"name": "a", "constraints": {"size": 3}}]},
        "fields/0/constraints",
        "Additional properties are not allowed",
    ),
    ({"fields": [{"name": "a"}], "fieldsMatch": "loose"}, "fieldsMatch", "is not one of"),
]


@pytest.mark.parametrize(("raw", "path", "problem"), BAD)
def test_bad_schema_is_rejected_with_path_and_problem(raw: Any, path: str, problem: str) -> None:
    with pytest.raises(SchemaError) as info:
        parse_schema(raw, source="s.json")
    assert info.value.path == path
    assert problem in info.value.problem
    assert "s.json" in str(info.value)


def test_unreadable_schema_files(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="file not found"):
        load_schema(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SchemaError, match="not readable JSON"):
        load_schema(bad)
    with pytest.raises(SchemaError, match="no built-in schema called 'no-such'"):
        load_schema("no-such")
