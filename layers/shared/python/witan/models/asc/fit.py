"""Fitted parameters: Dirichlet moves with pooled priors, Gamma entry rates, weeks of care, weekly costs.

Cells are (age band, reason, setting), 7 x 7 x 4 = 196, index (band * 7 + reason) * 4 + setting.
A cell's people go to one of 12 destinations: (aged into the next band or not) x (4 settings, ended,
died). Moves out of a cell ~ Dirichlet(prior + counts); the prior is the pooled proportions of the
to-states over all bands of that reason and setting (shrunk toward the setting's, then uniform), split
by each band's observed share ageing into the next band, times `concentration` (so it weighs as that
many people; each pooled level is shrunk toward the next by one person's weight, so no destination is
impossible). Entry rates ~ Gamma(a0 + entries, b0 + population-years) with a0 = concentration x the
cell's share of its sex's entries pooled over bands and b0 = a0 / the pooled rate over bands.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from witan.modelrun.errors import InputWarning
from witan.models.asc.costs import one_off_per_client, weekly_costs
from witan.models.asc.flows import KINDS, NB, NR, NS, NX, Flows, derive_flows
from witan.models.asc.inputs import (
    AGE_BANDS,
    AGE_GROUPS,
    BAND_GROUP,
    BAND_WIDTH,
    REASONS,
    SETTINGS,
    SEXES,
    STATES,
    Cld,
    Population,
)
from witan.models.asc.states import States, derive_states

NC = NB * NR * NS
ND = 2 * (NS + 2)  # destinations: aged (0/1) x to_state


def cell_index(
    band: npt.NDArray[np.int64], reason: npt.NDArray[np.int64], setting: npt.NDArray[np.int64] | int
) -> npt.NDArray[np.int64]:
    cell: npt.NDArray[np.int64] = (band * NR + reason) * NS + setting
    return cell


def destination_cells() -> npt.NDArray[np.int64]:
    """[cell, destination] -> the cell a person lands in, -1 for ended or died (or beyond 95+)."""
    c = np.arange(NC)
    band, reason = c // (NR * NS), (c // NS) % NR
    out = np.full((NC, ND), -1, dtype=np.int64)
    for aged in (0, 1):
        for s in range(NS):
            b2 = band + aged
            out[:, aged * (NS + 2) + s] = np.where(b2 < NB, cell_index(np.minimum(b2, NB - 1), reason, s), -1)
    return out


@dataclass
class Fitted:
    last_year: int  # the year of the last snapshot (31 March)
    start: npt.NDArray[np.int64]  # [cell] people in each cell on the last snapshot
    alpha: npt.NDArray[np.float64]  # [cell, destination] posterior Dirichlet parameters
    entry_shape: npt.NDArray[np.float64]  # [band, sex, reason, setting] Gamma shape
    entry_rate: npt.NDArray[np.float64]  # [band, sex, reason, setting] Gamma rate (person-years)
    trans_shape: npt.NDArray[np.float64]  # [age group, setting]: in and out within a year
    trans_rate: npt.NDArray[np.float64]
    weeks: dict[str, npt.NDArray[np.float64]]  # kind -> mean weeks of care (see flows.Flows.weeks)
    weekly_cost: npt.NDArray[np.float64]  # [setting, age group]
    one_off: npt.NDArray[np.float64]  # [setting] one-off costs a year per client
    population: npt.NDArray[np.float64]  # [year, band, sex F/M/U] from population_first_year
    population_first_year: int
    warnings: list[InputWarning] = field(default_factory=list)

    def population_at(self, year: int) -> npt.NDArray[np.float64]:
        i = min(max(year - self.population_first_year, 0), len(self.population) - 1)
        at: npt.NDArray[np.float64] = self.population[i]
        return at

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        arrays = {k: v for k, v in self.__dict__.items() if isinstance(v, np.ndarray)}
        arrays.update({f"weeks_{k}": v for k, v in self.weeks.items()})
        years = {"last_year": self.last_year, "population_first_year": self.population_first_year}
        np.savez(buf, allow_pickle=False, **arrays, **years)  # numbers only (np.load refuses pickles)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fitted:
        z = np.load(io.BytesIO(data))
        arrays = {k: z[k] for k in z.files if not k.startswith("weeks_")}
        return cls(
            last_year=int(arrays.pop("last_year")),
            population_first_year=int(arrays.pop("population_first_year")),
            weeks={k[6:]: z[k] for k in z.files if k.startswith("weeks_")},
            **arrays,
        )


def population_by_sex(population: Population) -> npt.NDArray[np.float64]:
    """[year, band, F/M/U]: U (sex not known) uses both sexes together."""
    v = population.values
    return np.concatenate([v, v.sum(axis=2, keepdims=True)], axis=2)


def move_prior(counts: npt.NDArray[np.int64], concentration: float) -> npt.NDArray[np.float64]:
    """[band, reason, setting, aged, to_state] prior alphas from counts of the same shape."""
    by_state = counts.sum(axis=(0, 3))  # [reason, setting, to_state]
    by_setting = by_state.sum(axis=0)  # [setting, to_state]
    # Each level is shrunk toward the next by one person's weight (setting toward uniform, reason and
    # setting toward the setting): a destination seen anywhere for the setting is never impossible.
    q_setting = (by_setting + 1.0 / (NS + 2)) / (by_setting.sum(axis=1, keepdims=True) + 1.0)
    q = (by_state + q_setting[None]) / (by_state.sum(axis=2, keepdims=True) + 1.0)
    by_band = counts.sum(axis=(1, 2, 4))  # [band, aged]
    nominal = np.where(np.arange(NB) < NB - 1, 1.0 / BAND_WIDTH, 0.0)
    share_aged = (by_band[:, 1] + nominal) / (by_band.sum(axis=1) + 1.0)
    share_aged[-1] = 0.0  # nobody ages out of 95+
    split = np.stack([1 - share_aged, share_aged], axis=1)  # [band, aged]
    prior: npt.NDArray[np.float64] = concentration * split[:, None, None, :, None] * q[None, :, :, None, :]
    return prior


def fit(
    states: States,
    flows: Flows,
    population: Population,
    concentration: float = 1.0,
    unit_costs: dict[tuple[int, int], float] | None = None,
) -> Fitted:
    counts = flows.moves.sum(axis=0)  # [band, reason, setting, aged, to_state]
    alpha = (move_prior(counts, concentration) + counts).reshape(NC, ND)
    pop = population_by_sex(population)
    years = flows.years
    py = np.array([pop[min(max(y - 1 - population.first_year, 0), len(pop) - 1)] for y in years])
    py = py.reshape(len(years), NB, NX) if len(years) else np.zeros((0, NB, NX))
    entries = flows.entries.sum(axis=0)  # [band, sex, reason, setting]
    exposure = py.sum(axis=0)  # [band, sex]
    pooled_e = entries.sum(axis=0)  # [sex, reason, setting]
    pooled_n = exposure.sum(axis=0)  # [sex]
    share = pooled_e / np.maximum(pooled_e.sum(axis=(1, 2), keepdims=True), 1e-300)
    rho = pooled_e / np.maximum(pooled_n[:, None, None], 1e-300)
    a0 = concentration * share
    b0 = np.where(rho > 0, a0 / np.maximum(rho, 1e-300), 0.0)
    entry_shape = a0[None] + entries
    entry_rate = b0[None] + exposure[:, :, None, None]
    trans = flows.transients.sum(axis=0)  # [age group, setting]
    group_pop = np.zeros((len(years), 2))
    for g in range(2):
        group_pop[:, g] = py[:, g == BAND_GROUP, 2].sum(axis=1) if len(years) else 0
    trans_rate = np.repeat(group_pop.sum(axis=0)[:, None], NS, axis=1)
    cost, _, warnings = weekly_costs(states, unit_costs)
    outside = sorted({y - 1 for y in years} - set(population.years))
    if outside:
        warnings.append(
            InputWarning(
                "population-years",
                population.file,
                f"no population for {', '.join(map(str, outside))} (the mid-years of the fitted years): "
                "the nearest year's population is used for their entry rates",
            )
        )
    last = states.state[:, -1]
    in_setting = last >= 0
    start = np.bincount(
        cell_index(states.band[in_setting, -1], states.reason[in_setting, -1], last[in_setting]), minlength=NC
    ).astype(np.int64)
    return Fitted(
        last_year=states.years[-1],
        start=start,
        alpha=alpha,
        entry_shape=entry_shape,
        entry_rate=entry_rate,
        trans_shape=trans,
        trans_rate=trans_rate,
        weeks=flows.weeks(),
        weekly_cost=cost,
        one_off=one_off_per_client(states),
        population=pop,
        population_first_year=population.first_year,
        warnings=warnings,
    )


@dataclass
class Derived:
    """Everything the CLD gives, before parameters: states, flows and the inputs' report."""

    cld: Cld
    states: States
    flows: Flows
    population: Population


def derive(cld: Cld, population: Population) -> Derived:
    states = derive_states(cld)
    return Derived(cld, states, derive_flows(states), population)


def until(states: States, last_year: int) -> States:
    """The states with snapshots up to `last_year` only (back-tests fit on these)."""
    k = states.years.index(last_year) + 1
    return States(
        states.years[:k],
        states.days[:k],
        states.people,
        states.state[:, :k],
        states.band[:, :k],
        states.reason[:, :k],
        states.rows,
        states.pid,
    )


# --- tables -----------------------------------------------------------------------------------------


def fitted_tables(
    derived: Derived, unit_costs: dict[tuple[int, int], float] | None = None
) -> dict[str, pa.Table]:
    """snapshots, moves, entries, weekly_costs and excluded (the `witan model params asc` tables)."""
    st = derived.states
    snaps = []
    for i, snapshot_year in enumerate(st.years):
        m = st.state[:, i] >= 0
        c = np.bincount(cell_index(st.band[m, i], st.reason[m, i], st.state[m, i]), minlength=NC)
        nz = np.flatnonzero(c)
        snaps.append((np.full(len(nz), snapshot_year), nz, c[nz]))
    snapshot_years = np.concatenate([s[0] for s in snaps])
    cell = np.concatenate([s[1] for s in snaps])
    snapshots = pa.table(
        {
            "snapshot": pa.array([f"{y}-03-31" for y in snapshot_years], pa.string()),
            "age_band": np.array(AGE_BANDS)[cell // (NR * NS)],
            "reason": np.array(REASONS)[(cell // NS) % NR],
            "setting": np.array(SETTINGS)[cell % NS],
            "clients": pa.array(np.concatenate([s[2] for s in snaps]), pa.int64()),
        }
    )
    fl = derived.flows
    t, b, r, s, aged, to = np.nonzero(fl.moves)
    years = np.array(fl.years, dtype=np.int64)
    moves = pa.table(
        {
            "year": pa.array(years[t], pa.int64()),
            "from_age_band": np.array(AGE_BANDS)[b],
            "reason": np.array(REASONS)[r],
            "from_setting": np.array(SETTINGS)[s],
            "to_age_band": np.array(AGE_BANDS)[np.minimum(b + aged, NB - 1)],
            "to_state": np.array(STATES)[to],
            "people": pa.array(fl.moves[t, b, r, s, aged, to].astype(np.int64), pa.int64()),
        }
    )
    pop = population_by_sex(derived.population)
    pf = derived.population.first_year
    t, b, x, r, s = np.nonzero(fl.entries)
    n = fl.entries[t, b, x, r, s]
    p = pop[np.clip(years[t] - 1 - pf, 0, len(pop) - 1), b, x]
    entries = pa.table(
        {
            "year": pa.array(years[t], pa.int64()),
            "age_band": np.array(AGE_BANDS)[b],
            "sex": np.array(SEXES)[x],
            "reason": np.array(REASONS)[r],
            "setting": np.array(SETTINGS)[s],
            "entries": pa.array(n.astype(np.int64), pa.int64()),
            "population": pa.array(np.round(p).astype(np.int64), pa.int64()),
            "rate_per_1000": np.round(np.where(p > 0, 1000 * n / np.maximum(p, 1e-300), np.nan), 4),
        }
    )
    cost, count, _ = weekly_costs(st, unit_costs)
    setting, group = np.meshgrid(np.arange(NS), np.arange(len(AGE_GROUPS)), indexing="ij")
    weekly = pa.table(
        {
            "setting": np.array(SETTINGS)[setting.ravel()],
            "age_group": np.array(AGE_GROUPS)[group.ravel()],
            "weekly_cost": np.round(cost.ravel(), 2),
            "services": pa.array(count.ravel(), pa.int64()),
        }
    )
    weeks = fl.weeks()
    rows = []
    for kind in KINDS:  # weeks of care per person of each flow (six kinds)
        w = weeks[kind]
        idx = np.argwhere(w > 0)
        for ix in idx:
            prim = SETTINGS[ix[0]] + (f"->{SETTINGS[ix[1]]}" if kind == "mover" else "")
            rows.append((kind, prim, SETTINGS[ix[-1]], round(float(w[tuple(ix)]), 3)))
    weeks_table = pa.table(
        {
            "flow": [r[0] for r in rows],
            "setting": [r[1] for r in rows],
            "weeks_in": [r[2] for r in rows],
            "mean_weeks": pa.array([r[3] for r in rows], pa.float64()),
        }
    )
    return {
        "snapshots": snapshots,
        "moves": moves,
        "entries": entries,
        "weekly_costs": weekly,
        "weeks_of_care": weeks_table,
        "excluded": derived.cld.excluded.table(),
    }
