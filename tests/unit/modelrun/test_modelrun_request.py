"""Requests: a model's deterministic modes run one path per scenario, whatever was asked for."""

from __future__ import annotations

import numpy as np
from witan.modelrun.definition import Measure
from witan.modelrun.request import RunRequest
from witan.modelrun.summaries import measure_table


def test_simulations_follow_the_models_mode() -> None:
    exact = RunRequest.build("r", "cic", simulations=1000, parameters={"uncertainty": "exact"})
    assert (exact.simulations, exact.chunk_size) == (1, 1)
    carlo = RunRequest.build("r", "cic", simulations=1000, parameters={"uncertainty": "monte-carlo"})
    assert (carlo.simulations, carlo.chunk_size) == (1000, 100)
    assert RunRequest.build("r", "demography", simulations=50).simulations == 1
    assert RunRequest.build("r", "send", simulations=50).simulations == 50


def test_fixed_measures_of_a_stochastic_run_are_written_as_values() -> None:
    rates = Measure({"state": ["a", "b"]}, np.array([[0.1, 0.2]]), value_name="daily_rate", fixed=True)
    table = measure_table(rates, stochastic=True)
    assert table.column_names == ["state", "daily_rate"] and table["daily_rate"].to_pylist() == [0.1, 0.2]
