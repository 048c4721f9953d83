"""The pack the tests share: sealed from a small SEND run on generated inputs."""

from __future__ import annotations

import pytest

from tests.unit.datapacks.pack_fixtures import Built, build_pack


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_pack(tmp_path_factory.mktemp("pack"))
