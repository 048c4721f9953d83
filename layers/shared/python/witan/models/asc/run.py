"""The adult social care model on the platform: plan (read CLD, derive states and flows, fit once),
simulate a chunk, measures, charts and the fitted tables (the definition's runner).

Stored by plan (keys relative to the run): params/asc/fitted.npz (the fitted parameters).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from witan.modelrun.definition import Measure, Planned
from witan.modelrun.errors import InputWarning, ModelInputError
from witan.modelrun.storage import RunStorage
from witan.models.asc import fit as fit_module
from witan.models.asc.fit import NC, Derived, Fitted, derive, fit
from witan.models.asc.inputs import read_cld, read_population, read_unit_costs
from witan.models.asc.scenario_schema import check_scenarios
from witan.models.asc.scenarios import prepare
from witan.models.asc.simulate import FLOW_KINDS, Layout, simulate
from witan.models.asc.vocabulary import AGE_BANDS, REASONS, SETTINGS

if TYPE_CHECKING:
    from witan.modelrun.definition import (
        InputFiles,
        MeasuresByScenario,
        Numbers,
        Parameters,
        PlanDoc,
        Scenarios,
    )

FITTED_KEY = "params/asc/fitted.npz"


def read_and_derive(inputs: InputFiles) -> tuple[Derived, dict[tuple[int, int], float] | None]:
    cld = read_cld(list(inputs.get("cld") or []))
    pop_files = list(inputs.get("population") or [])
    if not pop_files:
        raise ModelInputError("population.csv", "not given", code="missing-file")
    population = read_population(pop_files[0])
    cost_files = list(inputs.get("unit_costs") or [])
    unit_costs = read_unit_costs(cost_files[0]) if cost_files else None
    return derive(cld, population), unit_costs


def _grid(keys: dict[str, Sequence[Any]]) -> dict[str, npt.NDArray[np.object_]]:
    grids = np.meshgrid(*[np.asarray(k, dtype=object) for k in keys.values()], indexing="ij")
    return {name: g.ravel() for name, g in zip(keys, grids, strict=True)}


def measures_of(parts: dict[str, npt.NDArray[np.float64]], last_year: int) -> dict[str, Measure]:
    """Measures from one scenario's simulations (Layout.split of its results)."""
    stock = parts["stock"]
    n, y1 = stock.shape[0], stock.shape[1]
    years_stock = [last_year + i for i in range(y1)]
    years = years_stock[1:]
    by_setting = stock.reshape(n, y1, NC // len(SETTINGS), len(SETTINGS)).sum(axis=2)

    def with_total(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.concatenate([a, a.sum(axis=-1, keepdims=True)], axis=-1)

    settings_all = [*SETTINGS, "all"]
    return {
        "stock": Measure(
            keys=_grid({"year": years_stock, "age_band": AGE_BANDS, "reason": REASONS, "setting": SETTINGS}),
            values=stock.reshape(n, -1),
            drop_all_zero=True,
            workbook=False,
            decimals=3,
        ),
        "stock_by_setting": Measure(
            keys=_grid({"year": years_stock, "setting": settings_all}),
            values=with_total(by_setting).reshape(n, -1),
            compare=True,
            chart=True,
            decimals=3,
        ),
        "flows": Measure(
            keys=_grid({"year": years, "flow": FLOW_KINDS, "setting": SETTINGS}),
            values=parts["flows"].reshape(n, -1),
            decimals=3,
        ),
        "clients": Measure(
            keys=_grid({"year": years, "setting": settings_all}),
            values=with_total(parts["clients"]).reshape(n, -1),
            decimals=3,
        ),
        "clients_by_cell": Measure(
            keys=_grid({"year": years, "age_band": AGE_BANDS, "reason": REASONS, "setting": SETTINGS}),
            values=parts["clients_by_cell"].reshape(n, -1),
            drop_all_zero=True,
            workbook=False,
            decimals=3,
        ),
        "cost": Measure(
            keys=_grid({"year": years, "setting": settings_all}),
            values=with_total(parts["cost"]).reshape(n, -1),
            compare=True,
            chart=True,
            decimals=0,
        ),
    }


def _setting_fans(years: list[int], values: Numbers, labels: Sequence[str], title: str, unit: str) -> bytes:
    """values [simulation, year, setting]: a fan (95% and 50% of simulations, median) per setting."""
    import matplotlib.pyplot as plt  # where charts are drawn: chunks need none of it

    import witan.modelrun.charts  # noqa: F401  (Agg backend and a writable config folder first)

    fig, axes = plt.subplots(1, len(labels), figsize=(3.2 * len(labels), 2.8), squeeze=False)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.82, wspace=0.35)
    for i, ax in enumerate(axes.ravel()):
        p = np.percentile(values[:, :, i], [2.5, 25, 50, 75, 97.5], axis=0)
        ax.fill_between(years, p[0], p[4], color="tab:blue", alpha=0.2, linewidth=0)
        ax.fill_between(years, p[1], p[3], color="tab:blue", alpha=0.4, linewidth=0)
        ax.plot(years, p[2], color="tab:blue", linewidth=1.5)
        ax.set_title(labels[i], fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.set_xticks([years[0], years[-1]])
    fig.suptitle(f"{title} ({unit}; 31 March years)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _against_baseline(by_scenario: Mapping[str, Mapping[str, Measure]], measure: str, unit: str) -> bytes:
    """Every scenario's total (median and 95% of simulations) beside the baseline's."""
    import matplotlib.pyplot as plt  # where charts are drawn: chunks need none of it

    import witan.modelrun.charts  # noqa: F401  (Agg backend and a writable config folder first)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, ms in by_scenario.items():
        m = ms[measure]
        total = np.asarray(m.keys["setting"]) == "all"
        years = np.asarray(m.keys["year"])[total].astype(int)
        p = np.percentile(m.values[:, total], [2.5, 50, 97.5], axis=0)
        (line,) = ax.plot(years, p[1], linewidth=1.5, label=name)
        ax.fill_between(years, p[0], p[2], color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_title(f"total {measure}: scenarios against the baseline (median, 95% of simulations)")
    ax.set_ylabel(unit)
    ax.legend(fontsize="small")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def fit_inputs(inputs: InputFiles, parameters: Parameters) -> tuple[Derived, Fitted]:
    derived, unit_costs = read_and_derive(inputs)
    fitted = fit(
        derived.states,
        derived.flows,
        derived.population,
        float(parameters.get("prior_concentration", 1.0)),
        unit_costs,
    )
    return derived, fitted


def plan(
    inputs: InputFiles, parameters: Parameters, scenarios: Scenarios, store: RunStorage, simulations: int
) -> Planned:
    check_scenarios(scenarios, "scenarios")
    derived, fitted = fit_inputs(inputs, parameters)
    years = int(parameters.get("years", 10))
    first, last = fitted.last_year + 1, fitted.last_year + years
    for sc in scenarios:
        for part in ("entry_multipliers", "entry_redirects", "move_multipliers", "cost_uplifts"):
            for i, item in enumerate(sc.get(part) or []):
                if item.get("from_year", first) > last:
                    raise ModelInputError(
                        "scenarios",
                        f"scenario {sc['name']}: {part}[{i}] starts in {item['from_year']}, after the "
                        f"projection ({first} to {last}): it would change nothing",
                        column="from_year",
                        code="scenario-outside-projection",
                    )
    store.put_bytes(FITTED_KEY, fitted.to_bytes())
    pop_last = derived.population.first_year + len(derived.population.values) - 1
    warnings = [*derived.cld.warnings, *fitted.warnings]
    if pop_last < last - 1:
        warnings.append(
            InputWarning(
                "population-held",
                derived.population.file,
                f"population ends in {pop_last}: later projected years use {pop_last}'s",
            )
        )
    plan = {
        "last_year": fitted.last_year,
        "years": years,
        "simulations": simulations,
        "parameter_uncertainty": bool(parameters.get("parameter_uncertainty", True)),
        "scenarios": {sc["name"]: sc for sc in scenarios},
        "snapshots": derived.states.years,
    }
    meta = {
        "snapshots": [f"{y}-03-31" for y in derived.states.years],
        "people": len(derived.states.people.ids),
        "years": list(range(first, last + 1)),
        "steps": years + 1,
        "step_unit": "years to 31 March",
        "summary": f"{years} year(s) projected after 31 March {fitted.last_year}",
    }
    # Inputs are hashed by the platform (witan.modelrun.inputs.hashes), by file name and by role.
    return Planned(plan=plan, input_hashes={}, warnings=warnings, meta=meta)


def simulate_chunk(
    store: RunStorage, plan: PlanDoc, scenario: str, simulations: range, seed: int
) -> pa.Table:
    fitted = Fitted.from_bytes(store.get_bytes(FITTED_KEY))
    years = int(plan["years"])
    prepared = prepare(plan["scenarios"].get(scenario), fitted.last_year + 1, years)
    prepared.name = scenario
    values = simulate(fitted, prepared, years, seed, simulations, bool(plan["parameter_uncertainty"]))
    flat = pa.array(values.ravel(), pa.float64())
    return pa.table(
        {
            "simulation": pa.array(list(simulations), pa.int32()),
            "values": pa.FixedSizeListArray.from_arrays(flat, Layout(years).length),
        }
    )


def measures(store: RunStorage, plan: PlanDoc, scenario: str, results: pa.Table) -> dict[str, Measure]:
    layout = Layout(int(plan["years"]))
    order = np.argsort(results["simulation"].to_numpy())
    values = results["values"].combine_chunks().flatten().to_numpy().reshape(-1, layout.length)[order]
    return measures_of(layout.split(values), int(plan["last_year"]))


def charts(plan: PlanDoc, measures: MeasuresByScenario) -> dict[str, bytes]:
    out = {}
    for name, ms in measures.items():
        for measure, unit, title in (
            ("stock_by_setting", "people", "people in long-term support on 31 March"),
            ("cost", "pounds a year", "gross cost of long-term support"),
        ):
            m = ms[measure]
            settings = np.asarray(m.keys["setting"])
            years = sorted({int(y) for y in m.keys["year"]})
            keep = settings != "all"
            values = m.values[:, keep].reshape(len(m.values), len(years), len(SETTINGS))
            out[f"{name}/{measure}.png"] = _setting_fans(years, values, SETTINGS, f"{name}: {title}", unit)
    if len(measures) > 1:
        out["scenarios/cost.png"] = _against_baseline(measures, "cost", "pounds a year")
        out["scenarios/stock_by_setting.png"] = _against_baseline(measures, "stock_by_setting", "people")
    return out


def fitted_tables(inputs: InputFiles, parameters: Parameters) -> dict[str, pa.Table]:
    derived, unit_costs = read_and_derive(inputs)
    return fit_module.fitted_tables(derived, unit_costs)
