"""Gathering a model run's files for a pack, from wherever the run lives (a local folder, or S3 through
`witan.aws.datapacks_table`): the run's plan, its outputs as metadata.json lists them, its inputs, and
the Table Schemas of those inputs from the model's definition."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from witan.datapacks.manifest import PackFile, RunInput, run_member_files
from witan.datapacks.records import Member

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


def local_run_files(
    member: Member, run_dir: str | Path, inputs: Sequence[RunInput]
) -> tuple[list[PackFile], dict[str, Any]]:
    """A run done on this machine (`witan model run`, run_local) as a pack member."""
    folder = Path(run_dir)
    plan_bytes = (folder / "plan.json").read_bytes()
    metadata = json.loads((folder / "metadata.json").read_bytes())
    outputs = {name: (folder / name).read_bytes() for name in output_names(metadata)}
    return run_member_files(member, plan_bytes, outputs, inputs, role_schemas(str(metadata["model"])))
