"""Datapacks end to end on the embedded stack (local/story_datapacks.py, the demo's step): a SEND run
through the API and the state machine, packed, sealed, shared, exported, verified, re-run identically,
and a changed byte caught."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from local.story import Demo
from local.story_datapacks import step_datapack

pytestmark = pytest.mark.xdist_group("e2e")


def test_datapack_story(e2e_stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    demo = Demo(e2e_stack.deployment, e2e_stack.gateway, e2e_stack.outbox_dir)
    step_datapack(demo)
    printed = capsys.readouterr().out
    facts = demo.facts["datapack"]
    assert f"datapack export: {facts['zip']}" in printed
    assert "CSV and Parquet outputs identical byte for byte" in printed
    assert "SUCCEEDED; 30 CSV and Parquet outputs identical to the sealed ones; same inputs True" in printed
    assert f"changed: runs/{facts['run']}/outputs/count.csv" in printed
    with zipfile.ZipFile(Path(facts["zip"])) as archive:
        names = set(archive.namelist())
        crate = json.loads(archive.read("ro-crate-metadata.json"))
    assert {"datapackage.json", "ro-crate-metadata.json", "README.md", "manifest.json", "seal.json"} <= names
    assert "files/analysis.py" in names
    assert any(n.startswith(f"runs/{facts['run']}/outputs/charts/") for n in names)
    actions = [e for e in crate["@graph"] if e["@type"] == "CreateAction"]
    assert [a["name"] for a in actions] == [f"send model run {facts['run']}"]
