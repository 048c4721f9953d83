"""`witan datapack create|add|seal|export` build the API calls (the client is replaced here; the routes
are tested in tests/integration/datapacks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from witan.cli import main

PACK = "a" * 32


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any, Any]]:
    from witan.api import cli as api_cli

    made: list[tuple[str, str, Any, Any]] = []

    def call(self: Any, method: str, path: str, body: Any = None, query: Any = None) -> tuple[int, Any]:
        made.append((method, path, body, query))
        if path.endswith("/members") and body["kind"] == "pack-file":
            return 201, {"member": {"id": "m1"}, "upload": {"url": "http://s3", "fields": {}, "key": "k"}}
        return (201 if method == "POST" else 200), {"id": PACK}

    monkeypatch.setattr(api_cli.ApiClient, "call", call)
    monkeypatch.setattr(api_cli, "upload", lambda post, path: 204)
    monkeypatch.setenv("WITAN_API_URL", "http://127.0.0.1:1/")
    return made


def test_create_add_seal_export(
    calls: list[tuple[str, str, Any, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conclusions = tmp_path / "conclusions.md"
    conclusions.write_text("**Fewer** plans.\n", encoding="utf-8")
    script = tmp_path / "analysis.py"
    script.write_text("print(1)\n", encoding="utf-8")
    assert (
        main(["datapack", "create", "--title", "SEND", "--conclusions", str(conclusions), "--tag", "send"])
        == 0
    )
    assert (
        main(["datapack", "add", PACK, "--kind", "model-run", "--role", "output", "--model-run", "r1"]) == 0
    )
    assert (
        main(["datapack", "add", PACK, "--kind", "pack-file", "--role", "script", "--file", str(script)]) == 0
    )
    assert main(["datapack", "seal", PACK]) == 0
    assert main(["datapack", "export", PACK, "--purpose", "audit"]) == 0
    assert calls[0] == (
        "POST",
        "/datapacks",
        {"title": "SEND", "conclusions": "**Fewer** plans.\n", "tags": ["send"]},
        None,
    )
    assert calls[1][2] == {"kind": "model-run", "role": "output", "caption": "", "model_run": "r1"}
    assert calls[2][2]["file_name"] == "analysis.py" and calls[2][2]["size_bytes"] == 9
    assert calls[3][:2] == ("POST", f"/datapacks/{PACK}/seal")
    assert calls[4] == ("GET", f"/datapacks/{PACK}/export", None, {"purpose": "audit"})
    printed = [
        json.loads(chunk) for chunk in capsys.readouterr().out.replace("}\n{", "}\n\x00{").split("\x00")
    ]
    assert printed[2]["body"]["upload_status"] == 204


def test_a_pack_file_needs_a_file(calls: list[tuple[str, str, Any, Any]]) -> None:
    assert main(["datapack", "add", PACK, "--kind", "pack-file", "--role", "script"]) == 2
    assert calls == []
