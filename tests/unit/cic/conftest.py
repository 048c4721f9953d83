"""Fixtures for the children looked after model: synthetic 903 returns (paths: cic_fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from witan.models.cic.synthetic import generate, write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("cic-synthetic"), generate(150, seed=3))
