"""Harness for the model-run API tests: the API tests' client and personas (tests/integration/api),
plus a state machine in moto (the rest of the set-up is ../aws_stack.py)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any


def _api_harness() -> ModuleType:
    """tests/integration/api/api_harness.py, shared rather than copied (same module if already loaded)."""
    if "api_harness" in sys.modules:
        return sys.modules["api_harness"]
    path = Path(__file__).resolve().parents[1] / "api" / "api_harness.py"
    spec = importlib.util.spec_from_file_location("api_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["api_harness"] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


h = _api_harness()
Api = h.Api
ADMIN, ANONYMOUS, MEMBER, OTHER, OWNER = h.ADMIN, h.ANONYMOUS, h.MEMBER, h.OTHER, h.OWNER
GRANTEES, BUCKET, MAX_UPLOAD, TABLE_VARS = h.GRANTEES, h.BUCKET, h.MAX_UPLOAD, h.TABLE_VARS
load_handler = h.load_handler
ROLE_ARN = "arn:aws:iam::123456789012:role/witan-model-runs"
# Moto records executions; these tests check what the API starts, not what the machine does.
DEFINITION = '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'


@dataclass
class World:
    """What each model-run API test gets: the API client, Step Functions, its machine and runs table."""

    api: Api
    sfn: Any
    state_machine_arn: str
    runs_table: str
