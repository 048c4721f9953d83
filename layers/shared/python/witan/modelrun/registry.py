"""The one place models are registered: name -> the module holding its `DEFINITION`.

A new model is a package under witan/models/ with a definition module (see
witan/modelrun/definition.py), added here; the CLI, the API, the state machine and the pipeline then
take it through the same steps as every other model."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from witan.modelrun.definition import ModelDefinition
from witan.modelrun.errors import ModelInputError

MODULES: dict[str, str] = {
    "demography": "witan.models.demography.definition",
    "send": "witan.models.send.definition",
    "cic": "witan.models.cic.definition",
    "asc": "witan.models.asc.definition",
}


def model_names() -> tuple[str, ...]:
    return tuple(MODULES)


@cache
def get_model(name: str) -> ModelDefinition:
    module = MODULES.get(name)
    if module is None:
        raise ModelInputError(
            "request",
            f"unknown model {name!r} (known: {', '.join(MODULES)})",
            column="model",
            code="unknown-model",
        )
    definition: ModelDefinition = import_module(module).DEFINITION
    return definition
