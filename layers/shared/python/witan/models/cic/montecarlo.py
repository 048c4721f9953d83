"""Monte Carlo projection: rates drawn from their posterior, then multinomial moves and Poisson entrants.

Each simulation has its own generator seeded from (run seed, scenario, simulation) with SeedSequence
spawn keys, so a simulation's result does not depend on the chunk that runs it. Within a simulation
each day is one multinomial call over every state at once (numpy broadcasts the rows) and one Poisson
call: the day loop is over a ~20-state vector.

Rate posterior: each rate's transitions are Poisson counts over the stock-days at risk, so with k
transitions seen its posterior is Gamma(shape k) (a flat prior on the log rate); centred on the point
estimate the projection uses, a draw is rate x Gamma(k, 1/k). Entrants: Gamma(count, 1/days) exactly.
Rates never observed (k = 0) stay as they are (0, or a scenario's added value).

The rate draw of simulation i comes from its own stream, keyed by (run seed, "rates", i) and shared by
every scenario: scenario i and baseline i then assume the same true rates, so their paired difference
(the platform's comparison) is the policy's effect under the same uncertainty about the rates, not the
spread of two unrelated draws. Moves and entrants use the scenario's own stream.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from witan.models.cic.projection import System, with_rates


def scenario_key(scenario: str) -> int:
    """A stable 32-bit number for a scenario name (spawn keys need integers)."""
    return int.from_bytes(hashlib.sha256(scenario.encode()).digest()[:4], "big")


def simulation_rng(seed: int, scenario: str, simulation: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(scenario_key(scenario), simulation)))
    )


RATES_STREAM = "rates"


def rates_rng(seed: int, simulation: int) -> np.random.Generator:
    """The stream of a simulation's rate draw, the same in every scenario."""
    return simulation_rng(seed, RATES_STREAM, simulation)


def draw_system(rng: np.random.Generator, system: System) -> System:
    """One draw of the rates and entrants from their posterior, centred on the system's values."""
    k = system.param_count
    factor = np.where(k > 0, rng.gamma(np.maximum(k, 1e-12), 1.0 / np.maximum(k, 1e-12)), 1.0)
    rate = system.param_rate * factor
    # keep each state's outgoing rates a probability (draws of large rates could pass 1)
    out = np.bincount(system.param_from, weights=rate, minlength=system.n)
    scale = np.where(out > 1, 1.0 / np.maximum(out, 1e-300), 1.0)
    rate = rate * scale[system.param_from]
    ke = system.entrant_count
    efactor = np.where(ke > 0, rng.gamma(np.maximum(ke, 1e-12), 1.0 / np.maximum(ke, 1e-12)), 1.0)
    return with_rates(system, rate, system.entrants * efactor)


def simulate(
    rng: np.random.Generator,
    system: System,
    start: npt.NDArray[np.float64],
    days: int,
    draw_rates: bool = True,
    rate_rng: np.random.Generator | None = None,
) -> npt.NDArray[np.int64]:
    """One simulated path: children per carried state for days 1..days, [days, n] (int64). The rates are
    drawn from `rate_rng` (default: `rng`)."""
    sys_ = draw_system(rate_rng or rng, system) if draw_rates else system
    n = sys_.n
    probs = np.empty((n, n + 1))
    probs[:, :n] = np.clip(sys_.matrix.T, 0.0, 1.0)  # row j: where the children of state j go
    probs[:, n] = np.clip(sys_.exit_rate, 0.0, 1.0)
    probs /= probs.sum(axis=1, keepdims=True)
    x = np.rint(start).astype(np.int64)
    out = np.empty((days, n), np.int64)
    lam = sys_.entrants
    for t in range(days):  # day loop; the states move at once
        moved = rng.multinomial(x, probs)
        x = moved[:, :n].sum(axis=0) + rng.poisson(lam)
        out[t] = x
    return out
