"""Migration: each flow's mean over a window of years, a fixed net count every projected year
(method note section 4)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from witan.models.demography.fertility import divide
from witan.models.demography.inputs import CouncilTable
from witan.models.demography.years import need_window

FLOWS = ("domestic_in", "domestic_out", "international_in", "international_out")


def average(
    flow: CouncilTable, window: tuple[int, int], councils: tuple[str, ...], what: str
) -> npt.NDArray[np.float64]:
    """[council, sex, age]: the mean over the window's rows (duplicated rows count as rows, as in R)."""
    need_window(flow, window, councils, what)
    lo, hi = flow.year_index(window[0]), flow.year_index(window[1]) + 1
    return divide(flow.values[:, lo:hi].sum(axis=1), flow.rows[:, lo:hi].sum(axis=1))


def averages(
    tables: dict[str, CouncilTable], window: tuple[int, int], councils: tuple[str, ...]
) -> dict[str, npt.NDArray[np.float64]]:
    return {f: average(tables[f], window, councils, f"migration ({f})") for f in FLOWS}


def net(means: dict[str, npt.NDArray[np.float64]], multiplier: float) -> npt.NDArray[np.float64]:
    """(domestic in - out) + (multiplier * international in - out)."""
    return (means["domestic_in"] - means["domestic_out"]) + (
        multiplier * means["international_in"] - means["international_out"]
    )


def trend(flow: CouncilTable, window: tuple[int, int], councils: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """OLS of the window's rows on year per (sex, age), at the year after, floored at 0 (the R
    reference's unused trend variant; duplicated rows weigh twice)."""
    need_window(flow, window, councils, "migration trend")
    lo, hi = flow.year_index(window[0]), flow.year_index(window[1]) + 1
    x = flow.years[lo:hi].astype(np.float64)[None, :, None, None]
    n = flow.rows[:, lo:hi].astype(np.float64)
    sums = flow.values[:, lo:hi]
    count = n.sum(axis=1)
    xm = divide((n * x).sum(axis=1), count)
    ym = divide(sums.sum(axis=1), count)
    dx = x - xm[:, None]
    # Each cell holds n rows with the same x; their values sum to `sums`.
    sxy = (dx * (sums - n * ym[:, None])).sum(axis=1)
    sxx = (n * dx * dx).sum(axis=1)
    slope = divide(sxy, sxx)
    return np.maximum(ym + slope * (window[1] + 1 - xm), 0.0)
