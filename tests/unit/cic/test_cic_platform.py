"""Through the platform's local pipeline (plan -> chunks -> aggregate) with the model registered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from witan.modelrun import registry
from witan.modelrun.inputs import read_role_files
from witan.modelrun.local import run_local
from witan.models.cic.definition import DEFINITION

STEP_DOWN = {
    "name": "step-down",
    "rates": [{"from_placement": "residential", "to_placement": "fostering", "multiply": 2}],
}


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(registry.MODULES, "cic", "witan.models.cic.definition")
    registry.get_model.cache_clear()
    yield
    registry.get_model.cache_clear()


def test_exact_run_writes_every_output(registered: None, synthetic_dir: Path, tmp_path: Path) -> None:
    files = read_role_files(DEFINITION, synthetic_dir)
    run_local("cic", files, tmp_path, parameters={}, scenarios=[STEP_DOWN], simulations=1)
    for name in ("population", "in_care", "costs", "rates", "entrants", "stock", "proportions", "cleaning"):
        assert (tmp_path / f"{name}.csv").is_file(), name
    population = pq.read_table(tmp_path / "population.parquet")
    assert population.column_names == ["date", "age_band", "placement", "mean", "variance", "lower", "upper"]
    assert (tmp_path / "scenarios" / "step-down").is_dir()
    assert any((tmp_path / "charts").rglob("*.png"))


def test_monte_carlo_does_not_depend_on_chunking(
    registered: None, synthetic_dir: Path, tmp_path: Path
) -> None:
    files = read_role_files(DEFINITION, synthetic_dir)
    params = {"uncertainty": "monte-carlo", "end": "2024-09-30"}
    run_local("cic", files, tmp_path / "a", parameters=params, simulations=6, chunk_size=2, seed=4)
    run_local("cic", files, tmp_path / "b", parameters=params, simulations=6, chunk_size=6, seed=4)
    a = pq.read_table(tmp_path / "a" / "in_care.parquet")
    b = pq.read_table(tmp_path / "b" / "in_care.parquet")
    assert a.equals(b)
