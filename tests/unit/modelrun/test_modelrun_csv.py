"""Output CSVs are written column by column in Arrow, byte for byte as Python's csv module writes them
(SEND's count.csv must not change with the writer; people diff these files)."""

from __future__ import annotations

import math

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from witan.modelrun.pipeline import _rows_csv, table_csv

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(floats, st.integers(-(2**62), 2**62), texts, st.booleans()), min_size=1, max_size=40)
)
def test_arrow_path_writes_what_the_csv_module_writes(rows: list[tuple[float, int, str, bool]]) -> None:
    table = pa.table(
        {
            "x": pa.array([r[0] for r in rows], pa.float64()),
            "n": pa.array([r[1] for r in rows], pa.int64()),
            "s": pa.array([r[2] for r in rows], pa.string()),
            "b": pa.array([r[3] for r in rows], pa.bool_()),
        }
    )
    assert table_csv(table) == _rows_csv(table)


def test_the_values_models_write() -> None:
    values = [0.0, -0.0, 2153.0, 2254.5, 1e16, 1.5e-05, 1e-4, 0.1, 123456789012345.0, math.pi, -3.0, 4.5e15]
    table = pa.table(
        {
            "year": pa.array(range(len(values)), pa.int16()),
            "state": pa.DictionaryArray.from_arrays(pa.array([0, 1] * 6, pa.int8()), pa.array(["A-B", "C"])),
            "mean": values,
        }
    )
    assert table_csv(table) == _rows_csv(table)
    assert table_csv(table).decode().splitlines()[1:4] == ["0,A-B,0.0", "1,C,-0.0", "2,A-B,2153.0"]
    quoted = pa.table({"name": ["a,b", 'say "hi"'], "v": [1.0, 2.0]})
    assert table_csv(quoted) == b'name,v\n"a,b",1.0\n"say ""hi""",2.0\n'
