"""Mortality: historic age-specific mortality rates by year, the first projected year's rates (mean or
OLS trend over a window), then fixed or with the national trend (method note section 3)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from witan.models.demography.fertility import divide, trend_change
from witan.models.demography.inputs import MAX_AGE, CouncilTable, TrendTable
from witan.models.demography.years import need_window


def historic_asmr(
    population: CouncilTable, births: CouncilTable, deaths: CouncilTable
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """(years, m [council, year, sex, age], valid [council, year]) for every deaths year whose
    population the year before and births are in the inputs. The population at risk of age a in year
    t is the cohort aged on: P(t-1, a-1), with 90+ gathering 89 and 90+; at age 0 the year's births."""
    years = deaths.years
    at_risk = np.zeros_like(deaths.values)
    valid = deaths.present.copy()
    for i, year in enumerate(years):
        year = int(year)
        if not (population.has_year(year - 1) and births.has_year(year)):
            valid[:, i] = False
            continue
        before = population.at(year - 1)
        at_risk[:, i, :, 0] = births.at(year)[:, :, 0]
        at_risk[:, i, :, 1:MAX_AGE] = before[:, :, : MAX_AGE - 1]
        at_risk[:, i, :, MAX_AGE] = before[:, :, MAX_AGE - 1] + before[:, :, MAX_AGE]
        valid[:, i] &= (
            population.present[:, population.year_index(year - 1)]
            & births.present[:, births.year_index(year)]
        )
    return years, divide(deaths.values, at_risk), valid


def initial_asmr(
    population: CouncilTable,
    births: CouncilTable,
    deaths: CouncilTable,
    window: tuple[int, int],
    method: str,
    councils: tuple[str, ...],
) -> npt.NDArray[np.float64]:
    """m [council, sex, age] for the first projected year: the mean of the window's rates (a mean of
    rates, not a ratio of sums), or their OLS line per (sex, age) at the year after the window,
    floored at 0."""
    start, end = window
    need_window(deaths, window, councils, "mortality")
    need_window(births, window, councils, "mortality")
    need_window(population, (start - 1, end - 1), councils, "mortality (the year before each)")
    years, rates, _ = historic_asmr(population, births, deaths)
    sel = rates[:, start - int(years[0]) : end - int(years[0]) + 1]
    if method == "average":
        mean: npt.NDArray[np.float64] = sel.mean(axis=1)
        return mean
    x = np.arange(start, end + 1, dtype=np.float64)
    xm = x.mean()
    dx = x - xm
    ym = sel.mean(axis=1)
    sxx = (dx * dx).sum()
    slope = np.einsum("y,cysa->csa", dx, sel - ym[:, None]) / sxx if sxx > 0 else np.zeros_like(ym)
    floored: npt.NDArray[np.float64] = np.maximum(ym + slope * (end + 1 - xm), 0.0)
    return floored


def projected_asmr(
    initial: npt.NDArray[np.float64], variant: str, years: list[int], trend: TrendTable | None, scenario: str
) -> npt.NDArray[np.float64]:
    """Rates [council, year, sex, age]. applynationaltrend: m(Y) = m(Y-1) * (1 + d), d the national
    qx change at ONS age a-1 (ONS -1 for newborns; ONS 90+ unused)."""
    if variant == "fixed":
        return np.repeat(initial[:, None], len(years), axis=1)
    assert trend is not None
    d = trend_change(trend, scenario, years, age_shift=1)  # [year, sex, age]
    out = np.empty((initial.shape[0], len(years), *initial.shape[1:]))
    out[:, 0] = initial
    for i in range(1, len(years)):
        out[:, i] = out[:, i - 1] * (1 + d[i])
    return out
