"""SEND (special educational needs and disabilities) demand model, registered with the platform.

Method: docs/models/send.md. Imports nothing heavy at module level (see witan.modelrun.definition).
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
    list_of,
    scenario_schema,
)
from witan.modelrun.errors import ModelInputError
from witan.modelrun.limits import MAX_PROJECTION_YEARS
from witan.models.demography.outputs import GSS_OPTION, council_rows

if TYPE_CHECKING:
    import pyarrow as pa


MATCH_FIELDS = [  # what a scenario's match and filter tests may name
    "calendar_year",
    "academic_year",
    "to_academic_year",
    "need",
    "setting",
    "to_need",
    "to_setting",
    "state",
    "to_state",
    "kind",
]
_SCALAR = {"type": ["string", "integer", "number"]}
_TEST = {
    "oneOf": [
        _SCALAR,
        {"type": "array", "items": _SCALAR},
        {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {
                **{op: _SCALAR for op in ("eq", "ne", "lt", "le", "gt", "ge")},
                "in": {"type": "array", "items": _SCALAR},
            },
        },
    ]
}
_PREDICATE = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {f: _TEST for f in MATCH_FIELDS},
}
SCENARIO_SCHEMA: dict[str, Any] = scenario_schema(
    {
        "modify_transitions": list_of(
            {
                "match": _PREDICATE,
                "factor": {"type": "number", "minimum": 0},
                "from_year": {"type": "integer"},
                "until_year": {"type": "integer"},
            },
            required=["match", "factor"],
            description="scale matching historic transitions by a factor, in projected years "
            "from_year..until_year (inclusive); joiner rates always come from the unmodified data",
        ),
        "invalid_settings": {
            "type": "array",
            "description": "settings closed: everyone in them leaves, nobody joins or moves in",
            "items": {"type": "string"},
        },
        "filter_transitions": {
            "type": "array",
            "description": "drop historic transitions matching all of an entry's tests",
            "items": _PREDICATE,
        },
    }
)


def population_from_demography(table: pa.Table, options: Mapping[str, Any]) -> InputFile:
    """A demography run's population (gss_code, sex, age, year, population) for one council as SEND's
    population table: academic year = age - 5 (age on the mid-year date, a proxy for 31 August),
    calendar year = the year the school year starts; both sexes summed; academic years -5..20 kept."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from witan.modelrun.pipeline import table_csv

    gss, rows = council_rows(table, options)
    ay = pc.subtract(rows["age"].cast(pa.int64()), 5)
    rows = pa.table(
        {"calendar-year": rows["year"].cast(pa.int64()), "academic-year": ay, "p": rows["population"]}
    )
    rows = rows.filter(
        pc.and_(pc.greater_equal(rows["academic-year"], -5), pc.less_equal(rows["academic-year"], 20))
    )
    summed = rows.group_by(["calendar-year", "academic-year"]).aggregate([("p", "sum")])
    summed = summed.sort_by([("calendar-year", "ascending"), ("academic-year", "ascending")])
    # SEND draws joiners as binomials out of the population: whole people.
    population = pc.round(summed["p_sum"]).cast(pa.int64())
    out = pa.table(
        {
            "calendar-year": summed["calendar-year"],
            "academic-year": summed["academic-year"],
            "population": population,
        }
    )
    return InputFile(f"population-from-demography-{gss}.csv", table_csv(out))


PARAMETERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "projection_years": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PROJECTION_YEARS,
            "description": "calendar years to project after the seed year (the last transitions "
            "year + 1); default: every population year after it. Each needs population rows.",
        }
    },
}


class SendDefinition(ModelDefinition):
    name = "send"
    title = "SEND demand"
    version = "1.0.0"
    description = (
        "Children and young people with an EHC plan by academic year, need and setting, projected by "
        "simulation from historic January-to-January transitions (after Mastodon C's witan.send): "
        "leavers, movers and joiners drawn with Beta-Binomial and Dirichlet-Multinomial uncertainty."
    )
    inputs = (
        InputRole(
            "transitions",
            "transitions",
            "one row per child per January-to-January pair: calendar-year, setting-1, need-1, "
            "academic-year-1, setting-2, need-2, academic-year-2 (NONSEND marks not in SEND)",
            schema="tables/send-transitions.json",
        ),
        InputRole(
            "population",
            "population",
            "general population by calendar-year and academic-year, projected years included",
            schema="tables/send-population.json",
        ),
        InputRole(
            "costs", "costs", "cost per child per year by need and setting", schema="tables/send-costs.json"
        ),
        InputRole(
            "valid_states",
            "valid-states",
            "settings with their group, academic-year range, needs and allowed moves",
            schema="tables/send-valid-states.json",
        ),
    )
    parameters_schema = PARAMETERS_SCHEMA
    scenario_schema = SCENARIO_SCHEMA
    outputs = (
        OutputTable("count", "children in SEND by calendar year"),
        OutputTable("by_academic_year", "children by calendar and academic year"),
        OutputTable("by_ay_group", "children by academic-year group (<1, 1-6, 7-11, 12-13, 14+)"),
        OutputTable("by_need", "children by need"),
        OutputTable("by_setting", "children by setting"),
        OutputTable("by_state", "children by academic year and need-setting state (occupied cells)"),
        OutputTable("cost", "cost per year (count x cost per need-setting)"),
    )
    headline = "count"
    flag_aliases = MappingProxyType({"projection_years": ("--years",)})
    chains = MappingProxyType(
        {
            "population": ChainAdapter(
                model="demography",
                output="population",
                description="a demography run's population for one GSS code: academic year = age - 5, "
                "calendar year = the school year's start (the mid-year estimate's year), sexes summed, "
                "rounded to whole people",
                options=GSS_OPTION,
                convert=population_from_demography,
            )
        }
    )

    def check_request(self, parameters: dict[str, Any], scenarios: list[dict[str, Any]]) -> None:
        for s in scenarios:
            for i, m in enumerate(s.get("modify_transitions") or []):
                lo, hi = m.get("from_year"), m.get("until_year")
                if lo is not None and hi is not None and lo > hi:
                    raise ModelInputError(
                        "scenarios",
                        f"scenario {s['name']!r}: modify_transitions[{i}]: from_year {lo} is after "
                        f"until_year {hi}: it applies in no year",
                        column="from_year",
                        code="invalid-scenario",
                    )

    def runner(self) -> ModelRunner:
        from witan.models.send import run

        return run


DEFINITION = SendDefinition()
