"""Fertility: historic age-specific fertility rates scaled to the base year's births, then projected
fixed or with the national trend (method note section 2)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from witan.models.demography.inputs import AGES, CouncilTable, TrendTable
from witan.models.demography.years import need_year, need_years


def divide(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """a / b with x/0 = 0 (the R reference's convention)."""
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out


def historic_asfr(
    population: CouncilTable,
    births: CouncilTable,
    by_mother: CouncilTable,
    base_year: int,
    councils: tuple[str, ...],
) -> npt.NDArray[np.float64]:
    """f [council, sex, age]: births by age of mother in their latest year over the population of the
    year before (same age, no ageing), scaled so that the base year's population of the year before
    gives the base year's actual births."""
    mother_year = int(by_mother.years[-1])
    need_year(by_mother, mother_year, councils)
    need_year(
        population,
        mother_year - 1,
        councils,
        why=f"the denominator of the {mother_year} births by age of mother",
    )
    need_year(births, base_year, councils, why="the fertility base year")
    need_year(
        population, base_year - 1, councils, why=f"estimating births in the fertility base year {base_year}"
    )
    r0 = divide(by_mother.at(mother_year), population.at(mother_year - 1))
    estimated = (r0 * population.at(base_year - 1)).sum(axis=(1, 2))
    actual = births.at(base_year).sum(axis=(1, 2))
    k = divide(actual, estimated)
    return k[:, None, None] * r0


def trend_change(
    trend: TrendTable, scenario: str, years: list[int], age_shift: int
) -> npt.NDArray[np.float64]:
    """d [year, sex, age]: the national rate's relative change from the year before (0 in the first
    year, and where the trend lacks the age). Model age a reads trend age a - age_shift."""
    need_years(trend, years[0], years[-1])
    column = trend.column(scenario)  # [sex, trend age index, year]
    present = trend.present
    nsex = column.shape[0]
    d = np.zeros((len(years), nsex, AGES))
    idx = np.arange(AGES) - age_shift - trend.age_offset  # trend age index for each model age
    ok_age = (idx >= 0) & (idx < AGES)
    idx = np.clip(idx, 0, AGES - 1)
    for i in range(1, len(years)):
        y = int(years[i] - trend.years[0])
        now, before = column[:, idx, y], column[:, idx, y - 1]
        ok = ok_age & present[:, idx, y] & present[:, idx, y - 1]
        d[i] = np.where(ok, divide(now - before, before), 0.0)
    return d


def projected_asfr(
    asfr: npt.NDArray[np.float64], variant: str, years: list[int], trend: TrendTable | None, scenario: str
) -> npt.NDArray[np.float64]:
    """Rates [council, year, sex, age] for the projected years. fixed: the historic rates every year;
    applynationaltrend: f(Y) = f(Y-1) * (1 + d(age, Y)), no age shift, both sexes."""
    if variant == "fixed":
        return np.repeat(asfr[:, None], len(years), axis=1)
    assert trend is not None
    d = trend_change(trend, scenario.replace("-", "_"), years, age_shift=0)[:, 0]  # [year, age]
    out = np.empty((asfr.shape[0], len(years), *asfr.shape[1:]))
    out[:, 0] = asfr
    for i in range(1, len(years)):
        out[:, i] = out[:, i - 1] * (1 + d[i])
    return out
