"""The error catalogue (witan.errors) against the code: every code raised is catalogued and has an HTTP
status, every catalogued code is raised somewhere, no refusal is built from a bare string code, and
every route documents its refusals. (Each answer the API tests see is checked against its route's
documented codes in tests/integration/route_errors.py.)"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from witan.api.errors import SHARED, STATUS, documented_codes, refusals
from witan.errors import CATALOGUE, NotFoundError, WitanError

WITAN = Path(__file__).resolve().parents[3] / "layers" / "shared" / "python" / "witan"
KEBAB = re.compile(r"^[a-z]+(-[a-z]+)*$")
# `"code": "..."` dicts that are not refusals: a run's record of a failed start.
# Codes recorded on a model run, not answered by the API: a run that could not start, and a Step Functions
# failure whose Lambda error named no type (witan.modelrun.steps.describe_error).
NOT_REFUSALS = {"start-failed", "Error"}
# The upload checker's report codes (witan.validation: InputError, ERROR_CODES) are a row-level
# vocabulary of their own, reported in check reports, never as an API refusal.
OWN_VOCABULARY = WITAN / "validation"


def sources() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(WITAN.rglob("*.py")):
        if path != WITAN / "errors.py":
            yield path, ast.parse(path.read_text(), str(path))


def class_bases() -> dict[str, list[str]]:
    """Every class defined in witan/ (outside the catalogue) and the names of its bases."""
    found: dict[str, list[str]] = {}
    for _, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                found[node.name] = [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases]
    return found


def catalogue_class(name: str, bases: dict[str, list[str]]) -> type[WitanError] | None:
    """The catalogue class a class name stands for: itself, or the catalogue class it derives from."""
    by_name = {cls.__name__: cls for cls in CATALOGUE.values()} | {WitanError.__name__: WitanError}
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in by_name:
            return by_name[current]
        if current not in seen:
            seen.add(current)
            todo.extend(bases.get(current, []))
    return None


def built_errors() -> dict[str, list[str]]:
    """Catalogue code -> where an error of it is built: a call of its class or of a subclass, or the
    class chosen into a variable that is then called (`error = InvalidJsonError`)."""
    bases = class_bases()
    built: dict[str, list[str]] = {}
    for path, tree in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                target: ast.expr | None = node.func
            elif isinstance(node, ast.Assign):
                target = node.value
            else:
                continue
            if isinstance(target, ast.Name):  # InternalError(...)
                name = target.id
            elif isinstance(target, ast.Attribute):  # errors.InternalError(...)
                name = target.attr
            else:
                continue
            cls = catalogue_class(name, bases)
            if cls is not None and cls is not WitanError:
                built.setdefault(cls.code, []).append(f"{path.relative_to(WITAN)}:{node.lineno}")
    return built


def test_every_catalogued_code_has_one_status_and_a_kebab_code() -> None:
    assert sorted(set(CATALOGUE) ^ set(STATUS)) == []
    for code, cls in CATALOGUE.items():
        assert KEBAB.match(code), code
        assert cls.code == code and cls.title, cls
        assert 400 <= STATUS[code] <= 599, code


def test_every_catalogued_code_is_raised_somewhere() -> None:
    never = sorted(set(CATALOGUE) - set(built_errors()))
    assert never == [], f"listed but never raised: {never}"


def test_no_refusal_is_built_from_a_bare_string_code() -> None:
    """Old style `SomeError("some-code", message)` or `{"code": "some-code", ...}` bodies: none left."""
    found: list[str] = []
    for path, tree in sources():
        if OWN_VOCABULARY in path.parents:
            continue
        for node in ast.walk(tree):
            where = f"{path.relative_to(WITAN)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                first = node.exc.args[0]
                if (
                    isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and first.value in CATALOGUE
                    and len(node.exc.args) > 1
                ):
                    found.append(f"{where} raises with code {first.value}")
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "code"
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                        and value.value not in NOT_REFUSALS
                    ):
                        found.append(f"{where} builds a body with code {value.value}")
    assert found == []


def test_every_site_fills_its_template() -> None:
    """A site names each parameter its class's template needs, and passes a note only where the
    template shows one (a fixed message would silently drop it)."""
    by_name = {cls.__name__: cls for cls in CATALOGUE.values()}
    found: list[str] = []
    for path, tree in sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            cls = by_name.get(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
            if cls is None or cls.code == "audit-unavailable":  # that one takes a reason for logs
                continue
            fields = {name for _, name, _, _ in string.Formatter().parse(cls.template) if name}
            given = {k.arg for k in node.keywords} | ({"note"} if node.args or cls.note else set())
            where = f"{path.relative_to(WITAN)}:{node.lineno} {cls.__name__}"
            if fields - given - {"note"} or ("note" in fields and "note" not in given):
                found.append(f"{where} leaves {sorted(fields - given)} unfilled")
            if node.args and "note" not in fields:
                found.append(f"{where} passes a note its fixed template drops")
    assert found == []


def test_a_code_is_named_once() -> None:
    with pytest.raises(TypeError, match="not-found"):
        type("AnotherNotFound", (WitanError,), {"code": "not-found"})
    assert CATALOGUE["not-found"] is NotFoundError


def test_messages_come_from_templates_with_the_sites_parameters() -> None:
    assert NotFoundError().message == "not found"
    assert NotFoundError("no dataset d1").message == "no dataset d1"
    deleted = CATALOGUE["dataset-deleted"](dataset_id="d1")
    assert deleted.to_dict() == {"code": "dataset-deleted", "message": "dataset d1 was deleted"}
    invalid = CATALOGUE["invalid-value"]("limit: too big", extra={"errors": [{"location": "query.limit"}]})
    assert invalid.to_dict()["errors"] == [{"location": "query.limit"}]


def test_every_route_documents_its_refusals_with_the_shared_ones() -> None:
    from witan.api.app import app, include_all_routes

    include_all_routes()
    shared = {error.code for error in SHARED}
    for route in app._static_routes + app._dynamic_routes:
        if not route.include_in_schema:
            continue
        documented = documented_codes(route.responses)
        assert shared <= documented, route.operation_id
        assert documented <= set(CATALOGUE), route.operation_id
        for status, response in (route.responses or {}).items():
            if status >= 400:  # each listed code under its own status
                codes = documented_codes({status: response})
                assert {STATUS[code] for code in codes} == {status}, (route.operation_id, status)


def test_refusals_group_codes_by_status() -> None:
    answer = refusals(CATALOGUE["pack-sealed"], CATALOGUE["conflict"], shared=False)
    assert list(answer) == [409]
    assert answer[409]["description"] == "codes: conflict, pack-sealed"
