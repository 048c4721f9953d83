"""CLI flags drawn from a model's parameters schema (witan.modelrun.parameter_flags)."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
from witan.modelrun.parameter_flags import add_parameter_flags, parameters_from_flags

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "years": {"type": "integer", "minimum": 1, "maximum": 50, "description": "years to project"},
        "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "mode": {"enum": ["exact", "faithful"], "default": "exact"},
        "window": {"type": "string"},
        "uncertainty": {"type": "boolean", "default": True},
        "verbose": {"type": "boolean"},
        "costs": {"type": "object"},  # not a scalar: the model's own flag
    },
}


def parser(aliases: dict[str, tuple[str, ...]] | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="witan model run demo")
    add_parameter_flags(p, "demo", SCHEMA, aliases or {})
    return p


def test_only_the_flags_given_become_parameters() -> None:
    p = parser()
    assert parameters_from_flags(p.parse_args([]), SCHEMA) == {}
    args = p.parse_args(
        ["--years", "5", "--share", "0.5", "--mode", "faithful", "--window", "2010-2014", "--verbose"]
    )
    assert parameters_from_flags(args, SCHEMA) == {
        "years": 5,
        "share": 0.5,
        "mode": "faithful",
        "window": "2010-2014",
        "verbose": True,
    }


def test_a_boolean_true_by_default_is_turned_off_by_its_no_flag() -> None:
    args = parser().parse_args(["--no-uncertainty"])
    assert parameters_from_flags(args, SCHEMA) == {"uncertainty": False}


def test_objects_are_not_flags() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["--costs", "x.csv"])


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--years", "0", "must be a whole number from 1 to 50"),
        ("--years", "two", "must be a whole number from 1 to 50"),
        ("--share", "0", "must be a number > 0, <= 1"),
        ("--share", "nan", "must be a number > 0, <= 1"),
    ],
)
def test_values_outside_the_schema_are_refused_by_the_parser(
    flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args([flag, value])
    assert message in capsys.readouterr().err


def test_aliases_come_first_and_share_the_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    p = parser({"years": ("--horizon",)})
    assert parameters_from_flags(p.parse_args(["--horizon", "3"]), SCHEMA) == {"years": 3}
    with pytest.raises(SystemExit):
        p.parse_args(["--years", "99"])
    assert "argument --horizon/--years: must be a whole number from 1 to 50" in capsys.readouterr().err
