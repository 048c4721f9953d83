"""The platform's summaries. Statistics a block of cells at a time (what keeps aggregate's memory
down for long projections) give what one pass over every cell gives (to the last bit or so: numpy's
SIMD sums depend on the array's width; the tables round to 4 decimals)."""

from __future__ import annotations

import numpy as np
import pytest
from witan.modelrun.definition import Measure
from witan.modelrun.summaries import blocked_statistics, compare, measure_table, statistics


@pytest.mark.parametrize("block_values", [1, 7, 40, 10_000])
def test_blocks_give_the_same_statistics(block_values: int) -> None:
    values = np.random.default_rng(3).integers(0, 50, size=(9, 23)).astype(np.int32)
    whole = statistics(values)
    blocked = blocked_statistics(values, block_values=block_values)
    assert set(blocked) == set(whole)
    for name in whole:
        np.testing.assert_allclose(blocked[name], whole[name], rtol=1e-13, atol=0, err_msg=name)


def test_blocks_of_selected_columns() -> None:
    values = np.random.default_rng(4).integers(0, 9, size=(6, 30)).astype(np.int32)
    columns = np.array([0, 3, 4, 17, 29])
    blocked = blocked_statistics(values, columns, block_values=12)  # 2 columns per block
    for name, expected in statistics(values[:, columns]).items():
        np.testing.assert_allclose(blocked[name], expected, rtol=1e-13, atol=0, err_msg=name)


def test_summary_table_drops_cells_no_simulation_occupied() -> None:
    values = np.zeros((4, 2, 3), dtype=np.int32)  # [simulation, year, state]
    values[:, 0, 1] = [1, 2, 3, 4]
    values[2, 1, 2] = 5
    keys = {"calendar_year": np.repeat([2020, 2021], 3), "state": np.tile(["a", "b", "c"], 2)}
    table = measure_table(Measure(keys, values.reshape(4, -1), drop_all_zero=True), stochastic=True)
    assert list(zip(table["calendar_year"].to_pylist(), table["state"].to_pylist(), strict=True)) == [
        (2020, "b"),
        (2021, "c"),
    ]
    assert table["mean"].to_pylist() == [2.5, 1.25]
    assert table["max"].to_pylist() == [4.0, 5.0]


def test_deterministic_measures_give_the_value_or_mean_and_interval() -> None:
    keys = {"year": [2020, 2021]}
    plain = measure_table(Measure(keys, np.array([[1.5, 2.5]]), value_name="population"), stochastic=False)
    assert plain.column_names == ["year", "population"] and plain["population"].to_pylist() == [1.5, 2.5]
    with_var = measure_table(
        Measure(keys, np.array([[10.0, 20.0]]), variance=np.array([4.0, 9.0]), interval_z=2), False
    )
    assert with_var.column_names == ["year", "mean", "variance", "lower", "upper"]
    assert with_var["lower"].to_pylist() == [6.0, 14.0] and with_var["upper"].to_pylist() == [14.0, 26.0]


def test_comparison_pairs_simulations_and_aligns_rows() -> None:
    base = Measure({"k": ["a", "b"]}, np.array([[1, 2], [3, 4], [5, 6]]))
    scen = Measure({"k": ["a", "b"]}, np.array([[2, 2], [4, 4], [6, 6]]))
    paired = compare(scen, base, stochastic=True)
    # Paired differences are exactly 1 and 0 in every simulation: no spread at all.
    assert paired["mean"].to_pylist() == [1.0, 0.0] and paired["sd"].to_pylist() == [0.0, 0.0]
    # A row only one scenario has (a state the baseline never reaches) counts as 0 in the other.
    other = Measure({"k": ["b", "c"]}, np.array([[7.0, 1.0]]), value_name="population")
    diff = compare(other, Measure({"k": ["a", "b"]}, np.array([[1.0, 2.0]])), stochastic=False)
    assert dict(zip(diff["k"].to_pylist(), diff["difference"].to_pylist(), strict=True)) == {
        "a": -1.0,
        "b": 5.0,
        "c": 1.0,
    }
    sv = Measure({"k": ["a"]}, np.array([[3.0]]), variance=np.array([1.0]))
    bv = Measure({"k": ["a"]}, np.array([[1.0]]), variance=np.array([3.0]))
    both = compare(sv, bv, stochastic=False)
    assert both["mean"].to_pylist() == [2.0] and both["variance"].to_pylist() == [4.0]
