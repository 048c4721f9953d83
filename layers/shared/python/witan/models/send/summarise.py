"""Summaries: per simulation first (group sums), then statistics across simulations."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from witan.models.send.fit import StateSpace

STAT_COLUMNS = ("mean", "sd", "iqr", "min", "p2_5", "q1", "median", "q3", "p97_5", "max", "ci_low", "ci_high")
AY_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("<1", -99, 0),
    ("1-6", 1, 6),
    ("7-11", 7, 11),
    ("12-13", 12, 13),
    ("14+", 14, 99),
)
GROUPINGS = ("count", "by_academic_year", "by_ay_group", "by_need", "by_setting", "by_state", "cost")


def statistics(values: np.ndarray) -> dict[str, np.ndarray]:
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
# most this many values, a grouping as large as by_state over 15 years and 5,000 simulations needs a
# few copies of one block at a time instead of several of the whole array. Every statistic is per
# column, so results are the same up to the last bit of a float (numpy's SIMD sums depend on width);
# the tables round to 4 decimals.
BLOCK_VALUES = 1 << 22


def blocked_statistics(
    values: np.ndarray, columns: np.ndarray | None = None, block_values: int = BLOCK_VALUES
) -> dict[str, np.ndarray]:
    """`statistics` of a 2-D [simulation, cell] array (only `columns`, if given), a block of cells at a
    time; the selected columns are never copied all at once."""
    cols = np.arange(values.shape[1]) if columns is None else columns
    width = max(1, block_values // max(1, values.shape[0]))
    if len(cols) <= width:
        return statistics(values if columns is None else values[:, cols])
    parts = [statistics(values[:, cols[i : i + width]]) for i in range(0, len(cols), width)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def summary_table(values: np.ndarray, keys: dict[str, Sequence], drop_all_zero: bool = False) -> pa.Table:
    """values [sim, *group dims]; keys: one column per group dim, in order (meshed into long rows)."""
    grids = np.meshgrid(*[np.asarray(k) for k in keys.values()], indexing="ij")
    cols = {name: g.ravel() for name, g in zip(keys, grids, strict=True)}
    flat_values = values.reshape(values.shape[0], -1)
    keep = None
    if drop_all_zero:  # before the statistics: by_state is mostly empty cells
        keep = np.flatnonzero(flat_values.max(axis=0) > 0)
        cols = {k: v[keep] for k, v in cols.items()}
    flat = blocked_statistics(flat_values, keep)
    out = {k: pa.array(np.asarray(v).tolist()) for k, v in cols.items()}
    out.update({k: pa.array(np.round(v, 4)) for k, v in flat.items()})
    return pa.table(out)


def group_totals(
    counts: np.ndarray, space: StateSpace, cost: np.ndarray
) -> dict[str, tuple[np.ndarray, dict]]:
    """Per-simulation totals [sim, year, ...] for every grouping, with their key columns.

    counts: [sim, year, a, k] where the year axis includes the seed year.
    """
    s, t, n_ay, _ = counts.shape
    n_need, n_set = len(space.needs), len(space.settings)
    by_ns = counts.reshape(s, t, n_ay, n_need, n_set)
    ays = space.academic_years
    group_idx = np.array([next(i for i, (_, lo, hi) in enumerate(AY_GROUPS) if lo <= ay <= hi) for ay in ays])
    by_ay = counts.sum(axis=3, dtype=np.int64)
    by_group = np.zeros((s, t, len(AY_GROUPS)), dtype=np.int64)
    for g in range(len(AY_GROUPS)):
        by_group[:, :, g] = by_ay[:, :, group_idx == g].sum(axis=2)
    return {
        "count": (by_ay.sum(axis=2), {}),
        "by_academic_year": (by_ay, {"academic_year": ays.tolist()}),
        "by_ay_group": (by_group, {"ay_group": [g[0] for g in AY_GROUPS]}),
        "by_need": (by_ns.sum(axis=(2, 4), dtype=np.int64), {"need": list(space.needs)}),
        "by_setting": (by_ns.sum(axis=(2, 3), dtype=np.int64), {"setting": list(space.settings)}),
        "by_state": (counts, {"academic_year": ays.tolist(), "state": space.state_names()}),
        "cost": (np.einsum("stak,k->st", counts, cost, dtype=np.float64), {}),
    }


def summarise(
    counts: np.ndarray, years: Sequence[int], space: StateSpace, cost: np.ndarray
) -> dict[str, pa.Table]:
    """Every grouping's summary table (by_state keeps only cells some simulation occupied)."""
    out = {}
    for name, (values, keys) in group_totals(counts, space, cost).items():
        out[name] = summary_table(
            values, {"calendar_year": list(years), **keys}, drop_all_zero=name == "by_state"
        )
    return out


def compare(scenario: np.ndarray, baseline: np.ndarray, years: Sequence[int]) -> pa.Table:
    """Paired differences (scenario - baseline) per simulation index, summarised per year."""
    return summary_table(scenario - baseline, {"calendar_year": list(years)})
