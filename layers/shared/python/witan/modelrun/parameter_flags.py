"""`witan model run NAME` flags drawn from a model's parameters JSON Schema, so a model declares each
parameter once: every scalar parameter becomes a flag (`first_year` -> --first-year) typed and bounded
by its schema; a boolean whose default is true becomes --no-NAME. Parameters that are objects or
arrays (cost tables, filters) are the model's own flags to add."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

JsonSchema = dict[str, Any]


def _whole_number(schema: JsonSchema) -> Callable[[str], int]:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and hi is not None:
        wanted = f"must be a whole number from {lo} to {hi}"
    elif lo is not None:
        wanted = f"must be a whole number, at least {lo}"
    else:
        wanted = "must be a whole number" + (f", at most {hi}" if hi is not None else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(wanted) from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(wanted)
        return value

    return parse


def _number(schema: JsonSchema) -> Callable[[str], float]:
    lo, above, hi = schema.get("minimum"), schema.get("exclusiveMinimum"), schema.get("maximum")
    bounds = [f"{op} {b}" for op, b in ((">=", lo), (">", above), ("<=", hi)) if b is not None]
    wanted = " ".join(["must be a number", ", ".join(bounds)]).strip()

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(wanted) from None
        within = (
            (lo is None or value >= lo) and (above is None or value > above) and (hi is None or value <= hi)
        )
        if not within or value != value:  # NaN is no number a schema allows
            raise argparse.ArgumentTypeError(wanted)
        return value

    return parse


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def scalar_parameters(schema: JsonSchema) -> dict[str, JsonSchema]:
    """The parameters that are flags: name -> its JSON Schema."""
    properties: dict[str, JsonSchema] = schema.get("properties", {})
    return {
        name: spec
        for name, spec in properties.items()
        if "enum" in spec or spec.get("type") in ("integer", "number", "string", "boolean")
    }


def _negated(spec: JsonSchema) -> bool:
    return spec.get("type") == "boolean" and spec.get("default") is True


def add_parameter_flags(
    parser: argparse.ArgumentParser,
    model: str,
    schema: JsonSchema,
    aliases: Mapping[str, Sequence[str]],
) -> None:
    """One flag per scalar parameter, in a group named after the model; `aliases`: parameter -> more
    flag names, given first (`--years` for `projection_years`)."""
    group = parser.add_argument_group(f"{model} parameters")
    for name, spec in scalar_parameters(schema).items():
        about = spec.get("description", "")
        if "default" in spec and not isinstance(spec["default"], bool) and "default" not in about:
            about = f"{about} (default {spec['default']})".strip()
        if spec.get("type") == "boolean":
            flag = _flag(f"no_{name}" if _negated(spec) else name)
            if _negated(spec):
                about = f"turn off {name}: {about}".strip(": ")
            group.add_argument(*aliases.get(name, ()), flag, dest=name, action="store_true", help=about)
            continue
        kind: Callable[[str], Any] = str
        metavar = None  # argparse's: the choices, or the name in capitals
        if spec.get("type") == "integer":
            kind, metavar = _whole_number(spec), "N"
        elif spec.get("type") == "number":
            kind, metavar = _number(spec), "X"
        group.add_argument(
            *aliases.get(name, ()),
            _flag(name),
            dest=name,
            type=kind,
            choices=spec.get("enum"),
            default=None,
            metavar=metavar,
            help=about,
        )


def parameters_from_flags(args: argparse.Namespace, schema: JsonSchema) -> dict[str, Any]:
    """`parameters` from the flags given (defaults are the schema's, filled in when the request is
    checked)."""
    out: dict[str, Any] = {}
    for name, spec in scalar_parameters(schema).items():
        value = getattr(args, name, None)
        if spec.get("type") == "boolean":
            if value:
                out[name] = not _negated(spec)
        elif value is not None:
            out[name] = value
    return out
