"""Statistical checks (note section 7): stock-flow identity in every simulation; with parameter
uncertainty off, the simulation mean against the expected-value recursion and the variance against the
exact multinomial-Poisson covariance; parameter recovery; back-test coverage; a national-scale run.

Tolerances come from the simulation count (fixed seeds): a mean within 5 standard errors, a variance
within 5 x sqrt(2 / S) of its exact value (relative)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from witan.modelrun.definition import InputFile
from witan.models.asc.fit import NC, Fitted, derive, fit, until
from witan.models.asc.flows import NB, NR, NS, derive_flows
from witan.models.asc.inputs import BAND_GROUP, read_cld, read_population
from witan.models.asc.scenarios import prepare
from witan.models.asc.simulate import (
    DEST,
    Layout,
    expected_entries,
    mean_moves,
    simulate,
    simulation_rng,
    step,
)
from witan.models.asc.synthetic import MOVES, SyntheticSpec, generate


@cache
def council(adults: int = 120_000, years: int = 2, seed: int = 1) -> tuple[Fitted, object]:
    syn = generate(SyntheticSpec(adults=adults, years=years, seed=seed))
    cld = read_cld([InputFile(k, v) for k, v in syn.files.items()])
    pop = read_population(InputFile("population.csv", syn.population_csv))
    derived = derive(cld, pop)
    return fit(derived.states, derived.flows, pop), derived


def transition_matrix(p: np.ndarray) -> np.ndarray:
    """M[c, c']: probability a person in cell c is in cell c' a year later."""
    m = np.zeros((NC, NC))
    rows, cols = np.nonzero(DEST >= 0)
    np.add.at(m, (rows, DEST[rows, cols]), p[rows, cols])
    return m


def test_stock_flow_identity_every_simulation() -> None:
    fitted, _ = council()
    years = 5
    values = simulate(fitted, prepare(None, fitted.last_year + 1, years), years, 3, range(40))
    parts = Layout(years).split(values)
    total = parts["stock"].sum(axis=2)  # [sim, year]
    flows = parts["flows"].sum(axis=3)  # [sim, year, kind]
    change = flows[:, :, 0] - flows[:, :, 2] - flows[:, :, 3]  # entries - endings - deaths
    np.testing.assert_array_equal(total[:, 1:] - total[:, :-1], change)
    # Clients by cell (no in-and-out people) add up to at most the clients by setting; every person in a
    # setting at the start of a year is a client of it in that year.
    by_cell = parts["clients_by_cell"].reshape(40, years, -1, NS).sum(axis=2)
    in_out = parts["clients"] - by_cell
    assert (in_out >= 0).all() and (in_out == np.round(in_out)).all()
    assert (parts["clients_by_cell"] >= parts["stock"][:, :-1]).all()
    # Cell by cell: everyone in a cell goes somewhere, and a cell's next stock is what landed in it
    # plus its entrants.
    rng = simulation_rng(0, "baseline", 0)
    stock = fitted.start.astype(float)
    entries = rng.poisson(5.0, NC).astype(float)
    nz, out, after = step(rng, stock, mean_moves(fitted), entries)
    np.testing.assert_array_equal(out.sum(axis=1), stock[nz])
    landed = np.zeros(NC)
    ok = DEST[nz] >= 0
    np.add.at(landed, DEST[nz][ok], out[ok])
    np.testing.assert_array_equal(after, landed + entries)


def test_a_simulation_does_not_depend_on_its_chunk() -> None:
    fitted, _ = council()
    prep = prepare(None, fitted.last_year + 1, 3)
    whole = simulate(fitted, prep, 3, 11, range(0, 6))
    part = simulate(fitted, prep, 3, 11, range(3, 6))
    np.testing.assert_array_equal(whole[3:], part)


def test_without_uncertainty_mean_and_covariance_are_exact() -> None:
    fitted, _ = council()
    years, sims = 3, 3000
    prep = prepare(None, fitted.last_year + 1, years)
    values = simulate(fitted, prep, years, 7, range(sims), uncertainty=False)
    stock = Layout(years).split(values)["stock"]  # [sim, year, cell]
    p = mean_moves(fitted)
    m = transition_matrix(p)
    rates = np.divide(
        fitted.entry_shape,
        fitted.entry_rate,
        out=np.zeros(fitted.entry_shape.shape),
        where=fitted.entry_rate > 0,
    )
    lam = expected_entries(fitted, rates, prep, years)
    e = fitted.start.astype(float)
    c = np.zeros((NC, NC))
    for t in range(years):  # E(t+1) = M'E + lambda; C(t+1) = M'CM + diag(M'E) - M' diag(E) M + diag(lambda)
        c = m.T @ c @ m + np.diag(m.T @ e) - m.T @ np.diag(e) @ m + np.diag(lam[t])
        e = m.T @ e + lam[t]
        se = np.sqrt(np.diag(c) / sims)
        diff = np.abs(stock[:, t + 1].mean(axis=0) - e)
        assert (diff <= 5 * se + 1e-9).all(), (
            f"year {t + 1}: mean off by {np.max(diff / np.maximum(se, 1e-9)):.1f} SE"
        )
    g = np.zeros((NC, NS))
    g[np.arange(NC), np.arange(NC) % NS] = 1.0
    exact = g.T @ c @ g
    sample = np.cov(stock[:, -1] @ g, rowvar=False)
    tol = 5 * np.sqrt((np.outer(np.diag(exact), np.diag(exact)) + exact**2) / sims)
    assert (np.abs(sample - exact) <= tol).all(), (sample, exact)
    np.testing.assert_allclose(np.diag(sample), np.diag(exact), rtol=5 * np.sqrt(2 / sims))


def beta_interval(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """95% intervals by simulation; a = 0 (a destination never seen in the pooled data) is [0, 0]."""
    draws = rng.beta(np.maximum(a, 1e-300), np.maximum(b, 1e-300), size=(4000, len(a)))
    draws[:, a <= 0] = 0.0
    return np.percentile(draws, 2.5, axis=0), np.percentile(draws, 97.5, axis=0)


def recovery_coverage(concentration: float = 1.0) -> dict[str, float]:
    """Share of (cell, to_state) whose 95% posterior interval (the Dirichlet's Beta marginal) holds the
    generator's true probability: over all cells with data, and over those where the destination was
    seen at least once."""
    _, derived = council(300_000, 4, 5)
    fitted = fit(derived.states, derived.flows, derived.population, concentration)
    counts = derived.flows.moves.sum(axis=0).reshape(NC, 2, NS + 2).sum(axis=1)  # observed people
    alpha = fitted.alpha.reshape(NC, 2, NS + 2).sum(axis=1)  # marginal over ageing
    cell = np.arange(NC)
    truth = MOVES[BAND_GROUP[cell // (NR * NS)], cell % NS]  # [cell, to_state]
    seen = counts.sum(axis=1) > 0
    keep = seen[:, None] & (truth > 0)
    a = alpha[keep]
    b = np.repeat(alpha.sum(axis=1, keepdims=True), NS + 2, axis=1)[keep] - a
    lo, hi = beta_interval(a, b, np.random.default_rng(0))
    t = truth[keep]
    covered = (lo <= t) & (t <= hi)
    observed = counts[keep] > 0
    return {
        "all": float(covered.mean()),
        "seen": float(covered[observed].mean()),
        "cells": int(keep.sum()),
    }


def test_parameter_recovery_covers_the_true_move_probabilities() -> None:
    default = recovery_coverage(1.0)
    assert default["cells"] > 300
    # Where a destination was seen, the intervals cover the truth about 95% of the time.
    assert 0.92 <= default["seen"] <= 0.99, default
    # Destinations never seen in a cell (rare moves, true p <= 0.03) get little prior mass from a
    # concentration of 1: overall coverage is lower (about 0.80) and rises with the concentration.
    assert default["all"] >= 0.75, default
    assert recovery_coverage(12.0)["all"] > default["all"]


def backtest_coverage(seed: int = 2) -> tuple[float, int]:
    """Fit on the files to 31 March 2025, project two years, compare with the 2026 and 2027 snapshots."""
    syn = generate(SyntheticSpec(adults=150_000, years=4, seed=seed))
    pop = read_population(InputFile("population.csv", syn.population_csv))
    names = sorted(syn.files)
    train = read_cld([InputFile(k, syn.files[k]) for k in names[:8]])
    held = derive(read_cld([InputFile(k, syn.files[k]) for k in names]), pop)
    d = derive(train, pop)
    assert d.states.years == [2023, 2024, 2025]
    fitted = fit(d.states, d.flows, pop)
    stock = Layout(2).split(simulate(fitted, prepare(None, 2026, 2), 2, 0, range(500)))["stock"]
    sim = stock[:, 1:].reshape(500, 2, NB, NR, NS).sum(axis=3)  # [sim, year, band, setting]
    lo, hi = np.percentile(sim, [2.5, 97.5], axis=0)
    st = held.states
    obs = np.zeros((2, NB, NS))
    for i, y in enumerate((2026, 2027)):
        t = st.years.index(y)
        m = st.state[:, t] >= 0
        np.add.at(obs[i], (st.band[m, t], st.state[m, t]), 1)
    keep = hi > 0
    return float(np.mean((lo[keep] <= obs[keep]) & (obs[keep] <= hi[keep]))), int(keep.sum())


def test_backtest_covers_held_out_snapshots() -> None:
    coverage, cells = backtest_coverage()
    assert cells >= 40
    assert coverage >= 0.85, coverage


def test_until_keeps_earlier_snapshots_only() -> None:
    _, derived = council()
    st = until(derived.states, derived.states.years[1])
    assert st.years == derived.states.years[:2]
    assert derive_flows(st).moves.shape[0] == 1


# England 2023-24 (NHS England, ASC activity and finance report): 858,720 people had long-term support
# during the year, 559,220 of them 65+; gross current expenditure on it 21.40bn pounds.
ENGLAND_ADULTS = 45_500_000


def test_national_scale_sanity_run() -> None:
    fitted, _ = council(250_000, 2, 3)
    scale = ENGLAND_ADULTS / fitted.population_at(fitted.last_year)[:, :2].sum()  # F and M (U is their sum)
    national = Fitted(
        **{
            **fitted.__dict__,
            "start": np.round(fitted.start * scale).astype(np.int64),
            "population": fitted.population * scale,
        }
    )
    parts = Layout(1).split(simulate(national, prepare(None, fitted.last_year + 1, 1), 1, 0, range(20)))
    clients = parts["clients"].sum(axis=2).mean()
    cost = parts["cost"].sum(axis=2).mean()
    stock = parts["stock"][:, 0].reshape(20, NB, NR * NS).sum(axis=2).mean(axis=0)
    older = stock[3:].sum() / stock.sum()
    assert 0.8 * 858_720 <= clients <= 1.25 * 858_720, clients
    assert 0.8 * 21.40e9 <= cost <= 1.25 * 21.40e9, cost
    assert 0.55 <= older <= 0.75, older  # 559,220 / 858,720 = 65% are 65+
    weekly = fitted.weekly_cost[:2, 1]  # 65+ nursing and residential
    assert ((weekly >= 1000) & (weekly <= 1300)).all(), weekly


@pytest.mark.parametrize("uncertainty", [True, False])
def test_projection_outputs_are_finite_and_non_negative(uncertainty: bool) -> None:
    fitted, _ = council()
    parts = Layout(4).split(
        simulate(fitted, prepare(None, fitted.last_year + 1, 4), 4, 1, range(5), uncertainty)
    )
    for name, arr in parts.items():
        assert np.isfinite(arr).all() and (arr >= 0).all(), name
