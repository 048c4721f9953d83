"""The children looked after model end to end: fit once, project each scenario, turn results into measures.

`plan` / `simulate_chunk` / `measures` / `charts` / `fitted_tables` are the platform's steps (the
definition's runner);
`project` runs everything in memory for the CLI-free use (tests, notebooks, the benchmark).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from witan.modelrun.definition import BASELINE, Measure, Planned
from witan.modelrun.errors import InputWarning, ModelInputError
from witan.modelrun.storage import RunStorage
from witan.models.cic import costs as ct
from witan.models.cic import montecarlo as mc
from witan.models.cic import projection as pj
from witan.models.cic import rates as rt
from witan.models.cic import scenarios as sc
from witan.models.cic import states as st
from witan.models.cic.cleaning import Episodes, clean, ymd
from witan.models.cic.inputs import Returns903, read_returns

if TYPE_CHECKING:
    from witan.modelrun.definition import InputFiles, MeasuresByScenario, Parameters, PlanDoc, Scenarios

S_ALL = st.N_STATES_ALL
GROUPS = (*st.PLACEMENTS, "all")  # in care by placement, and in total
COST_COLUMNS = (*st.COST_ITEMS, "total")


def parse_day(text: str, column: str) -> int:
    try:
        return int(np.datetime64(str(text), "D").astype(np.int64))
    except ValueError as exc:
        raise ModelInputError(
            "parameters", f"{text!r} is not a date (yyyy-mm-dd)", column=column, code="bad-date"
        ) from exc


def iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def add_months(day: int, months: int) -> int:
    """Same day of the month `months` later, clamped to the month's end (relativedelta's rule)."""
    d = np.datetime64(int(day), "D")
    month0 = d.astype("datetime64[M]")
    dom = int((d - month0.astype("datetime64[D]")).astype(np.int64)) + 1
    target = month0 + months
    length = int(((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64))
    return int(target.astype("datetime64[D]").astype(np.int64)) + min(dom, length) - 1


@dataclass
class Fitted:
    episodes: Episodes
    history: rt.History
    rates: rt.Rates
    ref_start: int
    ref_end: int
    start: int
    end: int

    @property
    def days(self) -> int:
        return self.end - self.start


def fit(returns: Returns903, parameters: dict[str, Any]) -> Fitted:
    """Clean, count and estimate over the reference period; check the projection dates."""
    ep = clean(returns, parameters.get("filters") or None)
    h = rt.history(ep)
    ref_start = (
        parse_day(parameters["reference_start"], "reference_start")
        if parameters.get("reference_start")
        else h.data_start
    )
    ref_end = (
        parse_day(parameters["reference_end"], "reference_end")
        if parameters.get("reference_end")
        else h.data_end
    )
    rates = rt.estimate(h, ep, ref_start, ref_end)
    start = parse_day(parameters["start"], "start") if parameters.get("start") else h.data_end
    rt.stock_on(h, start)
    end = parse_day(parameters["end"], "end") if parameters.get("end") else add_months(start, 24)
    if end <= start:
        raise ModelInputError(
            "parameters", f"end {iso(end)} is not after start {iso(start)}", column="end", code="bad-period"
        )
    return Fitted(ep, h, rates, ref_start, ref_end, start, end)


@dataclass
class Setup:
    """One scenario ready to project."""

    name: str
    rate: npt.NDArray[np.float64]  # per pair of fitted.rates.pairs
    entrants: npt.NDArray[np.float64]  # [S_ALL]
    system: pj.System
    start: npt.NDArray[np.float64]  # [n] children on the start day
    weekly: npt.NDArray[np.float64]  # [items]
    proportions: npt.NDArray[np.float64]  # [items]
    inflation: float


def setup(fitted: Fitted, parameters: dict[str, Any], scenario: dict[str, Any] | None) -> Setup:
    r = fitted.rates
    s = scenario or {}
    name = s.get("name", BASELINE)
    rate = sc.adjust_rates(r.pairs, r.rate, s.get("rates") or [], name)
    entrants = sc.adjust_entrants(r.entrants, s.get("entrants") or [], name)
    entrant_count = r.entrant_count
    system = pj.build_system(r.pairs, rate, r.count, entrants, entrant_count, r.period_days)
    start = rt.stock_on(fitted.history, fitted.start)[system.states]
    weekly = ct.weekly_costs(parameters.get("weekly_costs"), s.get("weekly_costs"))
    edits = {**(parameters.get("proportions") or {}), **(s.get("proportions") or {})}
    proportions = sc.normalise_proportions(r.proportions, edits)
    inflation = float(s.get("inflation", parameters.get("inflation", 0.0)))
    return Setup(name, rate, entrants, system, start, weekly, proportions, inflation)


def cost_weights(start: int, days: int, su: Setup) -> npt.NDArray[np.float64]:
    """[days, items + total, n] daily cost per child."""
    w = ct.cost_weights(su.system.states, start + 1, days, su.weekly, su.proportions, su.inflation)
    return np.concatenate([w, w.sum(axis=1, keepdims=True)], axis=1)


def group_of(states: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return (states % 5).astype(np.int64)


@dataclass
class Deterministic:
    mean: npt.NDArray[np.float64]  # [days, n]
    variance: npt.NDArray[np.float64]  # [days, n]
    group_mean: npt.NDArray[np.float64]  # [days, 5]
    group_variance: npt.NDArray[np.float64]  # [days, 5]
    cost: npt.NDArray[np.float64]  # [quarters, items + 1]
    cost_variance: npt.NDArray[np.float64]  # [quarters, items + 1]


def deterministic(
    start: int, days: int, su: Setup, uncertainty: str, rate_uncertainty: bool
) -> Deterministic:
    system = su.system
    mean = pj.expected(system, su.start, days)
    groups = group_of(system.states)
    one_hot = np.zeros((system.n, 5))
    one_hot[np.arange(system.n), groups] = 1.0
    one_hot[:, 4] = 1.0  # "all"
    group_mean = mean @ one_hot
    weights = cost_weights(start, days, su)
    labels, quarter = ct.quarters(start + 1, days)
    cost = ct.quarterly(mean, weights, quarter, len(labels))
    if uncertainty == "faithful":
        variance = pj.faithful_variance(system, su.start, mean)
        group_var = variance @ one_hot  # Social Finance sums the states' variances
        daily = np.einsum("tgs,ts->tg", weights**2, variance)
        cost_var = np.zeros((len(labels), weights.shape[1]))
        np.add.at(cost_var, quarter, daily)
    else:
        cov, sens = pj.exact_covariance(system, su.start, mean, rate_uncertainty)
        full = pj.total_covariance(cov, sens, system)
        variance = np.einsum("tii->ti", full)
        g = one_hot.T
        group_var = np.einsum("gi,tij,gj->tg", g, full, g, optimize=True)
        cost_var = pj.period_sum_variance(system, cov, sens, weights, quarter)
    return Deterministic(mean, variance, group_mean, group_var, cost, cost_var)


def simulated(
    start: int, days: int, su: Setup, seed: int, simulations: range, rate_uncertainty: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Monte Carlo paths [sims, days, n] and their quarterly costs [sims, quarters, items + 1]."""
    paths = np.stack(
        [
            mc.simulate(
                mc.simulation_rng(seed, su.name, i),
                su.system,
                su.start,
                days,
                rate_uncertainty,
                rate_rng=mc.rates_rng(seed, i),
            )
            for i in simulations
        ]
    )
    weights = cost_weights(start, days, su)
    labels, quarter = ct.quarters(start + 1, days)
    return paths, ct.quarterly(paths.astype(float), weights, quarter, len(labels))


# --- fixed tables ---------------------------------------------------------------------------------


def rates_table(fitted: Fitted, su: Setup) -> pa.Table:
    pairs = fitted.rates.pairs
    f, t = pairs // S_ALL, pairs % S_ALL
    return pa.table(
        {
            "from_age_band": [st.AGE_BANDS[i // 5] for i in f],
            "from_placement": [st.PLACEMENT_NAMES[i % 5] for i in f],
            "to_age_band": [st.AGE_BANDS[i // 5] for i in t],
            "to_placement": [st.PLACEMENT_NAMES[i % 5] for i in t],
            "daily_rate": su.rate,
        }
    )


def entrants_table(su: Setup) -> pa.Table:
    states = su.system.states
    return pa.table(
        {
            "age_band": [st.AGE_BANDS[i // 5] for i in states],
            "placement": [st.PLACEMENT_NAMES[i % 5] for i in states],
            "daily_rate": su.entrants[states],
        }
    )


def stock_table(fitted: Fitted) -> pa.Table:
    h = fitted.history
    first_year = int(np.datetime64(h.data_start, "D").astype("datetime64[Y]").astype(np.int64)) + 1970
    last_year = int(np.datetime64(h.data_end, "D").astype("datetime64[Y]").astype(np.int64)) + 1970
    days = [int(ymd(y, 3, 31)) for y in range(first_year, last_year + 1)]
    days = [d for d in days if h.data_start <= d <= h.data_end]
    states = np.flatnonzero(h.states_present & st.in_care(np.arange(S_ALL)))
    rows = [(d, s) for d in days for s in states]
    return pa.table(
        {
            "date": [iso(d) for d, _ in rows],
            "age_band": [st.AGE_BANDS[s // 5] for _, s in rows],
            "placement": [st.PLACEMENT_NAMES[s % 5] for _, s in rows],
            "children": np.array([h.stock[d - h.data_start, s] for d, s in rows], dtype=np.float64),
        }
    )


def proportions_table(fitted: Fitted, su: Setup) -> pa.Table:
    present = fitted.rates.items_present
    return pa.table(
        {
            "item": [i for i, p in zip(st.COST_ITEMS, present, strict=True) if p],
            "placement": [st.PLACEMENTS[st.ITEM_PLACEMENT[i]] for i in np.flatnonzero(present)],
            "proportion": su.proportions[present],
            "weekly_cost": su.weekly[present],
        }
    )


def cleaning_table(fitted: Fitted) -> pa.Table:
    report = fitted.episodes.report
    return pa.table(
        {"reason": [r for r, _ in report], "rows": np.array([n for _, n in report], dtype=np.float64)}
    )


FIXED_VALUES = {
    "rates": "daily_rate",
    "entrants": "daily_rate",
    "stock": "children",
    "proportions": "proportion",
    "cleaning": "rows",
}


def fixed_tables(fitted: Fitted, su: Setup) -> dict[str, pa.Table]:
    return {
        "rates": rates_table(fitted, su),
        "entrants": entrants_table(su),
        "stock": stock_table(fitted),
        "proportions": proportions_table(fitted, su),
        "cleaning": cleaning_table(fitted),
    }


# --- platform steps -------------------------------------------------------------------------------


def read_inputs(inputs: InputFiles) -> Returns903:
    def one(role: str) -> tuple[str, bytes] | None:
        files = inputs.get(role) or []
        if not files:
            return None
        return files[0].name, files[0].data

    episodes, header = one("episodes"), one("header")
    if episodes is None or header is None:
        missing = "episodes" if episodes is None else "header"
        raise ModelInputError(f"{missing}.csv", f"the {missing} table is missing", code="missing-table")
    return read_returns(episodes, header, one("uasc"))


def _npz(**arrays: npt.NDArray[np.generic]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)  # numbers only (np.load refuses pickles anyway)
    return buf.getvalue()


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def plan(
    files: InputFiles, parameters: Parameters, scenarios: Scenarios, store: RunStorage, simulations: int
) -> Planned:
    return plan_returns(read_inputs(files), parameters, scenarios, store)


def plan_returns(
    returns: Returns903, parameters: Parameters, scenarios: Scenarios, store: RunStorage
) -> Planned:
    fitted = fit(returns, parameters)
    labels, _ = ct.quarters(fitted.start + 1, fitted.days)
    setups = [setup(fitted, parameters, None)] + [setup(fitted, parameters, s) for s in scenarios]
    for su in setups:
        sy = su.system
        store.put_bytes(
            f"params/{su.name}.npz",
            _npz(
                states=sy.states,
                matrix=sy.matrix,
                exit_rate=sy.exit_rate,
                entrants=sy.entrants,
                param_from=sy.param_from,
                param_to=sy.param_to,
                param_rate=sy.param_rate,
                param_count=sy.param_count,
                entrant_count=sy.entrant_count,
                period_days=np.array(sy.period_days),
                start=su.start,
                weekly=su.weekly,
                proportions=su.proportions,
                inflation=np.array(su.inflation),
                rate=su.rate,
                all_entrants=su.entrants,
            ),
        )
        for name, table in fixed_tables(fitted, su).items():
            store.put_bytes(f"params/{su.name}/{name}.parquet", _parquet(table))
    h = fitted.history
    weekly_days = np.arange(0, h.days, 7)
    history_by_placement = np.stack(
        [h.stock[weekly_days][:, [b * 5 + p for b in range(5)]].sum(axis=1) for p in range(4)], axis=1
    )
    doc = {
        "uncertainty": parameters.get("uncertainty", "exact"),
        "rate_uncertainty": bool(parameters.get("rate_uncertainty", True)),
        "start": fitted.start,
        "end": fitted.end,
        "days": fitted.days,
        "quarters": labels,
        "data_start": h.data_start,
        "data_end": h.data_end,
        "reference": [fitted.ref_start, fitted.ref_end],
        "cleaning": fitted.episodes.report,
        "history": {
            "days": (h.data_start + weekly_days).tolist(),
            "by_placement": {p: history_by_placement[:, i].tolist() for i, p in enumerate(st.PLACEMENTS)},
        },
    }
    meta = {
        "data_period": [iso(h.data_start), iso(h.data_end)],
        "reference_period": [iso(fitted.ref_start), iso(fitted.ref_end)],
        "projection": [iso(fitted.start + 1), iso(fitted.end)],
        "uncertainty": doc["uncertainty"],
        "steps": max(1, -(-fitted.days // 365)),
        "step_unit": "years",
        "cleaning": [{"reason": r, "rows": n} for r, n in fitted.episodes.report],
    }
    warnings = [
        InputWarning("episodes-dropped", returns.episodes.name, f"{n} episode row(s) {reason}")
        for reason, n in fitted.episodes.report
        if n and reason.startswith("dropped")
    ]
    return Planned(plan=doc, input_hashes={}, warnings=warnings, meta=meta)


class _Stored:
    """A setup rebuilt from params/{scenario}.npz (what a chunk needs)."""

    def __init__(self, store: RunStorage, scenario: str) -> None:
        z = np.load(io.BytesIO(store.get_bytes(f"params/{scenario}.npz")))
        self.system = pj.System(
            z["states"],
            z["matrix"],
            z["exit_rate"],
            z["entrants"],
            z["param_from"],
            z["param_to"],
            z["param_rate"],
            z["param_count"],
            z["entrant_count"],
            int(z["period_days"]),
        )
        self.setup = Setup(
            scenario,
            z["rate"],
            z["all_entrants"],
            self.system,
            z["start"],
            z["weekly"],
            z["proportions"],
            float(z["inflation"]),
        )


def simulate_chunk(
    store: RunStorage, plan_doc: dict[str, Any], scenario: str, simulations: range, seed: int
) -> pa.Table:
    su = _Stored(store, scenario).setup
    start, days = int(plan_doc["start"]), int(plan_doc["days"])
    mode = plan_doc["uncertainty"]
    if mode != "monte-carlo":
        # Deterministic: the one "simulation" 0 carries the values and their variance.
        if 0 not in simulations:
            return DETERMINISTIC_SCHEMA.empty_table()
        d = deterministic(start, days, su, mode, bool(plan_doc["rate_uncertainty"]))
        arrays = {
            "population": d.mean,
            "population_variance": d.variance,
            "in_care": d.group_mean,
            "in_care_variance": d.group_variance,
            "costs": d.cost,
            "costs_variance": d.cost_variance,
        }
        columns = {k: pa.array([v.ravel()], pa.list_(pa.float64())) for k, v in arrays.items()}
        return pa.table({"simulation": pa.array([0], pa.int32()), **columns}, schema=DETERMINISTIC_SCHEMA)
    paths, cost = simulated(start, days, su, seed, simulations, bool(plan_doc["rate_uncertainty"]))
    one_hot = np.zeros((su.system.n, 5))
    one_hot[np.arange(su.system.n), group_of(su.system.states)] = 1.0
    one_hot[:, 4] = 1.0
    in_care = paths @ one_hot
    n = len(simulations)
    return pa.table(
        {
            "simulation": pa.array(list(simulations), pa.int32()),
            "population": pa.FixedSizeListArray.from_arrays(
                pa.array(paths.reshape(-1).astype(np.int32)), paths[0].size
            ),
            "in_care": pa.FixedSizeListArray.from_arrays(
                pa.array(in_care.reshape(-1).astype(np.int32)), in_care[0].size
            ),
            "costs": pa.FixedSizeListArray.from_arrays(pa.array(cost.reshape(-1)), cost[0].size if n else 0),
        }
    )


DETERMINISTIC_SCHEMA = pa.schema(
    [("simulation", pa.int32())]
    + [
        (c, pa.list_(pa.float64()))
        for c in (
            "population",
            "population_variance",
            "in_care",
            "in_care_variance",
            "costs",
            "costs_variance",
        )
    ]
)


def _values(results: pa.Table, column: str) -> npt.NDArray[np.float64]:
    col = results[column].combine_chunks()
    flat = pc_flatten(col)
    return flat.reshape(len(col), -1)


def pc_flatten(col: pa.Array) -> npt.NDArray[np.float64]:
    return np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)


def measures(
    store: RunStorage, plan_doc: dict[str, Any], scenario: str, results: pa.Table
) -> dict[str, Measure]:
    states = np.load(io.BytesIO(store.get_bytes(f"params/{scenario}.npz")))["states"]
    days = int(plan_doc["days"])
    dates = [iso(int(plan_doc["start"]) + 1 + t) for t in range(days)]
    results = results.sort_by("simulation")
    deterministic_mode = plan_doc["uncertainty"] != "monte-carlo"
    z = 2.0 if plan_doc["uncertainty"] == "faithful" else 1.96
    n = len(states)
    out: dict[str, Measure] = {}

    def var(column: str) -> npt.NDArray[np.float64] | None:
        return _values(results, column)[0] if deterministic_mode else None

    out["population"] = Measure(
        keys={
            "date": np.repeat(dates, n),
            "age_band": np.tile([st.AGE_BANDS[s // 5] for s in states], days),
            "placement": np.tile([st.PLACEMENT_NAMES[s % 5] for s in states], days),
        },
        values=_values(results, "population"),
        variance=var("population_variance"),
        interval_z=z,
        workbook=False,
        decimals=6,
    )
    out["in_care"] = Measure(
        keys={"date": np.repeat(dates, len(GROUPS)), "placement": np.tile(GROUPS, days)},
        values=_values(results, "in_care"),
        variance=var("in_care_variance"),
        interval_z=z,
        compare=True,
        workbook=False,
        decimals=6,
    )
    # the headline: in care on each anniversary of the start and on the last day, by placement
    starts = int(plan_doc["start"])
    marks = sorted({add_months(starts, 12 * k) for k in range(1, days // 365 + 1)} | {starts + days})
    marks = [m for m in marks if starts < m <= starts + days]
    rows = np.concatenate([(m - starts - 1) * len(GROUPS) + np.arange(len(GROUPS)) for m in marks])
    summary_var = None if out["in_care"].variance is None else out["in_care"].variance[rows]
    out["in_care_summary"] = Measure(
        keys={
            "date": np.repeat([iso(m) for m in marks], len(GROUPS)),
            "placement": np.tile(GROUPS, len(marks)),
        },
        values=out["in_care"].values[:, rows],
        variance=summary_var,
        interval_z=z,
        decimals=1,
    )
    labels = plan_doc["quarters"]
    out["costs"] = Measure(
        keys={"quarter": np.repeat(labels, len(COST_COLUMNS)), "item": np.tile(COST_COLUMNS, len(labels))},
        values=_values(results, "costs"),
        value_name="cost",
        variance=var("costs_variance"),
        interval_z=z,
        compare=True,
        decimals=2,
    )
    for name, value in FIXED_VALUES.items():
        table = pq.read_table(io.BytesIO(store.get_bytes(f"params/{scenario}/{name}.parquet")))
        keys = {c: np.asarray(table[c].to_pylist()) for c in table.column_names if c != value}
        out[name] = Measure(
            keys=keys,
            values=np.asarray(table[value].to_numpy(), dtype=np.float64)[None, :],
            value_name=value,
            fixed=True,  # fitted from the history: the same in every simulation
        )
    return out


def charts(plan_doc: PlanDoc, by_scenario: MeasuresByScenario) -> dict[str, bytes]:
    from witan.models.cic import charts as drawn  # matplotlib: only where charts are drawn

    return drawn.charts(plan_doc, by_scenario)


def fitted_tables(files: InputFiles, parameters: Parameters) -> dict[str, pa.Table]:
    fitted = fit(read_inputs(files), parameters)
    return fixed_tables(fitted, setup(fitted, parameters, None))


def project_measures(
    returns: Returns903,
    parameters: dict[str, Any] | None = None,
    scenarios: list[dict[str, Any]] | None = None,
    *,
    simulations: int = 200,
    seed: int = 0,
) -> dict[str, dict[str, Measure]]:
    """Everything in memory, no platform: scenario name -> measure name -> Measure."""
    params = {"uncertainty": "exact", "rate_uncertainty": True, **(parameters or {})}
    scenarios = scenarios or []
    sc.validate(scenarios)
    store = MemoryStore()
    planned = plan_returns(returns, params, scenarios, store)
    sims = range(simulations if params["uncertainty"] == "monte-carlo" else 1)
    out: dict[str, dict[str, Measure]] = {}
    for name in [BASELINE, *(s["name"] for s in scenarios)]:
        results = simulate_chunk(store, planned.plan, name, sims, seed)
        out[name] = measures(store, planned.plan, name, results)
    return out


def project(
    returns: Returns903,
    parameters: dict[str, Any] | None = None,
    scenarios: list[dict[str, Any]] | None = None,
    *,
    simulations: int = 200,
    seed: int = 0,
) -> dict[str, dict[str, pa.Table]]:
    """Everything in memory, no platform: scenario name -> output name -> table (fixed tables as
    values, the projections as mean, variance and interval or as statistics across simulations)."""
    from witan.modelrun.summaries import measure_table

    out = project_measures(returns, parameters, scenarios, simulations=simulations, seed=seed)
    return {
        name: {k: measure_table(m, stochastic=k not in FIXED_VALUES) for k, m in ms.items()}
        for name, ms in out.items()
    }


class MemoryStore:
    """A RunStorage in memory (for `project`)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.data[key] = data

    def get_bytes(self, key: str) -> bytes:
        return self.data[key]

    def exists(self, key: str) -> bool:
        return key in self.data

    def location(self, key: str) -> str:
        return f"memory://{key}"
