"""Fixtures: small SEND inputs written by hand or generated."""

from __future__ import annotations

from pathlib import Path

import pytest
from send_fixtures import write_inputs


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return write_inputs(tmp_path / "tiny")


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from witan.models.send.synthetic import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("synthetic"))
