"""Projecting long-term support by simulation (method: docs/models/asc.md, projection).

Each simulation has its own generators, so its result does not depend on the chunk that runs it: one
seeded from (run seed, PARAMETERS, simulation index) draws its parameters once (Dirichlet moves, Gamma
entry and in-and-out rates; their means when parameter uncertainty is off), the same draw in every
scenario, so that a comparison with the baseline is paired on the parameters; one seeded from (run
seed, scenario, simulation index) draws what happens to people. Then each year:
multinomial moves of every occupied cell, Poisson entries from the rates and that year's population,
Poisson in-and-out clients; weeks of care and costs follow from the flows, for all years at once.

One simulation's result is a flat vector (`Layout`): stock [year 0..Y, cell], flows [year, kind,
setting], clients [year, setting] (in-and-out people included), cost [year, setting], and clients by
cell [year, cell] (people in a setting at the start, entrants and movers in; in-and-out people, who
carry no band or reason in the projection, are only in the by-setting clients).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from witan.models.asc.fit import NC, ND, Fitted, destination_cells
from witan.models.asc.flows import NB, NR, NS
from witan.models.asc.inputs import BAND_GROUP
from witan.models.asc.scenarios import Prepared, renormalise, stay_mask

FLOW_KINDS = ("entries", "moves", "endings", "deaths")
PARAMETERS = " parameters"  # the parameter draws' stream: no scenario can have this name (a space)
DEST = destination_cells()
STAY = stay_mask()
# [cell, destination]: a move into another setting (whose person is a client of that setting too)
MOVED_IN = (DEST >= 0) & ((np.arange(NC) % NS)[:, None] != DEST % NS)
CELL_SETTING = np.arange(NC) % NS
CELL_GROUP = BAND_GROUP[np.arange(NC) // (NR * NS)]
# [cell, (age group, setting)] one-hot: sums cells' flows to age group x setting by one product
GROUP_SETTING = np.zeros((NC, 2 * NS))
GROUP_SETTING[np.arange(NC), CELL_GROUP * NS + CELL_SETTING] = 1.0


def scenario_key(scenario: str) -> int:
    """A stable 32-bit number for a scenario name (spawn keys need integers)."""
    return int.from_bytes(hashlib.sha256(scenario.encode()).digest()[:4], "big")


def simulation_rng(seed: int, scenario: str, simulation: int) -> np.random.Generator:
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(scenario_key(scenario), simulation)))
    )


@dataclass(frozen=True)
class Layout:
    years: int

    @property
    def sizes(self) -> dict[str, tuple[int, ...]]:
        y = self.years
        return {
            "stock": (y + 1, NC),
            "flows": (y, len(FLOW_KINDS), NS),
            "clients": (y, NS),
            "cost": (y, NS),
            "clients_by_cell": (y, NC),
        }

    @property
    def length(self) -> int:
        return sum(int(np.prod(s)) for s in self.sizes.values())

    def split(self, values: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
        """[sims, length] -> name -> [sims, *shape]."""
        out, at = {}, 0
        for name, shape in self.sizes.items():
            n = int(np.prod(shape))
            out[name] = values[:, at : at + n].reshape(len(values), *shape)
            at += n
        return out


def mean_moves(fitted: Fitted) -> npt.NDArray[np.float64]:
    total = fitted.alpha.sum(axis=1, keepdims=True)
    mean: npt.NDArray[np.float64] = np.divide(
        fitted.alpha, total, out=np.zeros_like(fitted.alpha), where=total > 0
    )
    return mean


def _gamma_mean(shape: npt.NDArray[np.float64], rate: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    mean: npt.NDArray[np.float64] = np.divide(
        shape, rate, out=np.zeros_like(shape, dtype=float), where=rate > 0
    )
    return mean


def draw_parameters(
    rng: np.random.Generator, fitted: Fitted, uncertainty: bool
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(move probabilities [cell, destination], entry rates [band, sex, reason, setting], in-and-out
    rates [age group, setting]) for one simulation."""
    if not uncertainty:
        return (
            mean_moves(fitted),
            _gamma_mean(fitted.entry_shape, fitted.entry_rate),
            _gamma_mean(fitted.trans_shape, fitted.trans_rate),
        )
    g = rng.standard_gamma(fitted.alpha)
    total = g.sum(axis=1, keepdims=True)
    # Tiny alphas can underflow a whole row of gammas to 0: that row takes the Dirichlet's mean.
    p = np.where(total > 0, g / np.where(total > 0, total, 1.0), mean_moves(fitted))
    entry = np.divide(
        rng.standard_gamma(fitted.entry_shape),
        fitted.entry_rate,
        out=np.zeros(fitted.entry_shape.shape),
        where=fitted.entry_rate > 0,
    )
    trans = np.divide(
        rng.standard_gamma(fitted.trans_shape),
        fitted.trans_rate,
        out=np.zeros(fitted.trans_shape.shape),
        where=fitted.trans_rate > 0,
    )
    return p, entry, trans


def expected_entries(
    fitted: Fitted, rates: npt.NDArray[np.float64], scenario: Prepared, years: int
) -> npt.NDArray[np.float64]:
    """[year, cell] mean entries: rates x the year's population (the mid-year before its 31 March),
    with the scenario's multipliers and redirects."""
    pop = np.stack([fitted.population_at(fitted.last_year + y) for y in range(years)])  # [year, band, sex]
    lam = np.einsum("bxrs,ybx->ybrs", rates, pop) * scenario.entry_factor
    for on, where, frm, to, share in scenario.redirects:
        moved = lam[:, :, :, frm] * share * on[:, None, None] * where[None]
        lam[:, :, :, frm] -= moved
        lam[:, :, :, to] += moved
    lam_cells: npt.NDArray[np.float64] = lam.reshape(years, NC)
    return lam_cells


def year_moves(p: npt.NDArray[np.float64], scenario: Prepared, years: int) -> list[npt.NDArray[np.float64]]:
    """Move probabilities for each projected year (the scenario's multipliers renormalised)."""
    out = [p] * years
    if not scenario.move_factor:
        return out
    factor = np.ones((years, NC, ND))
    for on, f in scenario.move_factor:
        factor[on] *= f
    cache: dict[bytes, npt.NDArray[np.float64]] = {}
    for y in range(years):  # a handful of distinct year phases
        key = factor[y].tobytes()
        if key not in cache:
            cache[key] = renormalise(p, factor[y], STAY)
        out[y] = cache[key]
    return out


def step(
    rng: np.random.Generator,
    stock: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
    entries: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """One year: every occupied cell's people go to a destination (multinomial), then entrants
    arrive. Returns (occupied cells, their [cell, destination] counts, the next stock)."""
    nz = np.flatnonzero(stock)
    out = rng.multinomial(stock[nz].astype(np.int64), p[nz])
    dest = DEST[nz]
    landed = dest >= 0
    landing = np.asarray(np.bincount(dest[landed], weights=out[landed], minlength=NC), dtype=np.float64)
    return nz, out, landing + entries  # (asarray: numpy's stubs type a weighted bincount as integers)


def simulate_one(
    rng: np.random.Generator,
    fitted: Fitted,
    scenario: Prepared,
    years: int,
    uncertainty: bool = True,
    parameter_rng: np.random.Generator | None = None,
) -> npt.NDArray[np.float64]:
    """One simulation as a flat vector (see `Layout`); parameters from `parameter_rng` (default `rng`)."""
    p, entry_rates, trans_rates = draw_parameters(parameter_rng or rng, fitted, uncertainty)
    lam = expected_entries(fitted, entry_rates, scenario, years)
    entries = rng.poisson(lam)  # [year, cell]
    group_pop = np.stack(
        [
            np.bincount(BAND_GROUP, weights=fitted.population_at(fitted.last_year + y)[:, 2], minlength=2)
            for y in range(years)
        ]
    )
    transients = rng.poisson(trans_rates[None] * group_pop[:, :, None])  # [year, age group, setting]
    moves = year_moves(p, scenario, years)
    stock = np.zeros((years + 1, NC))
    stock[0] = fitted.start
    by_to = np.zeros((years, 2 * NS, ND))  # [year, (age group, from setting), destination]
    clients = np.zeros((years, NC))  # people in a setting at the start, entrants, movers in
    for y in range(years):  # the projected years
        nz, out, stock[y + 1] = step(rng, stock[y], moves[y], entries[y])
        by_to[y] = GROUP_SETTING[nz].T @ out
        moved = MOVED_IN[nz]
        clients[y] = stock[y] + entries[y] + np.bincount(DEST[nz][moved], weights=out[moved], minlength=NC)
    return np.concatenate(
        [
            stock.ravel(),
            *_flows_and_cost(fitted, scenario, stock, by_to, entries, transients),
            clients.ravel(),
        ]
    )


def _flows_and_cost(
    fitted: Fitted,
    scenario: Prepared,
    stock: npt.NDArray[np.float64],
    by_to: npt.NDArray[np.float64],
    entries: npt.NDArray[np.int64],
    transients: npt.NDArray[np.int64],
) -> list[npt.NDArray[np.float64]]:
    years = len(by_to)
    bt = by_to.reshape(years, 2, NS, 2, NS + 2).sum(axis=3)  # [year, group, from, to_state]
    to_setting = bt[..., :NS]
    eye = np.eye(NS, dtype=bool)
    stay = np.where(eye, to_setting, 0.0).sum(axis=3)  # [year, group, setting]
    movers = np.where(eye, 0.0, to_setting)  # [year, group, from, to]
    ended, died = bt[..., NS], bt[..., NS + 1]
    ent = (entries @ GROUP_SETTING).reshape(years, 2, NS)
    w = fitted.weeks
    weeks = (
        np.einsum("ygs,sk->ygk", stay, w["stayer"])
        + np.einsum("ygst,stk->ygk", movers, w["mover"])
        + np.einsum("ygs,sk->ygk", ent, w["entrant"])
        + np.einsum("ygs,sk->ygk", ended, w["leaver"])
        + np.einsum("ygs,sk->ygk", died, w["death"])
        + np.einsum("ygs,sk->ygk", transients, w["transient"])
    )  # [year, age group, setting of the weeks]
    flows = np.stack(
        [ent.sum(axis=1), movers.sum(axis=(1, 3)), ended.sum(axis=1), died.sum(axis=1)], axis=1
    )  # [year, kind, setting]
    start_by_setting = stock[:-1].reshape(years, NB * NR, NS).sum(axis=1)
    clients = start_by_setting + ent.sum(axis=1) + movers.sum(axis=(1, 2)) + transients.sum(axis=1)
    cost = (
        np.einsum("ygk,kg->yk", weeks, fitted.weekly_cost) + clients * fitted.one_off
    ) * scenario.cost_factor
    return [flows.ravel(), clients.ravel(), cost.ravel()]


def simulate(
    fitted: Fitted,
    scenario: Prepared,
    years: int,
    seed: int,
    simulations: Sequence[int],
    uncertainty: bool = True,
) -> npt.NDArray[np.float64]:
    """[simulation, Layout.length] for the given simulation indices."""
    out = np.zeros((len(simulations), Layout(years).length))
    for i, sim in enumerate(simulations):
        out[i] = simulate_one(
            simulation_rng(seed, scenario.name, int(sim)),
            fitted,
            scenario,
            years,
            uncertainty,
            simulation_rng(seed, PARAMETERS, int(sim)),
        )
    return out


def project(
    fitted: Fitted,
    scenarios: Sequence[dict[str, Any]] = (),
    *,
    years: int = 10,
    simulations: int = 1000,
    seed: int = 0,
    uncertainty: bool = True,
) -> dict[str, dict[str, npt.NDArray[np.float64]]]:
    """Baseline and scenarios without the platform: name -> output -> [simulation, ...] arrays
    (stock [year 0..Y, cell], flows [year, kind, setting], clients and cost [year, setting])."""
    from witan.models.asc.scenarios import BASELINE, prepare

    out = {}
    for sc in [None, *scenarios]:
        prep = prepare(sc, fitted.last_year + 1, years)
        values = simulate(fitted, prep, years, seed, range(simulations), uncertainty)
        out[BASELINE if sc is None else sc["name"]] = Layout(years).split(values)
    return out
