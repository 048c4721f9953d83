"""`witan local ...` is registered with the witan CLI and fails clearly without a running stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from witan.cli import build_parser, main

from local import cli as local_cli


def test_local_commands_are_registered() -> None:
    args = build_parser().parse_args(["local", "up", "--port", "8765", "--outbox", "/tmp/x"])
    assert args.func is local_cli.run_up
    assert args.port == 8765
    assert args.outbox == Path("/tmp/x")
    assert build_parser().parse_args(["local", "token", "analyst"]).func is local_cli.run_token


def test_token_without_running_stack_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(local_cli, "STATE_FILE", tmp_path / "local-up.json")
    assert main(["local", "token", "requester"]) == 2
    assert "witan local up" in capsys.readouterr().err


def test_token_for_unknown_user_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["local", "token", "mallory"])


def test_demo_step_fails_plainly_when_a_handler_is_missing() -> None:
    from local.demo import StepFailed, require_handler

    require_handler("access_api")  # present: no error
    with pytest.raises(StepFailed, match=r"functions/no_such_function/handler.py is missing"):
        require_handler("no_such_function")
