"""`witan validate`: exit codes 0/1/2, one JSON object on stdout, messages on stderr, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from witan.cli import main

SCHEMA = {"fields": [{"name": "id", "type": "integer"}, {"name": "name"}]}


@pytest.fixture
def schema_path(tmp_path: Path) -> Path:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SCHEMA))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_file_exits_0(tmp_path: Path, schema_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "ok.csv"
    data.write_text("id,name\n1,a\n")
    code, out, _ = run(capsys, "validate", str(data), "--schema", str(schema_path), "--format", "json")
    assert code == 0
    assert json.loads(out) == {"valid": True, "rows": 1, "error_count": 0, "counts": {}, "errors": []}


def test_invalid_file_exits_1_with_the_json_contract(
    tmp_path: Path, schema_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("id,name\nx,a\n2,b\ny,c\n")
    code, out, _ = run(
        capsys, "validate", str(data), "--schema", str(schema_path), "--format", "json", "--error-limit", "1"
    )
    assert code == 1
    body = json.loads(out)
    assert set(body) == {"valid", "rows", "error_count", "counts", "errors"}
    assert body["valid"] is False and body["rows"] == 3 and body["error_count"] == 2
    assert body["counts"] == {"type-error": 2}
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert set(error) >= {"row", "field", "column", "code", "constraint", "value", "message"}
    assert (error["row"], error["field"], error["column"], error["value"]) == (2, "id", "A", "x")


def test_text_format_lists_errors(
    tmp_path: Path, schema_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("id,name\nx,a\n")
    code, out, _ = run(capsys, "validate", str(data), "--schema", str(schema_path))
    assert code == 1
    assert "INVALID" in out and "row 2 col A" in out and "type-error" in out


def test_built_in_schema_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "costs.csv"
    data.write_text("need,setting,cost\nASD,MSSIP,1000.5\nASD,MSSIP,-1\n")
    code, out, _ = run(capsys, "validate", str(data), "--schema", "send-costs", "--format", "json")
    assert code == 1
    assert json.loads(out)["counts"] == {"constraint-error": 1, "primary-key": 1}


@pytest.mark.parametrize("case", ["no-file", "bad-schema", "unknown-schema", "empty-file"])
def test_unusable_input_exits_2(
    tmp_path: Path, schema_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    data = tmp_path / "d.csv"
    data.write_text("id,name\n1,a\n")
    schema = str(schema_path)
    if case == "no-file":
        data = tmp_path / "missing.csv"
    elif case == "bad-schema":
        schema_path.write_text(json.dumps({"fields": [{"name": "id", "type": "whole"}]}))
    elif case == "unknown-schema":
        schema = "no-such-schema"
    else:
        data.write_bytes(b"")
    code, out, err = run(capsys, "validate", str(data), "--schema", schema, "--format", "json")
    assert code == 2
    assert err.startswith("witan validate: ")
    assert "Traceback" not in err
    if case == "empty-file":
        assert json.loads(out)["counts"] == {"empty-file": 1}
    else:
        assert out == ""


def test_console_script_in_a_subprocess(tmp_path: Path, schema_path: Path) -> None:
    data = tmp_path / "d.xlsx"
    data.write_bytes(b"not a workbook at all")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "witan.cli",
            "validate",
            str(data),
            "--schema",
            str(schema_path),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["counts"] == {"format-error": 1}
    assert "Traceback" not in proc.stderr and "not one" in proc.stderr


def test_report_dir_writes_reports(
    tmp_path: Path, schema_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("id,name\nx,a\n")
    out_dir = tmp_path / "reports"
    code, out, err = run(
        capsys,
        "validate",
        str(data),
        "--schema",
        str(schema_path),
        "--format",
        "json",
        "--report-dir",
        str(out_dir),
    )
    assert code == 1
    assert json.loads(out)["error_count"] == 1  # stdout is still exactly one JSON object
    assert (out_dir / "report.json").is_file()
    assert "wrote" in err
