"""Checks that every council has the years a calculation needs (ModelInputError naming the file)."""

from __future__ import annotations

import numpy as np

from witan.modelrun.errors import ModelInputError
from witan.models.demography.inputs import CouncilTable, TrendTable


def need_year(table: CouncilTable, year: int, councils: tuple[str, ...], why: str = "") -> None:
    reason = f" (needed for {why})" if why else ""
    if not table.has_year(year):
        span = f"{table.years[0]}-{table.years[-1]}"
        raise ModelInputError(
            table.file,
            f"no rows for year {year}{reason}; the file covers {span}",
            column="year",
            code="missing-year",
        )
    lacking = np.flatnonzero(~table.present[:, table.year_index(year)])
    if lacking.size:
        raise ModelInputError(
            table.file,
            f"no rows for {councils[lacking[0]]} in year {year}{reason}"
            + (f" ({lacking.size} councils lack it)" if lacking.size > 1 else ""),
            column="year",
            code="missing-year",
        )


def need_window(table: CouncilTable, window: tuple[int, int], councils: tuple[str, ...], what: str) -> None:
    for year in range(window[0], window[1] + 1):
        need_year(table, year, councils, why=f"the {what} window {window[0]}-{window[1]}")


def need_years(trend: TrendTable, first: int, last: int) -> None:
    """A trend must cover the projected years (the year before the first is not needed)."""
    lo, hi = int(trend.years[0]), int(trend.years[-1])
    if last > hi:
        raise ModelInputError(
            trend.file,
            f"the trend ends in {hi} but the projection runs to {last}; choose a last year up to {hi} or a "
            "fixed variant",
            column="year",
            code="trend-too-short",
        )
    if first < lo:
        raise ModelInputError(
            trend.file,
            f"the trend starts in {lo}, after the first projected year {first}",
            column="year",
            code="trend-too-short",
        )
