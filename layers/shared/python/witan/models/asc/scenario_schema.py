"""The adult social care model's scenario format (JSON Schema) and its checks; no numpy, so the API
checks scenarios before a run starts."""

from __future__ import annotations

from typing import Any

from witan.modelrun.definition import BASELINE, list_of, scenario_schema
from witan.modelrun.errors import ModelInputError
from witan.models.asc.vocabulary import AGE_BANDS, REASONS, SETTINGS, STATES

__all__ = ["BASELINE", "SCENARIO_SCHEMA", "check_scenarios"]


_FILTERS = {
    "age_band": {"enum": list(AGE_BANDS)},
    "reason": {"enum": list(REASONS)},
    "from_year": {"type": "integer", "minimum": 1900, "maximum": 2200},
}
SCENARIO_SCHEMA: dict[str, Any] = scenario_schema(
    {
        "entry_multipliers": list_of(
            {"setting": {"enum": list(SETTINGS)}, **_FILTERS, "factor": {"type": "number", "minimum": 0}},
            required=["factor"],
        ),
        "entry_redirects": list_of(
            {
                "from_setting": {"enum": list(SETTINGS)},
                "to_setting": {"enum": list(SETTINGS)},
                "share": {"type": "number", "minimum": 0, "maximum": 1},
                **_FILTERS,
            },
            required=["from_setting", "to_setting", "share"],
        ),
        "move_multipliers": list_of(
            {
                "from_setting": {"enum": list(SETTINGS)},
                "to_state": {"enum": list(STATES)},
                "factor": {"type": "number", "minimum": 0},
                **_FILTERS,
            },
            required=["to_state", "factor"],
        ),
        "cost_uplifts": list_of(
            {
                "setting": {"enum": list(SETTINGS)},
                "rate": {"type": "number", "minimum": -0.5, "maximum": 1},
                "from_year": _FILTERS["from_year"],
            },
            required=["rate"],
        ),
    }
)


def check_scenarios(scenarios: list[dict[str, Any]], file: str = "scenarios") -> None:
    """JSON Schema and meaning: unique names, a redirect between two different settings."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(SCENARIO_SCHEMA)
    names = []
    for i, sc in enumerate(scenarios):
        errors = sorted(validator.iter_errors(sc), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            where = "/".join(str(p) for p in e.path) or "scenario"
            raise ModelInputError(
                file, f"scenario {i + 1}: {where}: {e.message}", column=where, code="invalid-scenario"
            )
        for j, r in enumerate(sc.get("entry_redirects") or []):
            if r["from_setting"] == r["to_setting"]:
                raise ModelInputError(
                    file,
                    f"scenario {sc['name']}: entry_redirects[{j}] sends {r['from_setting']} to itself",
                    column="to_setting",
                    code="invalid-scenario",
                )
        names.append(sc["name"])
    if len(set(names)) != len(names):
        raise ModelInputError(file, "scenario names must be unique", column="name", code="invalid-scenario")
