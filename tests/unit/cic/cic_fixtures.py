"""Paths for the children looked after model's tests (a uniquely named module: `from conftest import`
would pick up another folder's conftest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PEERS = Path(os.environ.get("WITAN_PEERS", Path(__file__).resolve().parents[4] / "shared/peers"))
SAMPLE = PEERS / "cs-demand-model-samples"
needs_sample = pytest.mark.skipif(
    not (SAMPLE / "episodes.csv").is_file(), reason="cs-demand-model-samples absent"
)
