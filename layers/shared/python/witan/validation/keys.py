"""Exact duplicate detection across batches, for `unique` constraints and primary keys.

Numbers, dates and timestamps go in a sorted numpy index (16 bytes a value: value and first row),
checked with searchsorted; text keys go in a dict, with bulk operations and a Python loop only over
the values that clash. Memory grows with the number of distinct keys, and with nothing else.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

_NUMERIC = (pa.int64(), pa.float64(), pa.date32(), pa.timestamp("us"), pa.int32(), pa.bool_())


class DuplicateIndex:
    def __init__(self) -> None:
        self._values = np.empty(0, np.int64)  # sorted; numeric keys viewed as int64
        self._rows = np.empty(0, np.int64)
        self._text: dict[object, int] = {}

    def add(self, keys: pa.Array, rows: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
        """Add one batch of non-null keys (in row order). Returns (position in keys, first row) for every
        key already seen, in this batch or an earlier one."""
        if len(keys) == 0:
            return []
        if keys.type in _NUMERIC:
            return self._add_numeric(keys, rows)
        return self._add_text(keys, rows)

    def _add_numeric(self, keys: pa.Array, rows: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
        t = keys.type
        if t == pa.float64():
            vals = keys.to_numpy(zero_copy_only=False).astype(np.float64)
            vals = np.where(vals == 0, 0.0, vals).view(np.int64)  # -0.0 equals 0.0
        elif t == pa.bool_():
            vals = keys.to_numpy(zero_copy_only=False).astype(np.int64)
        elif t == pa.date32():
            vals = keys.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
        else:
            vals = keys.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
        order = np.argsort(vals, kind="stable")  # equal keys stay in row order
        sv = vals[order]
        starts = np.ones(len(sv), bool)
        starts[1:] = sv[1:] != sv[:-1]
        run_first = np.maximum.accumulate(np.where(starts, np.arange(len(sv)), 0))
        first_pos = order[run_first]  # position of the first occurrence of each key in this batch
        seen_at = np.searchsorted(self._values, vals)
        clipped = np.minimum(seen_at, max(len(self._values) - 1, 0))
        seen = (
            (seen_at < len(self._values)) & (self._values[clipped] == vals)
            if len(self._values)
            else np.zeros(len(vals), bool)
        )
        first_row = np.where(seen, self._rows[clipped] if len(self._rows) else 0, 0)
        in_batch_first = np.empty(len(vals), np.int64)
        in_batch_first[order] = first_pos
        later = np.arange(len(vals)) != in_batch_first
        dup = seen | later
        first_row = np.where(seen, first_row, rows[in_batch_first])
        new = ~seen & ~later
        if new.any():
            nv, nr = vals[new], rows[new]
            o = np.argsort(nv, kind="stable")
            nv, nr = nv[o], nr[o]
            at = np.searchsorted(self._values, nv)
            self._values = np.insert(self._values, at, nv)
            self._rows = np.insert(self._rows, at, nr)
        hits = np.flatnonzero(dup)
        return list(zip(hits.tolist(), first_row[hits].tolist(), strict=True))

    def _add_text(self, keys: pa.Array, rows: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
        seen = self._text
        values = keys.to_pylist()
        batch_rows = rows.tolist()
        first_in_batch = dict(zip(reversed(values), reversed(batch_rows), strict=True))
        clashes = seen.keys() & first_in_batch.keys()
        if len(first_in_batch) == len(values) and not clashes:
            seen.update(first_in_batch)
            return []
        counts = pc.value_counts(keys)
        repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1)).to_pylist()
        problem = clashes | set(repeated)
        for v in problem:
            del first_in_batch[v]
        seen.update(first_in_batch)
        mask = pc.is_in(keys, value_set=pa.array(list(problem), keys.type))
        out = []
        for j in np.flatnonzero(mask.to_numpy(zero_copy_only=False)).tolist():
            v, r = values[j], batch_rows[j]
            first = seen.get(v)
            if first is None:
                seen[v] = r
            else:
                out.append((j, first))
        return out
