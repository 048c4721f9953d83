"""Fixtures for the children looked after model: the Social Finance sample (when present) and
synthetic 903 returns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PEERS = Path(os.environ.get("WITAN_PEERS", Path(__file__).resolve().parents[4] / "shared/peers"))
SAMPLE = PEERS / "cs-demand-model-samples"
needs_sample = pytest.mark.skipif(
    not (SAMPLE / "episodes.csv").is_file(), reason="cs-demand-model-samples absent"
)


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from witan.models.cic.synthetic import generate, write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("cic-synthetic"), generate(150, seed=3))
