"""Adult social care model (long-term support demand and cost from CLD), registered with the platform.

Method: docs/models/asc.md. A thin adapter over witan.models.asc's pure functions; imports nothing
heavy at module level.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from witan.modelrun.definition import (
    ChainAdapter,
    InputFile,
    InputFiles,
    InputRole,
    Measure,
    OutputTable,
    Planned,
)
from witan.modelrun.errors import ModelInputError
from witan.models.asc.scenario_schema import SCENARIO_SCHEMA
from witan.models.demography.outputs import GSS_OPTION, council_rows

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from witan.modelrun.storage import RunStorage
    from witan.models.asc.fit import Derived, Fitted

MAX_YEARS = 50
FITTED_KEY = "params/asc/fitted.npz"


def population_from_demography(table: pa.Table, options: Mapping[str, Any]) -> InputFile:
    """A demography run's population (gss_code, sex F/M, age, year, population) for one council as
    population.csv (year, sex, age, population): the same rows, one GSS code."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    gss, rows = council_rows(table, options)
    out = pa.table(
        {
            "year": rows["year"].cast(pa.int64()),
            "sex": rows["sex"].cast(pa.string()),
            "age": rows["age"].cast(pa.int64()),
            "population": rows["population"].cast(pa.float64()),
        }
    )
    buf = pa.BufferOutputStream()
    pacsv.write_csv(out, buf, pacsv.WriteOptions(quoting_style="needed"))
    return InputFile(f"population-from-demography-{gss}.csv", buf.getvalue().to_pybytes())


def read_and_derive(inputs: InputFiles) -> tuple[Derived, dict[tuple[int, int], float] | None]:
    from witan.models.asc.fit import derive
    from witan.models.asc.inputs import read_cld, read_population, read_unit_costs

    cld = read_cld(list(inputs.get("cld") or []))
    pop_files = list(inputs.get("population") or [])
    if not pop_files:
        raise ModelInputError("population.csv", "not given", code="missing-file")
    population = read_population(pop_files[0])
    cost_files = list(inputs.get("unit_costs") or [])
    unit_costs = read_unit_costs(cost_files[0]) if cost_files else None
    return derive(cld, population), unit_costs


def _grid(keys: dict[str, Sequence[Any]]) -> dict[str, np.ndarray]:
    import numpy as np

    grids = np.meshgrid(*[np.asarray(k, dtype=object) for k in keys.values()], indexing="ij")
    return {name: g.ravel() for name, g in zip(keys, grids, strict=True)}


def measures_of(parts: dict[str, np.ndarray], last_year: int) -> dict[str, Measure]:
    """Measures from one scenario's simulations (Layout.split of its results)."""
    import numpy as np

    from witan.models.asc.fit import NC
    from witan.models.asc.inputs import AGE_BANDS, REASONS, SETTINGS
    from witan.models.asc.simulate import FLOW_KINDS

    stock = parts["stock"]
    n, y1 = stock.shape[0], stock.shape[1]
    years_stock = [last_year + i for i in range(y1)]
    years = years_stock[1:]
    by_setting = stock.reshape(n, y1, NC // len(SETTINGS), len(SETTINGS)).sum(axis=2)

    def with_total(a: np.ndarray) -> np.ndarray:
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


def _setting_fans(
    years: list[int], values: np.ndarray, labels: Sequence[str], title: str, unit: str
) -> bytes:
    """values [simulation, year, setting]: a fan (95% and 50% of simulations, median) per setting."""
    import io

    import matplotlib.pyplot as plt
    import numpy as np

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
    import io

    import matplotlib.pyplot as plt
    import numpy as np

    import witan.modelrun.charts  # noqa: F401

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


class AscDefinition:
    name = "asc"
    title = "Adult social care: long-term support"
    version = "1.0.0"
    description = (
        "People in long-term adult social care by age band, support reason and setting (nursing, "
        "residential, community with direct payment, community commissioned), with entries, moves, "
        "endings, deaths and gross cost, projected yearly by simulation from a council's Client Level "
        "Data: LTS001b snapshot states each 31 March, Dirichlet moves with pooled priors, Gamma entry "
        "rates per 1,000 population, weeks of care and weekly costs from the return."
    )
    stochastic = True
    inputs = (
        InputRole(
            "cld",
            "cld",
            "Client Level Data rows (Release 1 or 2; submission or underscore column names); several "
            "quarterly files cld*.csv may be stacked, a later file name being a later submission",
            many=True,
            formats=(".csv", ".parquet", ".xlsx"),
        ),
        InputRole(
            "population",
            "population",
            "population by year, sex (F/M), single year of age (90 = 90+): ONS projections or a "
            "demography run",
        ),
        InputRole(
            "unit_costs",
            "unit_costs",
            "optional weekly costs by setting and age_group (18-64, 65+, all), overriding CLD's",
            required=False,
        ),
    )
    parameters_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "years": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_YEARS,
                "default": 10,
                "description": "years to project after the last 31 March snapshot",
            },
            "prior_concentration": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 1000,
                "default": 1,
                "description": "weight (in people) of the pooled priors of moves and entry rates",
            },
            "parameter_uncertainty": {
                "type": "boolean",
                "default": True,
                "description": "draw each simulation's parameters from their posteriors (false: means)",
            },
        },
    }
    scenario_schema = SCENARIO_SCHEMA
    outputs = (
        OutputTable("stock", "people in long-term support on 31 March by age band, reason and setting"),
        OutputTable("stock_by_setting", "people in long-term support on 31 March by setting (and all)"),
        OutputTable("flows", "entries, moves (out of the setting), endings and deaths in each year"),
        OutputTable(
            "clients", "clients during each year by setting (stock, entrants, movers in, in-and-out)"
        ),
        OutputTable(
            "clients_by_cell",
            "clients during each year by age band, reason and setting (in-and-out people not included)",
        ),
        OutputTable("cost", "gross cost of long-term support in each year (April to March) by setting"),
    )
    headline = "stock_by_setting"
    chains: ClassVar[dict[str, ChainAdapter]] = {
        "population": ChainAdapter(
            model="demography",
            output="population",
            description="a demography run's population for one GSS code, as population.csv (year, sex, "
            "age with 90 = 90+, population); the model uses each year's mid-year population for the "
            "year to the next 31 March",
            options=GSS_OPTION,
            convert=population_from_demography,
        )
    }

    def is_stochastic(self, parameters: dict[str, Any]) -> bool:
        return True

    def check_request(self, parameters: dict[str, Any], scenarios: list[dict[str, Any]]) -> None:
        from witan.models.asc.scenario_schema import check_scenarios

        check_scenarios(scenarios, "scenarios")

    def fit(self, inputs: InputFiles, parameters: dict[str, Any]) -> tuple[Derived, Fitted]:
        from witan.models.asc.fit import fit

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
        self,
        inputs: InputFiles,
        parameters: dict[str, Any],
        scenarios: list[dict[str, Any]],
        store: RunStorage,
        *,
        simulations: int,
        seed: int,
    ) -> Planned:

        from witan.models.asc.scenario_schema import check_scenarios

        check_scenarios(scenarios, "scenarios")
        derived, fitted = self.fit(inputs, parameters)
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
            from witan.modelrun.errors import InputWarning

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

    def simulate(
        self, store: RunStorage, plan: dict[str, Any], scenario: str, simulations: range, seed: int
    ) -> pa.Table:
        import pyarrow as pa

        from witan.models.asc.fit import Fitted
        from witan.models.asc.scenarios import prepare
        from witan.models.asc.simulate import Layout, simulate

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

    def measures(
        self, store: RunStorage, plan: dict[str, Any], scenario: str, results: pa.Table
    ) -> dict[str, Measure]:
        import numpy as np

        from witan.models.asc.simulate import Layout

        layout = Layout(int(plan["years"]))
        order = np.argsort(results["simulation"].to_numpy())
        values = results["values"].combine_chunks().flatten().to_numpy().reshape(-1, layout.length)[order]
        return measures_of(layout.split(values), int(plan["last_year"]))

    def charts(self, plan: dict[str, Any], measures: Mapping[str, Mapping[str, Measure]]) -> dict[str, bytes]:
        import numpy as np

        from witan.models.asc.inputs import SETTINGS

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
                out[f"{name}/{measure}.png"] = _setting_fans(
                    years, values, SETTINGS, f"{name}: {title}", unit
                )
        if len(measures) > 1:
            out["scenarios/cost.png"] = _against_baseline(measures, "cost", "pounds a year")
            out["scenarios/stock_by_setting.png"] = _against_baseline(measures, "stock_by_setting", "people")
        return out

    def fitted_tables(self, inputs: InputFiles, parameters: dict[str, Any]) -> dict[str, pa.Table]:
        from witan.models.asc.fit import fitted_tables

        derived, unit_costs = read_and_derive(inputs)
        return fitted_tables(derived, unit_costs)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--years",
            type=int,
            default=None,
            metavar="N",
            help=f"asc: years to project (1-{MAX_YEARS}, default 10)",
        )
        parser.add_argument(
            "--prior-concentration",
            type=float,
            default=None,
            metavar="C",
            help="asc: weight of the pooled priors (default 1)",
        )
        parser.add_argument(
            "--no-parameter-uncertainty",
            action="store_true",
            help="asc: use the parameters' means in every simulation",
        )

    def parameters_from_args(self, args: argparse.Namespace) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if getattr(args, "years", None) is not None:
            out["years"] = args.years
        if getattr(args, "prior_concentration", None) is not None:
            out["prior_concentration"] = args.prior_concentration
        if getattr(args, "no_parameter_uncertainty", False):
            out["parameter_uncertainty"] = False
        return out


DEFINITION = AscDefinition()
