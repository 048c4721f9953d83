"""Schema names a request may use: built-in, stored; never a file path."""

from __future__ import annotations

import json

import pytest
from witan.collect.requests.schemas import SchemaResolver
from witan.validation.schema import SchemaError

STORED = {"survey": json.dumps({"fields": [{"name": "q1", "type": "integer"}]}), "broken": "{not json"}


def test_builtin_and_stored() -> None:
    resolve = SchemaResolver(get_stored=STORED.get)
    assert resolve("sen2-ehcp").field_names[0] == "PersonID"  # shipped in schemas/tables
    stored = resolve("stored:survey")
    assert stored.field_names == ["q1"] and stored.source == "stored:survey"


@pytest.mark.parametrize(
    "name", ["stored:missing", "stored:broken", "stored:../x", "no-such-builtin", "/etc/passwd", "x.json"]
)
def test_unknown_broken_and_paths_are_refused(name: str) -> None:
    with pytest.raises(SchemaError):
        SchemaResolver(get_stored=STORED.get)(name)


def test_stored_needs_a_store() -> None:
    with pytest.raises(SchemaError, match="no such stored schema"):
        SchemaResolver()("stored:survey")
