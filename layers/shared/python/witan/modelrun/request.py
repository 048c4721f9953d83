"""A model run's request, checked before any work: which model, its parameters and scenarios, how
many simulations in which chunks. Imports neither numpy nor pyarrow (the API uses it)."""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from witan.modelrun.definition import BASELINE, SCENARIO_NAME_PATTERN, ModelDefinition
from witan.modelrun.errors import ModelInputError
from witan.modelrun.registry import get_model

if TYPE_CHECKING:
    from jsonschema import ValidationError

MAX_SIMULATIONS = 100_000
DEFAULT_CHUNK_SIZE = 100
MAX_SCENARIOS = 20
MAX_ITEMS = 10_000  # chunk tasks per run (one Map item each)
SCENARIO_NAME = re.compile(SCENARIO_NAME_PATTERN)


def _invalid(
    message: str, column: str, code: str = "invalid-request", file: str = "request"
) -> ModelInputError:
    return ModelInputError(file, message, column=column, code=code)


def _schema_errors(schema: dict[str, Any], value: Any) -> list[ValidationError]:
    from jsonschema import Draft202012Validator, validators

    # JSON Schema counts 2.0 as an integer; a count of years or simulations must be written as one.
    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, v: isinstance(v, int) and not isinstance(v, bool)
    )
    # jsonschema's stubs leave `extend` unannotated.
    strict = validators.extend(Draft202012Validator, type_checker=checker)  # type: ignore[no-untyped-call]
    return sorted(strict(schema).iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])


def _where(error: ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    required = error.validator_value if error.validator == "required" else None
    if path or not isinstance(required, list):
        return path
    return str(required[0])  # the first required property (the message names the missing one)


def checked_parameters(definition: ModelDefinition, raw: Any) -> dict[str, Any]:
    """`raw` checked against the model's parameters schema, with the schema's defaults filled in."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _invalid("parameters must be an object", "parameters", "invalid-parameter", "parameters")
    errors = _schema_errors(definition.parameters_schema, raw)
    if errors:
        e = errors[0]
        raise ModelInputError("parameters", e.message, column=_where(e) or None, code="invalid-parameter")
    filled = copy.deepcopy(raw)
    for name, spec in definition.parameters_schema.get("properties", {}).items():
        if name not in filled and "default" in spec:
            filled[name] = copy.deepcopy(spec["default"])
    return filled


def checked_scenarios(definition: ModelDefinition, raw: Any) -> list[dict[str, Any]]:
    """Each scenario checked against the model's scenario schema; names unique, not "baseline"."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid("scenarios must be a list", "scenarios", "invalid-scenario", "scenarios")
    if len(raw) > MAX_SCENARIOS:
        raise _invalid(
            f"at most {MAX_SCENARIOS} scenarios besides the baseline",
            "scenarios",
            "invalid-scenario",
            "scenarios",
        )
    names: list[str] = []
    for i, scenario in enumerate(raw):
        if not isinstance(scenario, dict):
            raise _invalid(
                f"scenario {i + 1} must be an object", "scenarios", "invalid-scenario", "scenarios"
            )
        name = scenario.get("name")
        if not isinstance(name, str) or not SCENARIO_NAME.match(name) or name == BASELINE:
            raise _invalid(
                f"scenario {i + 1}: name must be 1-64 letters, digits, '-' or '_', and not {BASELINE!r}",
                "name",
                "invalid-scenario",
                "scenarios",
            )
        errors = _schema_errors(definition.scenario_schema, scenario)
        if errors:
            e = errors[0]
            raise ModelInputError(
                "scenarios",
                f"scenario {name!r}: {e.message}",
                column=_where(e) or None,
                code="invalid-scenario",
            )
        names.append(name)
    if len(set(names)) != len(names):
        raise _invalid("scenario names must be unique", "name", "invalid-scenario", "scenarios")
    return [copy.deepcopy(s) for s in raw]


@dataclass
class RunRequest:
    """What to run; `from_event` checks everything that needs no input data."""

    run_id: str
    model: str = "send"
    parameters: dict[str, Any] = field(default_factory=dict)
    scenarios: list[dict[str, Any]] = field(default_factory=list)
    simulations: int = 1000
    seed: int = 0
    chunk_size: int = DEFAULT_CHUNK_SIZE
    email: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # provenance: role -> where it came from

    @property
    def definition(self) -> ModelDefinition:
        return get_model(self.model)

    @property
    def scenario_names(self) -> list[str]:
        return [BASELINE, *(s["name"] for s in self.scenarios)]

    @classmethod
    def build(
        cls,
        run_id: str,
        model: str,
        *,
        parameters: Any = None,
        scenarios: Any = None,
        simulations: int = 1000,
        seed: int = 0,
        chunk_size: int | None = None,
        email: str | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> RunRequest:
        """A checked request: parameters with defaults, scenarios valid for the model."""
        definition = get_model(model)
        params = checked_parameters(definition, parameters)
        checked = checked_scenarios(definition, scenarios)
        definition.check_request(params, checked)
        if not definition.is_stochastic(params):
            simulations, chunk_size = 1, 1
        chunk = chunk_size or min(simulations, DEFAULT_CHUNK_SIZE)
        items = math.ceil(simulations / chunk) * (1 + len(checked))
        if items > MAX_ITEMS:
            raise _invalid(
                f"{1 + len(checked)} scenarios x {math.ceil(simulations / chunk)} chunks is too many "
                f"(at most {MAX_ITEMS} chunks)",
                "chunk_size",
            )
        return cls(run_id, model, params, checked, simulations, seed, chunk, email, dict(inputs or {}))

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> RunRequest:
        def whole(name: str, default: int, lower: int, upper: int) -> int:
            value = event.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int) or not lower <= value <= upper:
                raise _invalid(f"{name} must be a whole number from {lower} to {upper}", name)
            return value

        run_id = event.get("run_id")
        if not isinstance(run_id, str) or not run_id or "/" in run_id or len(run_id) > 128:
            raise _invalid("run_id must be a non-empty string without '/'", "run_id")
        model = event.get("model", "send")
        if not isinstance(model, str):
            raise _invalid("model must be a model name", "model", "unknown-model")
        parameters = event.get("parameters") or {}
        if "projection_years" in event and event["projection_years"] is not None and model == "send":
            # Requests made before models had parameters: SEND's projection_years stood at the top.
            parameters = {**parameters, "projection_years": event["projection_years"]}
        email = event.get("email")
        return cls.build(
            run_id,
            model,
            parameters=parameters,
            scenarios=event.get("scenarios") or [],
            simulations=whole("simulations", 1000, 1, MAX_SIMULATIONS),
            seed=whole("seed", 0, 0, 2**63 - 1),
            chunk_size=whole("chunk_size", DEFAULT_CHUNK_SIZE, 1, MAX_SIMULATIONS),
            email=email if isinstance(email, str) and "@" in email else None,
            inputs=event.get("inputs") if isinstance(event.get("inputs"), dict) else None,
        )

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)
