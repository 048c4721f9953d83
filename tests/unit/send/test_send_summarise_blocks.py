"""Statistics a block of cells at a time (what keeps aggregate's memory down for long projections)
give what one pass over every cell gives (to the last bit or so: numpy's SIMD sums depend on the
array's width; the tables round to 4 decimals)."""

from __future__ import annotations

import numpy as np
import pytest
from witan.models.send.summarise import blocked_statistics, statistics, summary_table


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
    table = summary_table(values, {"calendar_year": [2020, 2021], "state": ["a", "b", "c"]}, True)
    assert list(zip(table["calendar_year"].to_pylist(), table["state"].to_pylist(), strict=True)) == [
        (2020, "b"),
        (2021, "c"),
    ]
    assert table["mean"].to_pylist() == [2.5, 1.25]
    assert table["max"].to_pylist() == [4.0, 5.0]
