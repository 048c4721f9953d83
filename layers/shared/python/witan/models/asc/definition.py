"""Adult social care model (long-term support demand and cost from CLD), registered with the platform.

Method: docs/models/asc.md. A thin adapter over witan.models.asc's pure functions; imports nothing
heavy at module level.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from witan.modelrun.definition import (
    ChainAdapter,
    InputFile,
    InputRole,
    ModelDefinition,
    ModelRunner,
    OutputTable,
)
from witan.models.asc.scenario_schema import SCENARIO_SCHEMA
from witan.models.demography.outputs import GSS_OPTION, council_rows

if TYPE_CHECKING:
    import pyarrow as pa


MAX_YEARS = 50


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


PARAMETERS_SCHEMA: dict[str, Any] = {
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


class AscDefinition(ModelDefinition):
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
    parameters_schema = PARAMETERS_SCHEMA
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
    chains = MappingProxyType(
        {
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
    )

    def runner(self) -> ModelRunner:
        from witan.models.asc import run

        return run

    def check_request(self, parameters: dict[str, Any], scenarios: list[dict[str, Any]]) -> None:
        from witan.models.asc.scenario_schema import check_scenarios

        check_scenarios(scenarios, "scenarios")


DEFINITION = AscDefinition()
