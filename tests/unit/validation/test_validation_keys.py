"""DuplicateIndex against a plain-Python reference: every later duplicate, with its first row."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from witan.validation.keys import DuplicateIndex


def reference(batches: list[list[object]]) -> list[list[tuple[int, int]]]:
    seen: dict[object, int] = {}
    out = []
    row = 0
    for batch in batches:
        found = []
        for j, v in enumerate(batch):
            row += 1
            if v in seen:
                found.append((j, seen[v]))
            else:
                seen[v] = row
        out.append(found)
    return out


def run(batches: list[list[object]], arrow_type: pa.DataType) -> list[list[tuple[int, int]]]:
    index = DuplicateIndex()
    out = []
    row = 0
    for batch in batches:
        rows = np.arange(row + 1, row + 1 + len(batch), dtype=np.int64)
        row += len(batch)
        out.append(index.add(pa.array(batch, arrow_type), rows))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-5, 5), max_size=12), max_size=5))
def test_integers(batches: list[list[int]]) -> None:
    assert run(batches, pa.int64()) == reference(batches)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", "é", ""]), max_size=10), max_size=5))
def test_text(batches: list[list[str]]) -> None:
    assert run(batches, pa.string()) == reference(batches)


def test_floats_dates_and_timestamps() -> None:
    assert run([[1.5, -0.0], [0.0, 1.5, 2.0]], pa.float64()) == [[], [(0, 2), (1, 1)]]
    days = [dt.date(2024, 1, 1), dt.date(2023, 1, 1)]
    assert run([days, [dt.date(2023, 1, 1)]], pa.date32()) == [[], [(0, 2)]]
    when = dt.datetime(2024, 1, 1, 10, 0)
    assert run([[when, when]], pa.timestamp("us")) == [[(1, 1)]]
