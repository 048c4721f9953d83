"""Daily projection of the children in care by state: expected values and their uncertainty (note s.5).

Only in-care states are carried: not-in-care is absorbing and feeds nothing back, and each in-care
state's exit rate sits in its diagonal (M[s, s] = 1 - every rate out of s). The day loop runs over a
small state matrix (about 20 states), everything inside it is a matrix product.

- `faithful`: Social Finance's variance V(t+1) = V(t) + (M o (1 - M)) E(t) + lambda, grouped by summing.
- `exact`: the covariance of the process (multinomial moves, Poisson entrants)
  C(t+1) = M C M^T + diag(M E) - M diag(E) M^T + diag(lambda), plus, optionally, the error in the
  estimated rates to first order: S(t) = dE(t)/dtheta carried forward (S(t+1) = M S(t) + D(t)) and
  S Sigma S^T added, Sigma the rates' posterior variances (Gamma: rate^2 / count; entrants lambda / days).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from witan.models.cic import states as st

S_ALL = st.N_STATES_ALL


@dataclass
class System:
    """The projection's transition system over in-care states."""

    states: npt.NDArray[np.int64]  # state indices (band*5 + placement) carried, in-care only
    matrix: npt.NDArray[np.float64]  # M[to, from] between carried states, exits in the diagonal's shortfall
    exit_rate: npt.NDArray[np.float64]  # [n] daily rate of leaving care
    entrants: npt.NDArray[np.float64]  # [n] daily entrants
    # rate parameters, for the delta method and Monte Carlo: from/to positions (to = -1 for an exit)
    param_from: npt.NDArray[np.int64]
    param_to: npt.NDArray[np.int64]
    param_rate: npt.NDArray[np.float64]
    param_count: npt.NDArray[np.float64]  # transitions observed (Gamma shape)
    entrant_count: npt.NDArray[np.float64]  # [n]
    period_days: int

    @property
    def n(self) -> int:
        return len(self.states)


def build_system(
    pairs: npt.NDArray[np.int64],
    rate: npt.NDArray[np.float64],
    count: npt.NDArray[np.float64],
    entrants: npt.NDArray[np.float64],
    entrant_count: npt.NDArray[np.float64],
    period_days: int,
) -> System:
    """From rates per pair (from*S + to over every state) to the in-care matrix."""
    f_all, t_all = pairs // S_ALL, pairs % S_ALL
    carried = np.unique(np.concatenate([f_all, t_all]))
    carried = carried[st.in_care(carried)]
    pos = np.full(S_ALL, -1)
    pos[carried] = np.arange(len(carried))
    moves = f_all != t_all  # a move within a state changes nothing
    f, t = pos[f_all[moves]], pos[t_all[moves]]
    r, c = rate[moves], count[moves]
    n = len(carried)
    m = np.zeros((n, n))
    inside = t >= 0
    np.add.at(m, (t[inside], f[inside]), r[inside])
    # Weighted bincounts are float64 (numpy's stubs say integers: asarray only retypes them).
    out = np.asarray(np.bincount(f, weights=r, minlength=n), dtype=np.float64)
    m[np.arange(n), np.arange(n)] = 1.0 - out
    exit_rate = np.asarray(np.bincount(f[~inside], weights=r[~inside], minlength=n), dtype=np.float64)
    lam = np.zeros(n)
    ent_c = np.zeros(n)
    known = st.in_care(np.arange(S_ALL)) & (pos >= 0)
    lam[pos[known]] = entrants[known]
    ent_c[pos[known]] = entrant_count[known]
    return System(carried, m, exit_rate, lam, f, t, r, c, ent_c, period_days)


def with_rates(system: System, rate: npt.NDArray[np.float64], entrants: npt.NDArray[np.float64]) -> System:
    """The same system with other rates per parameter and other entrants (scenarios, Monte Carlo)."""
    n = system.n
    m = np.zeros((n, n))
    inside = system.param_to >= 0
    np.add.at(m, (system.param_to[inside], system.param_from[inside]), rate[inside])
    out = np.asarray(np.bincount(system.param_from, weights=rate, minlength=n), dtype=np.float64)
    m[np.arange(n), np.arange(n)] = 1.0 - out
    exit_rate = np.asarray(
        np.bincount(system.param_from[~inside], weights=rate[~inside], minlength=n), dtype=np.float64
    )
    return System(
        system.states,
        m,
        exit_rate,
        entrants,
        system.param_from,
        system.param_to,
        rate,
        system.param_count,
        system.entrant_count,
        system.period_days,
    )


def expected(system: System, start: npt.NDArray[np.float64], days: int) -> npt.NDArray[np.float64]:
    """E(t) for t = 1..days: [days, n]."""
    out = np.empty((days, system.n))
    e = start.astype(float)
    for t in range(days):  # ~730 small matrix products
        e = system.matrix @ e + system.entrants
        out[t] = e
    return out


def faithful_variance(
    system: System, start: npt.NDArray[np.float64], mean: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Social Finance's cumulative variance per state: [days, n]."""
    m = system.matrix
    spread = m * (1.0 - m)
    previous = np.vstack([start[None, :].astype(float), mean[:-1]])
    # exits are part of each column's multinomial too: r(1-r) E for the exit row is not an in-care row
    increments = previous @ spread.T + system.entrants
    return np.cumsum(increments, axis=0)


def parameter_variances(system: System) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Posterior variances of the rates (Gamma with shape = count, mean = the estimate) and entrants."""
    rate_var = np.divide(
        system.param_rate**2,
        system.param_count,
        out=np.zeros(len(system.param_rate)),
        where=system.param_count > 0,
    )
    entrant_var = system.entrants / max(system.period_days, 1)
    return rate_var, entrant_var


def exact_covariance(
    system: System,
    start: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64],
    rate_uncertainty: bool = True,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """Process covariance C [days, n, n] and the rate sensitivities S [days, n, p] (or None)."""
    m, lam, n = system.matrix, system.entrants, system.n
    days = mean.shape[0]
    cov = np.empty((days, n, n))
    c = np.zeros((n, n))
    previous = np.vstack([start[None, :].astype(float), mean[:-1]])
    p_rates = len(system.param_rate)
    sens = np.empty((days, n, p_rates + n)) if rate_uncertainty else None
    s = np.zeros((n, p_rates + n))
    cols = np.arange(p_rates)
    inside = system.param_to >= 0
    for t in range(days):  # day loop over a ~20-state matrix
        e = previous[t]
        me = m @ e
        c = m @ c @ m.T + np.diag(me + lam) - (m * e) @ m.T
        cov[t] = c
        if sens is not None:
            d = np.zeros((n, p_rates + n))
            ef = e[system.param_from]
            d[system.param_from, cols] -= ef
            d[system.param_to[inside], cols[inside]] += ef[inside]
            d[np.arange(n), p_rates + np.arange(n)] = 1.0
            s = m @ s + d
            sens[t] = s
    return cov, sens


def total_covariance(
    cov: npt.NDArray[np.float64], sens: npt.NDArray[np.float64] | None, system: System
) -> npt.NDArray[np.float64]:
    """Process plus rate-estimate covariance per day: [days, n, n]."""
    if sens is None:
        return cov
    rate_var, entrant_var = parameter_variances(system)
    sigma = np.concatenate([rate_var, entrant_var])
    var: npt.NDArray[np.float64] = cov + np.einsum("tip,p,tjp->tij", sens, sigma, sens, optimize=True)
    return var


def group_variance(
    full_cov: npt.NDArray[np.float64], groups: npt.NDArray[np.intp], n_groups: int
) -> npt.NDArray[np.float64]:
    """Var of each group's total per day from the covariance: [days, groups]."""
    g = np.zeros((n_groups, len(groups)))
    g[groups, np.arange(len(groups))] = 1.0
    var: npt.NDArray[np.float64] = np.einsum("gi,tij,gj->tg", g, full_cov, g, optimize=True)
    return var


def period_sum_variance(
    system: System,
    cov: npt.NDArray[np.float64],
    sens: npt.NDArray[np.float64] | None,
    weights: npt.NDArray[np.float64],
    period: npt.NDArray[np.intp],
) -> npt.NDArray[np.float64]:
    """Variance of sum over the days of each period of weights[t] @ X(t): [periods, G].

    weights [days, G, n]; period [days] non-decreasing period index. Uses K(t) = Cov(X(t), Y(t)) carried
    forward (Cov(X(t+1), Y(t)) = M K(t)) so the covariance between days is counted, then adds the rate
    term from the summed sensitivities."""
    m = system.matrix
    days, n_g, n = weights.shape
    n_periods = int(period.max()) + 1
    out = np.zeros((n_periods, n_g))
    k = np.zeros((n, n_g))
    var_y = np.zeros((n_g, n_g))
    for t in range(days):  # day loop over small matrices
        if t > 0 and period[t] != period[t - 1]:
            k = np.zeros((n, n_g))
            var_y = np.zeros((n_g, n_g))
        a = weights[t]
        cross = a @ (m @ k)
        var_y = var_y + a @ cov[t] @ a.T + cross + cross.T
        k = m @ k + cov[t] @ a.T
        out[period[t]] = np.diag(var_y)
    # the rate term: each period's summed sensitivities
    if sens is not None:
        rate_var, entrant_var = parameter_variances(system)
        sigma = np.concatenate([rate_var, entrant_var])
        summed = np.zeros((n_periods, n_g, sens.shape[2]))
        contrib = np.einsum("tgi,tip->tgp", weights, sens, optimize=True)
        np.add.at(summed, period, contrib)
        out = out + np.einsum("qgp,p->qg", summed**2, sigma)
    return out
