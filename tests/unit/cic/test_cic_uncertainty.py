"""Monte Carlo against the exact moments: the mean agrees with E and, with rates fixed, the variance with
the exact covariance C; with rates drawn, with C plus the rates' error. Tolerances come from the number of
simulations (fixed seed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from witan.models.cic import montecarlo as mc
from witan.models.cic import projection as pj
from witan.models.cic.inputs import read_returns_dir
from witan.models.cic.run import fit, setup

DAYS = 120
SIMS = 1500


@pytest.fixture(scope="module")
def system(synthetic_dir: Path) -> tuple[pj.System, np.ndarray]:
    fitted = fit(read_returns_dir(synthetic_dir), {})
    su = setup(fitted, {}, None)
    return su.system, su.start


@pytest.fixture(scope="module")
def fixed_paths(system: tuple[pj.System, np.ndarray]) -> np.ndarray:
    return _paths(*system, draw_rates=False)


def _paths(system: pj.System, start: np.ndarray, draw_rates: bool) -> np.ndarray:
    return np.stack(
        [
            mc.simulate(mc.simulation_rng(7, "baseline", i), system, start, DAYS, draw_rates)
            for i in range(SIMS)
        ]
    ).astype(float)


def variance_se(sample: np.ndarray) -> np.ndarray:
    """Standard error of the sample variance from the sample's own fourth moment (small counts are far
    from normal, so sd^2 sqrt(2 / (N - 1)) would be too tight)."""
    n = sample.shape[0]
    centred = sample - sample.mean(axis=0)
    m2 = (centred**2).mean(axis=0)
    m4 = (centred**4).mean(axis=0)
    return np.sqrt(np.maximum(m4 - m2**2 * (n - 3) / (n - 1), 0) / n)


def _check(sample: np.ndarray, mean: np.ndarray, cov: np.ndarray, rel: float = 0.0) -> None:
    """Per state and for the total on the last day: mean within 4 standard errors, variance within 4
    standard errors of a sample variance (plus `rel` for a first-order approximation)."""
    n = sample.shape[0]
    last = sample[:, -1, :]
    variances = np.diag(cov[-1])
    se_mean = np.sqrt(np.maximum(variances, 1e-9) / n)
    assert np.all(np.abs(last.mean(axis=0) - mean[-1]) <= 4 * se_mean + 1e-9)
    tol = 4 * variance_se(last) + rel * variances + 1e-9
    assert np.all(np.abs(last.var(axis=0, ddof=1) - variances) <= tol)
    total_var = cov[-1].sum()
    total = last.sum(axis=1)
    assert abs(total.mean() - mean[-1].sum()) <= 4 * np.sqrt(total_var / n)
    assert abs(total.var(ddof=1) - total_var) <= 4 * variance_se(total[:, None])[0] + rel * total_var


def test_monte_carlo_agrees_with_exact_covariance_rates_fixed(
    system: tuple[pj.System, np.ndarray], fixed_paths: np.ndarray
) -> None:
    sys_, start = system
    mean = pj.expected(sys_, start, DAYS)
    cov, _ = pj.exact_covariance(sys_, start, mean, rate_uncertainty=False)
    _check(fixed_paths, mean, cov)


def test_monte_carlo_with_rate_draws_agrees_with_exact_plus_rate_error(
    system: tuple[pj.System, np.ndarray],
) -> None:
    sys_, start = system
    mean = pj.expected(sys_, start, DAYS)
    cov, sens = pj.exact_covariance(sys_, start, mean, rate_uncertainty=True)
    full = pj.total_covariance(cov, sens, sys_)
    _check(_paths(sys_, start, draw_rates=True), mean, full, rel=0.05)


def test_faithful_variance_is_not_the_process_variance(system: tuple[pj.System, np.ndarray]) -> None:
    # the reason the default is not faithful: it misstates the spread (here it overstates it)
    sys_, start = system
    mean = pj.expected(sys_, start, DAYS)
    cov, _ = pj.exact_covariance(sys_, start, mean, rate_uncertainty=False)
    faithful = pj.faithful_variance(sys_, start, mean)
    assert faithful[-1].sum() > 1.2 * np.trace(cov[-1])


def test_simulation_does_not_depend_on_its_chunk(system: tuple[pj.System, np.ndarray]) -> None:
    sys_, start = system
    a = mc.simulate(mc.simulation_rng(1, "baseline", 5), sys_, start, 30)
    b = mc.simulate(mc.simulation_rng(1, "baseline", 5), sys_, start, 30)
    c = mc.simulate(mc.simulation_rng(1, "baseline", 6), sys_, start, 30)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_quarter_cost_variance_matches_monte_carlo(
    system: tuple[pj.System, np.ndarray], fixed_paths: np.ndarray
) -> None:
    sys_, start = system
    mean = pj.expected(sys_, start, DAYS)
    cov, _ = pj.exact_covariance(sys_, start, mean, rate_uncertainty=False)
    weights = np.ones((DAYS, 1, sys_.n))
    period = np.repeat([0, 1], [DAYS // 2, DAYS - DAYS // 2])
    var = pj.period_sum_variance(sys_, cov, None, weights, period)
    paths = fixed_paths
    sums = np.stack([paths[:, period == q, :].sum(axis=(1, 2)) for q in (0, 1)], axis=1)
    tol = 4 * variance_se(sums)
    assert np.all(np.abs(sums.var(axis=0, ddof=1) - var[:, 0]) <= tol)


def test_scenarios_share_a_simulation_s_rate_draw(system: tuple[pj.System, np.ndarray]) -> None:
    sys_, _ = system
    a = mc.draw_system(mc.rates_rng(3, 9), sys_)
    b = mc.draw_system(mc.rates_rng(3, 9), sys_)
    c = mc.draw_system(mc.rates_rng(3, 10), sys_)
    assert np.array_equal(a.param_rate, b.param_rate) and not np.array_equal(a.param_rate, c.param_rate)
