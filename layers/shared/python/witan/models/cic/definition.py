"""Children looked after (children's social care) demand model, registered with the platform.

Method: docs/models/cic.md (Social Finance's children's services demand model, reproduced, with
its uncertainty fixed). Imports nothing heavy at module level (see witan.modelrun.definition).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from witan.modelrun.definition import (
    InputRole,
    ModelDefinition,
    ModelRunner,
    OutputTable,
    list_of,
    scenario_schema,
)
from witan.modelrun.errors import ModelInputError
from witan.models.cic.vocabulary import AGE_BANDS, COST_ITEMS, PLACEMENTS

UNCERTAINTY = ["exact", "monte-carlo", "faithful"]

_BAND = {"enum": list(AGE_BANDS)}
_PLACE = {"enum": list(PLACEMENTS)}
_ADJUST = {
    "multiply": {"type": "number", "minimum": 0, "description": "factor (not with add)"},
    "add": {
        "type": "number",
        "maximum": 1,
        "description": "daily rate added, result floored at 0 (not with multiply)",
    },
}
_WEEKLY = {
    "type": "object",
    "propertyNames": {"enum": list(COST_ITEMS)},
    "additionalProperties": {"type": "number", "minimum": 0},
}
_PROPORTIONS = {
    "type": "object",
    "description": "an item's share of its placement; the placement's other items are rescaled to make 1",
    "propertyNames": {"enum": list(COST_ITEMS)},
    "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
}
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_ONE_OR_MORE = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}

SCENARIO_SCHEMA: dict[str, Any] = scenario_schema(
    {
        "rates": list_of(
            {
                "from_age_band": _BAND,
                "from_placement": _PLACE,
                "to_age_band": _BAND,
                "to_placement": {"enum": [*PLACEMENTS, "not-in-care"]},
                **_ADJUST,
            },
            required=["from_placement", "to_placement"],
            description="transition rate changes, applied together; outgoing rates renormalised when they "
            "pass 1. An age band left out: every band (to_age_band: the same band as from)",
        ),
        "entrants": list_of(
            {"age_band": _BAND, "placement": _PLACE, **_ADJUST},
            required=["placement"],
            description="daily entrants per state multiplied or added to (floored at 0); "
            "age band left out: every band",
        ),
        "weekly_costs": _WEEKLY,
        "proportions": _PROPORTIONS,
        "inflation": {
            "type": "number",
            "minimum": -0.5,
            "maximum": 1,
            "description": "yearly, from each anniversary",
        },
    }
)

PARAMETERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "reference_start": {
            **_DATE,
            "description": "first day of the reference period (default: the data's start)",
        },
        "reference_end": {
            **_DATE,
            "description": "last day of the reference period (default: the data's end)",
        },
        "start": {
            **_DATE,
            "description": "projection start: its stock is the first state (default: the data's end)",
        },
        "end": {**_DATE, "description": "last projected day (default: start + 24 months)"},
        "uncertainty": {
            "enum": UNCERTAINTY,
            "default": "exact",
            "description": "exact: the process's covariance plus the rate estimates' error (deterministic); "
            "monte-carlo: simulations with rates drawn from their posterior; faithful: Social Finance's "
            "cumulative variance (for comparison)",
        },
        "rate_uncertainty": {
            "type": "boolean",
            "default": True,
            "description": "include the error in the estimated rates (exact and monte-carlo)",
        },
        "weekly_costs": _WEEKLY,
        "proportions": _PROPORTIONS,
        "inflation": {"type": "number", "minimum": -0.5, "maximum": 1, "default": 0},
        "filters": {
            "type": "object",
            "additionalProperties": False,
            "description": "estimate from these children only",
            "properties": {
                "la": _ONE_OR_MORE,
                "sex": _ONE_OR_MORE,
                "ethnic": _ONE_OR_MORE,
                "uasc": {"type": "boolean"},
            },
        },
    },
}


class CicDefinition(ModelDefinition):
    name = "cic"
    title = "Children looked after: demand and cost"
    version = "1.0.0"
    description = (
        "Children looked after by age band and placement, projected day by day from a council's SSDA903 "
        "returns with Social Finance's method (rates from a reference period, entrants, multinomial moves), "
        "with costs by quarter and scenarios. Uncertainty: 'exact' is the default because it is the "
        "credible one that is also deterministic: the exact covariance of the projected process (variation "
        "carried forward, covariance between states, so totals by placement and by quarter come from it) "
        "plus the error in the estimated rates to first order (Gamma posteriors of the rates and entrants); "
        "its means are Social Finance's to rounding, it costs a fraction of a second, and tests show Monte "
        "Carlo agrees with it. 'monte-carlo' simulates (rates drawn from their posterior per simulation, "
        "shared by every scenario; multinomial moves, Poisson entrants) when the full distribution is "
        "wanted. 'faithful' is Social Finance's cumulative variance (interval +/- 2 sd), kept for "
        "comparison: it ignores how variation carries forward, the covariances and the rate error. "
        "Deterministic modes run one path per scenario whatever --simulations says."
    )
    inputs = (
        InputRole(
            "episodes",
            "episodes",
            "SSDA903 episodes (DfE columns CHILD, DECOM, RNE, LS, CIN, PLACE, PLACE_PROVIDER, DEC, REC, "
            "REASON_PLACE_CHANGE, HOME_POST, PL_POST, URN; plus LA and YEAR when several returns "
            "are stacked)",
            schema=None,
            formats=(".csv", ".xlsx"),
        ),
        InputRole(
            "header",
            "header",
            "SSDA903 header (CHILD, SEX, DOB, ETHNIC, UPN, MOTHER, MC_DOB; LA, YEAR)",
            schema=None,
            formats=(".csv", ".xlsx"),
        ),
        InputRole(
            "uasc",
            "uasc",
            "SSDA903 UASC table (CHILD, SEX, DOB, DUC; LA, YEAR): a child listed in any year is UASC",
            schema=None,
            required=False,
            formats=(".csv", ".xlsx"),
        ),
    )
    parameters_schema = PARAMETERS_SCHEMA
    scenario_schema = SCENARIO_SCHEMA
    outputs = (
        OutputTable("population", "children in care per projected day by age band and placement"),
        OutputTable("in_care", "children in care per projected day by placement and in total"),
        OutputTable("in_care_summary", "children in care on each anniversary of the start and the last day"),
        OutputTable("costs", "cost per calendar quarter by item and in total"),
        OutputTable("rates", "daily transition rates (to_placement not-in-care: leaving care)"),
        OutputTable("entrants", "daily entrants by age band and placement"),
        OutputTable("stock", "children in care on each 31 March of the data, by state"),
        OutputTable("proportions", "each cost item's share of its placement, and its weekly cost"),
        OutputTable("cleaning", "episodes read, dropped, merged or split by cleaning, by reason"),
    )
    headline = "in_care_summary"

    def runner(self) -> ModelRunner:
        from witan.models.cic import run

        return run

    def is_stochastic(self, parameters: dict[str, Any]) -> bool:
        return bool(parameters.get("uncertainty", "exact") == "monte-carlo")

    def check_request(self, parameters: dict[str, Any], scenarios: list[dict[str, Any]]) -> None:
        from witan.models.cic.scenario_checks import validate

        validate(scenarios)
        for a, b in (("reference_start", "reference_end"), ("start", "end")):
            if parameters.get(a) and parameters.get(b) and parameters[a] > parameters[b]:
                raise ModelInputError("parameters", f"{a} is after {b}", column=a, code="bad-period")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--costs", metavar="FILE", help="cic: CSV of item,weekly_cost")
        parser.add_argument(
            "--filter",
            action="append",
            metavar="KEY=VALUE",
            help="cic: la=NAME, sex=1, ethnic=CODE or uasc=true|false; repeat a key for any of its values",
        )

    def parameters_from_args(self, args: argparse.Namespace) -> dict[str, Any]:
        out = super().parameters_from_args(args)
        if getattr(args, "costs", None):
            from witan.models.cic.costs import read_costs

            path = Path(args.costs)
            if not path.is_file():
                raise ModelInputError(str(path), "no such costs file", column="costs", code="missing-input")
            out["weekly_costs"] = read_costs(path.name, path.read_bytes())
        filters: dict[str, Any] = {}
        for item in getattr(args, "filter", None) or []:
            key, sep, value = item.partition("=")
            if not sep or key not in ("la", "sex", "ethnic", "uasc"):
                raise ModelInputError(
                    "arguments",
                    f"--filter {item!r}: use la=NAME, sex=1, ethnic=CODE or uasc=true|false",
                    column="filter",
                    code="bad-filter",
                )
            if key == "uasc":
                filters[key] = value.lower() in ("true", "1", "yes")
            elif key in filters:  # a repeated filter keeps any of its values
                filters[key] = [*(filters[key] if isinstance(filters[key], list) else [filters[key]]), value]
            else:
                filters[key] = value
        if filters:
            out["filters"] = filters
        return out


DEFINITION = CicDefinition()
