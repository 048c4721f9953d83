"""`witan model list|describe` and the platform's CLI errors (exit 2, one message, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from witan.cli import main
from witan.modelrun.registry import model_names


def test_list_names_every_registered_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(model_names())
    assert any("stochastic" in line for line in lines)


def test_describe_gives_inputs_with_schemas_parameters_and_scenarios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["model", "describe", "send"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["name"] == "send" and described["stochastic"] is True
    assert all(i["schema"]["fields"] for i in described["inputs"])
    assert described["scenario"]["required"] == ["name"]


def test_a_missing_input_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    assert main(["model", "run", "send", "--inputs", str(tmp_path / "in"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "transitions.csv: input file not found" in err
    assert "Traceback" not in err


def test_an_input_failing_its_schema_reports_rows_and_columns(
    synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    inputs = tmp_path / "in"
    shutil.copytree(synthetic_dir, inputs)
    costs = inputs / "costs.csv"
    lines = costs.read_text().splitlines()
    lines[2] = ",".join([*lines[2].split(",")[:2], "lots"])  # a cost that is not a number
    lines[4] = ",".join([*lines[4].split(",")[:2], "-5"])  # below the schema's minimum
    costs.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert (
        main(["model", "run", "send", "--inputs", str(inputs), "--out", str(out), "--simulations", "2"]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: costs.csv, row 2, column 'cost': ") and "(1 more error(s))" in err
    assert "row 5, cost [constraint-error]" in err
    assert not out.exists() or not any(out.iterdir())  # nothing written


def test_a_scenario_file_against_the_models_schema(
    synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"name": "x", "invalid_settings": "OOB"}))
    args = ["model", "run", "send", "--inputs", str(synthetic_dir), "--out", str(tmp_path / "o")]
    assert main([*args, "--scenario", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "scenarios, column 'invalid_settings': scenario 'x': 'OOB' is not of type 'array'" in err
    bad.write_text("{not json")
    assert main([*args, "--scenario", str(bad)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
