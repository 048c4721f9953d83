"""Output tables of every model: a `Measure` summarised across simulations, and scenario - baseline.

Stochastic measures: statistics per row across simulations (mean, sd, percentiles and the 95% interval
of the mean). Deterministic measures: the value itself, or mean, variance and an interval where the
model gives an analytic variance. Comparisons pair simulation i of a scenario with simulation i of the
baseline (both drawn from the same seed), so the difference's spread is the policy's effect, not the
noise of two unrelated draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from witan.modelrun.definition import Measure

if TYPE_CHECKING:
    from witan.modelrun.definition import KeyColumn

STAT_COLUMNS = ("mean", "sd", "iqr", "min", "p2_5", "q1", "median", "q3", "p97_5", "max", "ci_low", "ci_high")


def statistics(values: npt.NDArray[Any]) -> dict[str, npt.NDArray[np.float64]]:
    """Statistics over axis 0 (simulations) of `values`; 95% interval of the mean = mean ± 1.96 sd/√n."""
    v = values.astype(np.float64)
    n = v.shape[0]
    mean = v.mean(axis=0)
    sd = v.std(axis=0, ddof=1) if n > 1 else np.zeros_like(mean)
    p = np.percentile(v, [2.5, 25, 50, 75, 97.5], axis=0)
    half = 1.96 * sd / np.sqrt(n)
    return {
        "mean": mean,
        "sd": sd,
        "iqr": p[3] - p[1],
        "min": v.min(axis=0),
        "p2_5": p[0],
        "q1": p[1],
        "median": p[2],
        "q3": p[3],
        "p97_5": p[4],
        "max": v.max(axis=0),
        "ci_low": mean - half,
        "ci_high": mean + half,
    }


# Statistics work on float64 copies (astype, std, percentile's partition): done on column blocks of at
# most this many values, a measure as large as SEND's by_state over 15 years and 5,000 simulations
# needs a few copies of one block at a time instead of several of the whole array. Every statistic is
# per column, so results are the same up to the last bit of a float (numpy's SIMD sums depend on width).
BLOCK_VALUES = 1 << 22


def blocked_statistics(
    values: npt.NDArray[Any], columns: npt.NDArray[np.intp] | None = None, block_values: int = BLOCK_VALUES
) -> dict[str, npt.NDArray[np.float64]]:
    """`statistics` of a 2-D [simulation, cell] array (only `columns`, if given), a block of cells at a
    time; the selected columns are never copied all at once."""
    cols = np.arange(values.shape[1]) if columns is None else columns
    width = max(1, block_values // max(1, values.shape[0]))
    if len(cols) <= width:
        return statistics(values if columns is None else values[:, cols])
    parts = [statistics(values[:, cols[i : i + width]]) for i in range(0, len(cols), width)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def key_columns(
    keys: Mapping[str, KeyColumn], keep: npt.NDArray[np.intp] | None = None
) -> dict[str, pa.Array]:
    out = {}
    for name, values in keys.items():
        column = values if isinstance(values, pa.Array) else pa.array(np.asarray(values).tolist())
        out[name] = column if keep is None else column.take(pa.array(keep))
    return out


def _rounded(values: npt.NDArray[Any], decimals: int | None) -> pa.Array:
    return pa.array(np.round(values, decimals) if decimals is not None else values)


def measure_table(measure: Measure, stochastic: bool) -> pa.Table:
    """A measure as its output table: key columns, then the value or the statistics."""
    flat = measure.values.reshape(measure.values.shape[0], -1)
    keep = None
    if measure.drop_all_zero:  # before the statistics: SEND's by_state is mostly empty cells
        keep = np.flatnonzero(np.abs(flat).max(axis=0) > 0)
    out = key_columns(measure.keys, keep)
    if measure.variance is not None:
        mean = flat[0] if keep is None else flat[0, keep]
        variance = measure.variance if keep is None else measure.variance[keep]
        half = measure.interval_z * np.sqrt(np.maximum(variance, 0.0))
        for name, values in (
            ("mean", mean),
            ("variance", variance),
            ("lower", mean - half),
            ("upper", mean + half),
        ):
            out[name] = _rounded(np.asarray(values, dtype=np.float64), measure.decimals)
    elif stochastic and not measure.fixed:
        stats = blocked_statistics(flat, keep)
        out.update({k: _rounded(v, measure.decimals) for k, v in stats.items()})
    else:  # deterministic, or the same in every simulation
        out[measure.value_name] = _rounded(flat[0] if keep is None else flat[0, keep], measure.decimals)
    return pa.table(out)


def _same_keys(a: Measure, b: Measure) -> bool:
    if list(a.keys) != list(b.keys):
        return False
    return all(np.array_equal(np.asarray(a.keys[k]), np.asarray(b.keys[k])) for k in a.keys)


def _aligned(
    scenario: Measure, baseline: Measure
) -> tuple[Mapping[str, KeyColumn], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Both measures' values on the union of their rows (a row one of them lacks counts as 0)."""
    names = list(baseline.keys)
    rows: dict[tuple[Any, ...], int] = {}
    for m in (baseline, scenario):
        for row in zip(*(np.asarray(m.keys[k]).tolist() for k in names), strict=True):
            rows.setdefault(row, len(rows))

    def spread(m: Measure) -> npt.NDArray[np.float64]:
        index = [rows[r] for r in zip(*(np.asarray(m.keys[k]).tolist() for k in names), strict=True)]
        flat = m.values.reshape(m.values.shape[0], -1).astype(np.float64)
        out = np.zeros((flat.shape[0], len(rows)))
        out[:, index] = flat
        return out

    keys: dict[str, KeyColumn] = {k: [r[i] for r in rows] for i, k in enumerate(names)}
    return keys, spread(scenario), spread(baseline)


def compare(scenario: Measure, baseline: Measure, stochastic: bool) -> pa.Table:
    """scenario - baseline per row: paired by simulation (stochastic), or the difference of values with
    the variances added (deterministic with variance: scenario and baseline taken as independent, an
    upper bound where they share estimated rates)."""
    if _same_keys(scenario, baseline):
        keys: Mapping[str, KeyColumn] = scenario.keys
        s = scenario.values.reshape(scenario.values.shape[0], -1)
        b = baseline.values.reshape(baseline.values.shape[0], -1)
    else:
        if scenario.variance is not None or baseline.variance is not None:
            raise ValueError("measures with a variance must have the same rows in every scenario")
        keys, s, b = _aligned(scenario, baseline)
    variance = None
    if scenario.variance is not None and baseline.variance is not None:
        variance = scenario.variance + baseline.variance
    difference = Measure(
        keys=dict(keys),
        values=s.astype(np.float64) - b.astype(np.float64),
        value_name="difference",
        variance=variance,
        interval_z=scenario.interval_z,
        decimals=scenario.decimals,
        fixed=scenario.fixed and baseline.fixed,
    )
    return measure_table(difference, stochastic)
