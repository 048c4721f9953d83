"""Back-testing: fit on calendar years up to Y, project from Y + 1, compare with what happened."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from witan.modelrun.summaries import statistics
from witan.models.send.fit import StateSpace, fit, start_population
from witan.models.send.inputs import ModelInputError, SendInputs, check_population
from witan.models.send.simulate import Projection, simulate


def backtest(inputs: SendInputs, fit_until: int, simulations: int = 200, seed: int = 0) -> pa.Table:
    """Per projected year: actual total, projected mean and 95% range, error and whether it was covered.

    Transitions of calendar year y describe January y -> January y + 1, so fitting on years <= Y starts
    from January Y + 1 and the held-out actual for January y is the transitions of year y - 1.
    """
    t = inputs.transitions
    first, last = int(t.calendar_year.min()), int(t.calendar_year.max())
    if not first <= fit_until < last:
        raise ModelInputError(
            inputs.file("transitions"),
            f"--fit-until must be from {first} to {last - 1} so that some year is held out",
            column="calendar-year",
            code="invalid-request",
        )
    train = dataclasses.replace(inputs, transitions=t.select(t.calendar_year <= fit_until))
    params = fit(train)
    space: StateSpace = params.space
    years = list(range(fit_until + 2, last + 2))
    join_ays = [int(a) for a in space.academic_years[params.joins]]
    check_population(inputs, years, join_ays, "back-test joiners")
    population = np.array(
        [[inputs.population.get((y, int(a)), 0) for a in space.academic_years] for y in years]
    )
    projection = Projection(start_population(train, space), years, population, [params] * len(years))
    totals = simulate(projection, seed, "backtest", range(simulations)).sum(axis=(2, 3))
    stats = statistics(totals)
    actual = np.array([start_population(inputs, space, year=y - 1).sum() for y in years], dtype=np.float64)
    error = stats["mean"] - actual
    return pa.table(
        {
            "calendar_year": years,
            "actual": actual.astype(np.int64),
            "mean": np.round(stats["mean"], 2),
            "p2_5": stats["p2_5"],
            "p97_5": stats["p97_5"],
            "error": np.round(error, 2),
            "pct_error": np.round(100 * error / np.maximum(actual, 1), 2),
            "within_95": (actual >= stats["p2_5"]) & (actual <= stats["p97_5"]),
        }
    )
