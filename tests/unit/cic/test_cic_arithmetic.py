"""The method note's arithmetic checks (section 7, after data-to-insight/cs-demand-model's tests)."""

from __future__ import annotations

import numpy as np
from witan.models.cic import projection as pj
from witan.models.cic import rates as rt


def two_states(rate: float = 0.1) -> pj.System:
    # state 0 = (under-1, fostering), state 1 = (under-1, residential), absorbing
    return pj.build_system(
        pairs=np.array([0 * 25 + 1]),
        rate=np.array([rate]),
        count=np.array([10.0]),
        entrants=np.zeros(25),
        entrant_count=np.zeros(25),
        period_days=365,
    )


def test_two_state_expected_values() -> None:
    system = two_states()
    mean = pj.expected(system, np.array([100.0, 0.0]), 25)
    assert np.allclose(mean[0], [90, 10])
    assert np.allclose(mean[1], [81, 19])
    assert np.allclose(mean[4], [59.049, 40.951])
    assert np.round(mean[4], 1).tolist() == [59.0, 41.0]
    assert np.round(mean[24], 1).tolist() == [7.2, 92.8]


def test_two_state_faithful_variance() -> None:
    system = two_states()
    start = np.array([100.0, 0.0])
    variance = pj.faithful_variance(system, start, pj.expected(system, start, 3))
    assert np.allclose(variance[:, 1], [9, 17.1, 24.39])


def test_two_state_exact_variance_is_binomial() -> None:
    system = two_states()
    start = np.array([100.0, 0.0])
    mean = pj.expected(system, start, 25)
    cov, _ = pj.exact_covariance(system, start, mean, rate_uncertainty=False)
    p = 1 - 0.9 ** np.arange(1, 26)  # each child has left state 0 with probability p by day t
    assert np.allclose(cov[:, 1, 1], 100 * p * (1 - p))
    assert np.allclose(cov[:, 0, 1], -100 * p * (1 - p))


def test_rate_is_mean_of_daily_ratios() -> None:
    stock = np.full((4, 1), 10.0)
    transitions = np.array([[0.0], [1.0], [2.0], [1.0]])
    # days 2-4, each over the day before's stock
    rate = rt.mean_daily_rate(transitions[1:4], stock[0:3])
    assert np.isclose(rate[0], (0.1 + 0.2 + 0.1) / 3)


def test_rate_leaves_out_empty_days() -> None:
    rate = rt.mean_daily_rate(np.array([[1.0], [0.0], [0.0]]), np.array([[10.0], [0.0], [5.0]]))
    assert np.isclose(rate[0], (0.1 + 0.0) / 2)
    assert rt.mean_daily_rate(np.zeros((2, 1)), np.zeros((2, 1)))[0] == 0.0
