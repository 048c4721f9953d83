"""Run settings: the parameters with their data-dependent defaults filled in, and scenarios on top.

Checks that need no inputs (`check_parameters`, `check_scenario`) raise ModelInputError with file
"parameters" or "scenarios"; checks against the data happen in `resolve`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from witan.modelrun.errors import ModelInputError

FERTILITY_VARIANTS = ("fixed", "applynationaltrend")
FERTILITY_SCENARIOS = ("principal", "low", "high", "principal-2012", "low-2012", "high-2012")
MORTALITY_VARIANTS = (
    "average-fixed",
    "average-applynationaltrend",
    "trend-fixed",
    "trend-applynationaltrend",
)
MORTALITY_SCENARIOS = ("principal", "low", "high")
# Catalog defaults of the R reference (default_config.edn); last year from its acceptance config.
DEFAULTS: dict[str, Any] = {
    "last_year": 2040,
    "fertility_variant": "applynationaltrend",
    "fertility_scenario": "principal-2012",
    "mortality_variant": "average-applynationaltrend",
    "mortality_scenario": "principal",
    "in_migrant_multiplier": 1.0,
}
MORTALITY_WINDOW_YEARS = 5  # default mortality window: the last five years of deaths
MIGRATION_WINDOW_YEARS = 12  # default migration window: the last twelve years of flows (2003-2014)
_WINDOW = re.compile(r"^\s*(\d{4})\s*-\s*(\d{4})\s*$")
SCENARIO_KEYS = (
    "name",
    "description",
    "fertility_scenario",
    "mortality_scenario",
    "migration_years",
    "in_migrant_multiplier",
    "from_year",
)


@dataclass(frozen=True)
class Settings:
    """Everything one projection needs, defaults resolved against the data."""

    first_year: int
    last_year: int
    fertility_base_year: int
    fertility_variant: str
    fertility_scenario: str
    mortality_variant: str
    mortality_scenario: str
    mortality_years: tuple[int, int]
    migration_years: tuple[int, int]
    in_migrant_multiplier: float
    # A scenario's multiplier applies from this projected year on; before it, `base_multiplier`.
    multiplier_from_year: int | None = None
    base_multiplier: float = 1.0

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))

    def multiplier(self, year: int) -> float:
        if self.multiplier_from_year is not None and year < self.multiplier_from_year:
            return self.base_multiplier
        return self.in_migrant_multiplier

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_year": self.first_year,
            "last_year": self.last_year,
            "fertility_base_year": self.fertility_base_year,
            "fertility_variant": self.fertility_variant,
            "fertility_scenario": self.fertility_scenario,
            "mortality_variant": self.mortality_variant,
            "mortality_scenario": self.mortality_scenario,
            "mortality_years": f"{self.mortality_years[0]}-{self.mortality_years[1]}",
            "migration_years": f"{self.migration_years[0]}-{self.migration_years[1]}",
            "in_migrant_multiplier": self.in_migrant_multiplier,
            "multiplier_from_year": self.multiplier_from_year,
            "base_multiplier": self.base_multiplier,
        }


def parse_window(text: Any, file: str, column: str) -> tuple[int, int]:
    """ "2010-2014" -> (2010, 2014); first <= last."""
    match = _WINDOW.match(str(text)) if isinstance(text, str) else None
    code = "invalid-parameter" if file == "parameters" else "invalid-scenario"
    if not match:
        raise ModelInputError(file, f"{text!r} is not a year window like 2010-2014", column=column, code=code)
    start, end = int(match.group(1)), int(match.group(2))
    if start > end:
        raise ModelInputError(file, f"window {text!r} starts after it ends", column=column, code=code)
    return start, end


def _one_of(value: Any, allowed: tuple[str, ...], file: str, column: str, code: str) -> None:
    if value is not None and value not in allowed:
        raise ModelInputError(file, f"{value!r} is not one of {', '.join(allowed)}", column=column, code=code)


def check_parameters(parameters: dict[str, Any]) -> None:
    """What can be said about the parameters before reading any input."""
    code, file = "invalid-parameter", "parameters"
    known = {
        "first_year",
        "last_year",
        "fertility_base_year",
        "fertility_variant",
        "fertility_scenario",
        "mortality_variant",
        "mortality_scenario",
        "mortality_years",
        "migration_years",
        "in_migrant_multiplier",
    }
    for key in parameters:
        if key not in known:
            raise ModelInputError(file, f"unknown parameter {key!r}", column=key, code=code)
    for key in ("first_year", "last_year", "fertility_base_year"):
        value = parameters.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2200
        ):
            raise ModelInputError(file, f"{value!r} is not a year", column=key, code=code)
    first, last = parameters.get("first_year"), parameters.get("last_year")
    if first is not None and last is not None and last < first:
        raise ModelInputError(
            file, f"last year {last} is before first year {first}", column="last_year", code=code
        )
    _one_of(parameters.get("fertility_variant"), FERTILITY_VARIANTS, file, "fertility_variant", code)
    _one_of(parameters.get("fertility_scenario"), FERTILITY_SCENARIOS, file, "fertility_scenario", code)
    _one_of(parameters.get("mortality_variant"), MORTALITY_VARIANTS, file, "mortality_variant", code)
    _one_of(parameters.get("mortality_scenario"), MORTALITY_SCENARIOS, file, "mortality_scenario", code)
    for key in ("mortality_years", "migration_years"):
        if parameters.get(key) is not None:
            parse_window(parameters[key], file, key)
    _check_multiplier(parameters.get("in_migrant_multiplier"), file, code)


def _check_multiplier(value: Any, file: str, code: str) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not value >= 0
        or value == float("inf")
    ):
        raise ModelInputError(
            file, f"{value!r} is not a multiplier (a number >= 0)", column="in_migrant_multiplier", code=code
        )


def check_scenario(scenario: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
    code, file = "invalid-scenario", "scenarios"
    for key in scenario:
        if key not in SCENARIO_KEYS:
            raise ModelInputError(file, f"unknown scenario field {key!r}", column=key, code=code)
    name = scenario.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ModelInputError(file, "a scenario needs a name", column="name", code=code)
    _one_of(scenario.get("fertility_scenario"), FERTILITY_SCENARIOS, file, "fertility_scenario", code)
    _one_of(scenario.get("mortality_scenario"), MORTALITY_SCENARIOS, file, "mortality_scenario", code)
    if scenario.get("migration_years") is not None:
        parse_window(scenario["migration_years"], file, "migration_years")
    _check_multiplier(scenario.get("in_migrant_multiplier"), file, code)
    from_year = scenario.get("from_year")
    if from_year is not None:
        if isinstance(from_year, bool) or not isinstance(from_year, int):
            raise ModelInputError(file, f"{from_year!r} is not a year", column="from_year", code=code)
        if scenario.get("in_migrant_multiplier") is None:
            raise ModelInputError(
                file, "from_year needs an in_migrant_multiplier to apply", column="from_year", code=code
            )
        params = parameters or {}
        first, last = params.get("first_year"), params.get("last_year", DEFAULTS["last_year"])
        if (first is not None and from_year < first) or (last is not None and from_year > last):
            raise ModelInputError(
                file,
                f"from_year {from_year} is outside the projected years {first or '(first)'}..{last}",
                column="from_year",
                code=code,
            )


def check_request(parameters: dict[str, Any], scenarios: list[dict[str, Any]]) -> None:
    check_parameters(parameters)
    names: set[str] = set()
    for scenario in scenarios:
        check_scenario(scenario, parameters)
        if scenario["name"] in names or scenario["name"] == "baseline":
            raise ModelInputError(
                "scenarios",
                f"scenario name {scenario['name']!r} is used twice or is reserved",
                column="name",
                code="invalid-scenario",
            )
        names.add(scenario["name"])


def resolve(
    parameters: dict[str, Any],
    *,
    latest_population_year: int,
    latest_births_year: int,
    latest_deaths_year: int,
    earliest_mortality_year: int,
    migration_span: tuple[int, int],
) -> Settings:
    """The baseline's settings: given parameters, else the catalog defaults, else the data's own years."""
    check_parameters(parameters)
    p = {**DEFAULTS, **{k: v for k, v in parameters.items() if v is not None}}
    first = int(p.get("first_year") or latest_population_year + 1)
    last = int(p["last_year"])
    if last < first:
        raise ModelInputError(
            "parameters",
            f"last year {last} is before first year {first}",
            column="last_year",
            code="invalid-parameter",
        )
    # Data-dependent defaults use only years before the first projected one (a back-test projecting
    # from 2010 fits on data to 2009).
    if p.get("mortality_years"):
        mortality = parse_window(p["mortality_years"], "parameters", "mortality_years")
    else:
        end = min(latest_deaths_year, first - 1)
        mortality = (max(earliest_mortality_year, end - MORTALITY_WINDOW_YEARS + 1), end)
    if p.get("migration_years"):
        migration = parse_window(p["migration_years"], "parameters", "migration_years")
    else:
        start, end = migration_span[0], min(migration_span[1], first - 1)
        migration = (max(start, end - MIGRATION_WINDOW_YEARS + 1), end)
    multiplier = float(p["in_migrant_multiplier"])
    return Settings(
        first_year=first,
        last_year=last,
        fertility_base_year=int(p.get("fertility_base_year") or min(latest_births_year, first - 1)),
        fertility_variant=p["fertility_variant"],
        fertility_scenario=p["fertility_scenario"],
        mortality_variant=p["mortality_variant"],
        mortality_scenario=p["mortality_scenario"],
        mortality_years=mortality,
        migration_years=migration,
        in_migrant_multiplier=multiplier,
        base_multiplier=multiplier,
    )


def apply_scenario(base: Settings, scenario: dict[str, Any] | None) -> Settings:
    """A scenario's settings: the baseline with the scenario's fields changed."""
    if not scenario:
        return base
    check_scenario(scenario)
    changes: dict[str, Any] = {}
    for key in ("fertility_scenario", "mortality_scenario"):
        if scenario.get(key) is not None:
            changes[key] = scenario[key]
    if scenario.get("migration_years") is not None:
        changes["migration_years"] = parse_window(scenario["migration_years"], "scenarios", "migration_years")
    if scenario.get("in_migrant_multiplier") is not None:
        changes["in_migrant_multiplier"] = float(scenario["in_migrant_multiplier"])
        changes["base_multiplier"] = base.in_migrant_multiplier
        if scenario.get("from_year") is not None:
            from_year = int(scenario["from_year"])
            if not base.first_year <= from_year <= base.last_year:
                raise ModelInputError(
                    "scenarios",
                    f"from_year {from_year} is outside the projected years "
                    f"{base.first_year}..{base.last_year}",
                    column="from_year",
                    code="invalid-scenario",
                )
            changes["multiplier_from_year"] = from_year
    return replace(base, **changes)
