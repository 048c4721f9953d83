"""Cohort-component population projection (demography), registered with the platform.

Method: docs/models/demography.md (after Mastodon C's witan.models.demography, whose
R reference this matches). Imports nothing heavy at module level (see witan.modelrun.definition).
"""

from __future__ import annotations

from typing import Any

from witan.modelrun.definition import (
    InputRole,
    ModelDefinition,
    ModelRunner,
    OutputTable,
    Parameters,
    Scenarios,
    scenario_schema,
)
from witan.models.demography.scenarios import (
    DEFAULTS,
    FERTILITY_SCENARIOS,
    FERTILITY_VARIANTS,
    MORTALITY_SCENARIOS,
    MORTALITY_VARIANTS,
    check_request,
)

_KEYS = "gss_code, sex (F/M), age (0..90, 90 = 90 and over), year"
_WINDOW = {"type": "string", "pattern": r"^\s*\d{4}\s*-\s*\d{4}\s*$"}
_YEAR = {"type": "integer", "minimum": 1900, "maximum": 2200}

PARAMETERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "first_year": {
            **_YEAR,
            "description": "first projected year; default: the year after the latest historic population "
            "year in the inputs (2015 for data to 2014). Its year before must be in the population.",
        },
        "last_year": {
            **_YEAR,
            "default": DEFAULTS["last_year"],
            "description": "last projected year; default 2040 (the R reference's acceptance configuration). "
            "National-trend variants need it inside the trend files (mortality to 2050, fertility to 2114).",
        },
        "fertility_base_year": {
            **_YEAR,
            "description": "year whose actual births scale the historic fertility rates; default: the "
            "latest year of births before the first projected year",
        },
        "fertility_variant": {"enum": list(FERTILITY_VARIANTS), "default": DEFAULTS["fertility_variant"]},
        "fertility_scenario": {
            "enum": list(FERTILITY_SCENARIOS),
            "default": DEFAULTS["fertility_scenario"],
            "description": "column of the national fertility trend (only its year-on-year ratios are used)",
        },
        "mortality_variant": {"enum": list(MORTALITY_VARIANTS), "default": DEFAULTS["mortality_variant"]},
        "mortality_scenario": {"enum": list(MORTALITY_SCENARIOS), "default": DEFAULTS["mortality_scenario"]},
        "mortality_years": {
            **_WINDOW,
            "description": "window A-B of historic mortality rates (mean or OLS trend); default: the last "
            "five years of deaths before the first projected year (2010-2014)",
        },
        "migration_years": {
            **_WINDOW,
            "description": "window A-B averaged for every migration flow; default: the last twelve years of "
            "the flows before the first projected year (2003-2014)",
        },
        "in_migrant_multiplier": {
            "type": "number",
            "minimum": 0,
            "default": DEFAULTS["in_migrant_multiplier"],
            "description": "factor on international in-migration (below 1 reduces it)",
        },
    },
}

SCENARIO_SCHEMA: dict[str, Any] = scenario_schema(
    {
        "fertility_scenario": {"enum": list(FERTILITY_SCENARIOS)},
        "mortality_scenario": {"enum": list(MORTALITY_SCENARIOS)},
        "migration_years": {**_WINDOW, "description": "another migration window A-B"},
        "in_migrant_multiplier": {"type": "number", "minimum": 0},
        "from_year": {
            **_YEAR,
            "description": "the multiplier applies from this projected year on; before it, the baseline's",
        },
    }
)


class DemographyDefinition(ModelDefinition):
    name = "demography"
    title = "Population projection (cohort-component)"
    version = "1.0.0"
    description = (
        "Mid-year population by council, sex and single year of age, projected year by year by the "
        "cohort-component method of Mastodon C's witan.models.demography (births from fertility rates "
        "scaled to the base year, deaths from mortality rates, net migration from historic averages; "
        "national trends optional). Every council in the inputs is projected independently in one run."
    )
    stochastic = False
    inputs = (
        InputRole(
            "population",
            "population",
            f"historic mid-year population: {_KEYS}, population",
            "population.json",
        ),
        InputRole(
            "births", "births", f"historic births by sex of child (age 0): {_KEYS}, births", "births.json"
        ),
        InputRole(
            "births_by_age_of_mother",
            "births_by_age_of_mother",
            f"births by mother's age (sex F) in one recent year: {_KEYS}, births",
            "births_by_age_of_mother.json",
        ),
        InputRole("deaths", "deaths", f"historic deaths: {_KEYS}, deaths", "deaths.json"),
        InputRole("domestic_in", "domestic_in", f"domestic in-migrants: {_KEYS}, count", "domestic_in.json"),
        InputRole(
            "domestic_out", "domestic_out", f"domestic out-migrants: {_KEYS}, count", "domestic_out.json"
        ),
        InputRole(
            "international_in",
            "international_in",
            f"international in-migrants: {_KEYS}, count",
            "international_in.json",
        ),
        InputRole(
            "international_out",
            "international_out",
            f"international out-migrants: {_KEYS}, count",
            "international_out.json",
        ),
        InputRole(
            "fertility_trend",
            "fertility_trend",
            "national fertility rates per 1000 women: age, year, principal, low, high, principal_2012, "
            "low_2012, high_2012 (needed by the applynationaltrend variant)",
            "fertility_trend.json",
            required=False,
        ),
        InputRole(
            "mortality_trend",
            "mortality_trend",
            "national mortality (qx per 100,000): sex, age (-1..125), year, principal, low, high (needed by "
            "the *-applynationaltrend variants)",
            "mortality_trend.json",
            required=False,
        ),
    )
    parameters_schema = PARAMETERS_SCHEMA
    scenario_schema = SCENARIO_SCHEMA
    outputs = (
        OutputTable("population", "population by gss_code, sex, age, year: historic years, then projected"),
        OutputTable("births", "births by gss_code, sex (of child), age (0), year: historic, then projected"),
        OutputTable("deaths", "projected deaths by gss_code, sex, age, year"),
        OutputTable("net_migration", "projected net migration by gss_code, sex, age, year"),
        OutputTable(
            "fertility_rates", "projected fertility rates (births per woman) by gss_code, sex, age, year"
        ),
        OutputTable("mortality_rates", "projected mortality rates by gss_code, sex, age, year"),
        OutputTable("total_population", "population by gss_code and year (compared with the baseline)"),
        OutputTable(
            "population_by_age_group",
            "population by gss_code, year and age group 0-15, 16-64, 65+ (children, working age, older "
            "people; compared with the baseline)",
        ),
        OutputTable(
            "population_pyramid",
            "population by sex and age in the first and last projected year, all councils summed",
        ),
    )
    headline = "total_population"

    def runner(self) -> ModelRunner:
        from witan.models.demography import run

        return run

    def check_request(self, parameters: Parameters, scenarios: Scenarios) -> None:
        check_request(parameters, scenarios)


DEFINITION = DemographyDefinition()
