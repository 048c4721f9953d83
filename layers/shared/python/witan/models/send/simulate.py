"""Simulating SEND populations forward, one year at a time (method: docs/models/send.md).

Each simulation draws from its own `numpy.random.Generator`, seeded from (run seed, scenario,
simulation index) with `SeedSequence` spawn keys: a simulation's result is the same whichever chunk
of a fan-out runs it. Within a simulation every step is vectorised over all occupied states. (Also
vectorising across simulations would need one generator per batch, and a simulation's result would
then depend on which chunk ran it; the per-call overhead this costs is what `step` batches away.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from witan.models.send.fit import SendParameters


def scenario_key(scenario: str) -> int:
    """A stable 32-bit number for a scenario name (spawn keys need integers)."""
    return int.from_bytes(hashlib.sha256(scenario.encode()).digest()[:4], "big")


def simulation_rng(seed: int, scenario: str, simulation: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(scenario_key(scenario), simulation)))
    )


@dataclass
class Projection:
    """What a simulation needs besides parameters: where it starts and the years it projects."""

    start: npt.NDArray[np.int64]  # [a, k] counts in the seed year
    years: list[int]  # projected calendar years
    population: npt.NDArray[np.int64]  # [year, a] general population of each projected year
    year_params: list[SendParameters]  # parameters in force for each projected year


def place(
    rng: np.random.Generator,
    n: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    placements: tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.float64]],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """DirichletMultinomial(n[i]; alphas of sparse row rows[i]) for every i at once.

    p ~ Dirichlet from normalised gammas over each row's non-zero alphas, then n[i] categorical draws
    by inverse CDF on one running cumulative sum. Returns (which i, chosen column) per child placed.
    """
    indptr, columns, alphas = placements
    starts, lens = indptr[rows], indptr[rows + 1] - indptr[rows]
    seg = np.repeat(np.arange(len(rows)), lens)
    pos = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens - starts, lens)
    alpha = alphas[pos]
    g = rng.standard_gamma(alpha)
    total = np.bincount(seg, weights=g, minlength=len(rows))
    # Tiny alphas can underflow every gamma of a row to 0: use the Dirichlet's mean for that row.
    if (total <= 0).any():
        bad = (total <= 0)[seg]
        g = np.where(bad, alpha, g)
        total = np.bincount(seg, weights=g, minlength=len(rows))
    cs = np.cumsum(g / total[seg])
    last = np.cumsum(lens) - 1
    end = cs[last]
    base = np.concatenate([[0.0], end[:-1]])
    child = np.repeat(np.arange(len(rows)), n)
    target = base[child] + rng.random(len(child)) * (end[child] - base[child])
    idx = np.minimum(np.searchsorted(cs, target, side="right"), last[child])
    return child, columns[pos[idx]]


def step(
    rng: np.random.Generator,
    counts: npt.NDArray[np.int64],
    p: SendParameters,
    population: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """One projected year: leavers, movers and stayers age by one academic year, then joiners arrive.

    Draws are batched (one Beta call for leaver, mover and joiner rates; one Binomial for leavers and
    joiners; one Dirichlet-multinomial for all placements) because per-call overhead dominates here.
    """
    n_ay, n_k = counts.shape
    flat = counts.ravel()
    idx = np.flatnonzero(flat)
    n = flat[idx]
    j = np.flatnonzero((population > 0) & p.joins)
    nl = len(idx)
    rates = rng.beta(
        np.concatenate([p.leaver_alpha.flat[idx], p.mover_alpha.flat[idx], p.joiner_alpha[j]]),
        np.concatenate([p.leaver_beta.flat[idx], p.mover_beta.flat[idx], p.joiner_beta[j]]),
    )
    # Everyone in a closed setting leaves (witan.send's make-setting-invalid).
    gone = p.leaves_all.flat[idx]
    leave_p = np.where(gone, 1.0, rates[:nl])
    drawn = rng.binomial(np.concatenate([n, population[j]]), np.concatenate([leave_p, rates[2 * nl :]]))
    rest, joiners = n - drawn[:nl], drawn[nl:]
    movers = rng.binomial(np.where(p.can_move.flat[idx], rest, 0), rates[nl : 2 * nl])
    stay = rest - movers
    # Index (a + 1) * n_k + k: everyone ages a year; row n_ay (academic year 21) is dropped.
    out = np.bincount(idx + n_k, weights=stay, minlength=(n_ay + 1) * n_k)
    m, jm = movers > 0, joiners > 0
    if m.any() or jm.any():
        mi, ji = idx[m], j[jm]
        rows = np.concatenate([mi, n_ay * n_k + ji])
        child, col = place(rng, np.concatenate([movers[m], joiners[jm]]), rows, p.placements)
        target = np.concatenate([mi // n_k + 1, ji])  # movers age a year; joiners arrive at their year
        out += np.bincount(target[child] * n_k + col, minlength=(n_ay + 1) * n_k)
    return np.rint(out[: n_ay * n_k]).astype(np.int64).reshape(n_ay, n_k)


def simulate(
    projection: Projection, seed: int, scenario: str, simulations: Sequence[int]
) -> npt.NDArray[np.int32]:
    """Counts [simulation, projected year, a, k] (int32) for the given simulation indices."""
    n_ay, n_k = projection.start.shape
    out = np.zeros((len(simulations), len(projection.years), n_ay, n_k), dtype=np.int32)
    for i, sim in enumerate(simulations):
        rng = simulation_rng(seed, scenario, int(sim))
        counts = projection.start
        for t, params in enumerate(projection.year_params):
            counts = step(rng, counts, params, projection.population[t])
            out[i, t] = counts
    return out
