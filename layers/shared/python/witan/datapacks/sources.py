"""Gathering a model run's files for a pack (from S3 through `witan.aws.datapacks_table`; the tests
gather local runs the same way): the run's plan, its outputs as metadata.json lists them, its inputs, and
the Table Schemas of those inputs from the model's definition."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

RUN_FILES = ("plan.json", "metadata.json")


def role_schemas(model: str) -> dict[str, dict[str, Any]]:
    """role -> the Table Schema the platform checks that input against (where the model names one)."""
    from witan.modelrun.inputs import schema_path
    from witan.modelrun.registry import get_model

    out: dict[str, dict[str, Any]] = {}
    try:
        definition = get_model(model)
    except Exception:  # a model no longer registered: no schemas, the bytes still seal
        return out
    for role in definition.inputs:
        path = schema_path(definition, role)
        if path is not None and path.is_file():
            out[role.role] = json.loads(path.read_text(encoding="utf-8"))
    return out


def output_names(metadata: Mapping[str, Any]) -> list[str]:
    """The files a run wrote (names inside the run), as its metadata.json lists them."""
    return [str(name) for name in metadata.get("outputs") or []]
