"""`witan datapack verify` and `reproduce` on a zip: exit 0 and ok, or exit 1 naming every problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from witan.cli import main

from tests.unit.datapacks.pack_fixtures import Built
from tests.unit.datapacks.test_datapacks_bundle import _rezip


def test_verify_ok(built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pack.zip"
    path.write_bytes(built.zip_bytes)
    assert main(["datapack", "verify", str(path)]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_verify_names_every_problem(built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tampered.zip"
    path.write_bytes(
        _rezip(
            built.zip_bytes,
            {"runs/run1/outputs/count.csv": b"changed", "files/analysis.py": None, "extra.txt": b"x"},
        )
    )
    assert main(["datapack", "verify", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["changed: runs/run1/outputs/count.csv", "missing: files/analysis.py", "added: extra.txt"]
    assert main(["datapack", "verify", "--json", str(path)]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_verify_a_missing_file_is_usage(tmp_path: Path) -> None:
    assert main(["datapack", "verify", str(tmp_path / "none.zip")]) == 2


def test_reproduce(built: Built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pack.zip"
    path.write_bytes(built.zip_bytes)
    assert main(["datapack", "reproduce", str(path), "--work-dir", str(tmp_path / "work")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("run run1 (send): reproduced; sealed code ")
    assert out[-1] == "ok"
    assert (tmp_path / "work/run1/count.csv").read_bytes() == built.files["runs/run1/outputs/count.csv"]
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(_rezip(built.zip_bytes, {"runs/run1/outputs/count.csv": b"year,mean\n"}))
    assert main(["datapack", "reproduce", str(tampered)]) == 1
    out = capsys.readouterr().out
    assert "verify: changed: runs/run1/outputs/count.csv" in out
    assert "runs/run1/outputs/count.csv: different" in out and out.rstrip().endswith("not reproduced")
