"""Generated SEND inputs for the platform's tests (SEND is the platform's first model)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from witan.models.send.synthetic import write_synthetic

    return write_synthetic(tmp_path_factory.mktemp("synthetic"))
