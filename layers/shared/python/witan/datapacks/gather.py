"""Reading every member's bytes at seal time, through a `PackSources` port (S3 in
`witan.aws.datapacks_table`, anything in tests).

A model run's inputs are found from its plan: the S3 keys (or folder, or SEND's prefix) it was given,
or another run's output it converted; a folder's files are matched to the hashes the plan recorded, so
the pack holds exactly the bytes the model read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from witan.datapacks.manifest import PackFile, RunInput, run_member_files, sha256_hex
from witan.datapacks.records import Member, MemberKind, Pack
from witan.datapacks.sources import output_names, role_schemas
from witan.errors import (
    MemberFileMissingError,
    PackTooLargeError,
    RunInputsUnknownError,
)
from witan.settings import DATASETS_PREFIX, MODELS_PREFIX

_DATASET_KEY = re.compile(
    rf"^{re.escape(DATASETS_PREFIX)}(?P<dataset_id>[0-9a-f]{{32}})/(?P<version>[0-9]+)/"
)
DRAFTS_PREFIX = "drafts/"  # drafts/{pack_id}/{member_id}/{file_name}: the pack's own uploads
SEALED_PREFIX = "datapacks/"  # datapacks/{pack_id}/files/{path}, datapacks/{pack_id}/manifest.json
EXPORTS_PREFIX = "exports/"  # exports/{pack_id}/{export_id}.zip: short-lived
# The seal hashes, and the export zips, a pack in one access_api call (1 GB of memory): bounded.
MAX_PACK_BYTES = 300 * 2**20


class PackSources(Protocol):
    def data_object(self, key: str, version_id: str | None = None) -> bytes | None:
        """An object of the data bucket (a given version), or None."""

    def list_data(self, prefix: str) -> list[str]:
        """Keys under a prefix of the data bucket."""

    def pack_object(self, key: str) -> bytes | None:
        """An object of the packs bucket, or None."""


def draft_key(pack_id: str, member: Member) -> str:
    return f"{DRAFTS_PREFIX}{pack_id}/{member.id}/{member.file_name}"


def sealed_key(pack_id: str, path: str) -> str:
    return f"{SEALED_PREFIX}{pack_id}/files/{path}"


def manifest_key(pack_id: str) -> str:
    return f"{SEALED_PREFIX}{pack_id}/manifest.json"


def dataset_of_key(key: str) -> tuple[str, int] | None:
    matched = _DATASET_KEY.match(key)
    return (matched["dataset_id"], int(matched["version"])) if matched else None


@dataclass(frozen=True)
class RunSources:
    """What a run read: dataset files (id, version or None for a SEND prefix) and other runs."""

    datasets: tuple[tuple[str, int], ...]
    runs: tuple[str, ...]


def run_sources(spec: Any) -> RunSources:
    """The datasets and runs a run's `inputs` (as the API gave them to the state machine) name."""
    datasets: list[tuple[str, int]] = []
    runs: list[str] = []
    if not isinstance(spec, Mapping):
        return RunSources((), ())
    for where in spec.values():
        listed = where if isinstance(where, list) else [where]
        for item in listed:
            if isinstance(item, Mapping) and "model_run" in item:
                runs.append(str(item["model_run"]))
                continue
            key = item.get("folder") if isinstance(item, Mapping) else item
            found = dataset_of_key(str(key)) if isinstance(key, str) else None
            if found:
                datasets.append(found)
    return RunSources(tuple(dict.fromkeys(datasets)), tuple(dict.fromkeys(runs)))


def _required(sources: PackSources, key: str, what: str, version_id: str | None = None) -> bytes:
    data = sources.data_object(key, version_id)
    if data is None:
        raise MemberFileMissingError(f"{what}: {key} is not in the data bucket")
    return data


def _role_names(spec: Mapping[str, Any], hashes: Mapping[str, str]) -> dict[str, str]:
    """The plan's input role names as the recorded hashes spell them (SEND also takes valid-states)."""
    return {str(r): (str(r).replace("-", "_") if str(r) not in hashes else str(r)) for r in spec}


def run_inputs(
    run_id: str, plan: Mapping[str, Any], sources: PackSources, personal: Iterable[str]
) -> list[RunInput]:
    """Every input file of a run, with where it came from; inputs from personal datasets are marked."""
    spec = plan.get("inputs")
    hashes: Mapping[str, str] = plan.get("input_hashes") or {}
    personal_ids = set(personal)
    if not isinstance(spec, Mapping) or not spec:
        raise RunInputsUnknownError(
            f"run {run_id} does not record where its inputs came from: it cannot be packed for re-running"
        )

    def from_key(role: str, key: str, data: bytes | None = None) -> RunInput:
        data = data if data is not None else _required(sources, key, f"input {role} of run {run_id}")
        found = dataset_of_key(key)
        source: dict[str, Any] = {"model_run": run_id, "key": key}
        if found:
            source.update(dataset_id=found[0], version=found[1])
        name = key.rsplit("/", 1)[-1]
        return RunInput(role, name, data, source, personal=bool(found and found[0] in personal_ids))

    def by_hash(role: str, keys: list[str]) -> RunInput | None:
        for key in keys:
            data = sources.data_object(key)
            if data is not None and sha256_hex(data) == hashes.get(role):
                return from_key(role, key, data)
        return None

    out: list[RunInput] = []
    if "prefix" in spec:
        keys = sources.list_data(str(spec["prefix"]))
        for role in sorted(hashes):
            found = by_hash(role, keys)
            if found is None:
                raise MemberFileMissingError(f"input {role} of run {run_id} is not in its folder")
            out.append(found)
        return out
    names = _role_names(spec, hashes)
    for given, where in spec.items():
        role = names[str(given)]
        if isinstance(where, Mapping) and "model_run" in where:
            source_run, output = str(where["model_run"]), str(where.get("output"))
            key = f"{MODELS_PREFIX}{source_run}/{output}.parquet"
            data = _required(sources, key, f"input {role} of run {run_id}")
            out.append(
                RunInput(
                    role,
                    f"{output}.parquet",
                    data,
                    {"model_run": run_id, "from_model_run": source_run, "output": output, "key": key},
                    convert=dict(where),
                )
            )
        elif isinstance(where, Mapping) and "folder" in where:
            keys = sources.list_data(str(where["folder"]))
            found = by_hash(role, keys) if role in hashes else None
            if found is None and len(keys) == 1:
                found = from_key(role, keys[0])
            if found is None:
                raise MemberFileMissingError(f"input {role} of run {run_id} is not in its folder")
            out.append(found)
        else:
            for key in where if isinstance(where, list) else [where]:
                out.append(from_key(role, str(key)))
    return out


def run_files(
    member: Member, sources: PackSources, personal: Iterable[str]
) -> tuple[list[PackFile], dict[str, Any]]:
    """A model run member's files (plan, inputs, outputs) and its manifest entry."""
    prefix = f"{MODELS_PREFIX}{member.run_id}/"
    plan_bytes = _required(sources, prefix + "plan.json", f"run {member.run_id}")
    metadata = json.loads(_required(sources, prefix + "metadata.json", f"run {member.run_id}"))
    outputs = {
        name: _required(sources, prefix + name, f"output of run {member.run_id}")
        for name in output_names(metadata)
    }
    plan = json.loads(plan_bytes)
    inputs = run_inputs(str(member.run_id), plan, sources, personal)
    return run_member_files(member, plan_bytes, outputs, inputs, role_schemas(str(plan.get("model"))))


def dataset_schema(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A dataset's `structure` when it is a Table Schema (a list of named fields)."""
    structure = (metadata or {}).get("structure")
    fields = structure.get("fields") if isinstance(structure, Mapping) else None
    named = isinstance(fields, list) and all(isinstance(f, Mapping) and f.get("name") for f in fields)
    if isinstance(structure, Mapping) and named:
        return dict(structure)
    return None


def member_files(
    pack: Pack,
    sources: PackSources,
    personal: Iterable[str] = (),
    schemas: Mapping[str, dict[str, Any]] | None = None,
    max_bytes: int = MAX_PACK_BYTES,
) -> tuple[list[PackFile], list[dict[str, Any]]]:
    """Every file of every member (bytes read now, to be hashed) and every run's manifest entry.

    `personal`: dataset ids holding personal data; `schemas`: dataset id -> its Table Schema. A pack
    whose files pass `max_bytes` is refused (the seal and the export hold it in one function's memory)."""
    personal_ids = set(personal)
    files: list[PackFile] = []
    runs: list[dict[str, Any]] = []

    def bounded() -> None:
        total = sum(len(f.data) for f in files)
        if total > max_bytes:
            raise PackTooLargeError(
                f"the members hold more than {max_bytes // 2**20} MiB ({total // 2**20} MiB read so far): "
                "split the pack, or pin the large datasets as metadata-only members",
            )

    for member in pack.members:
        if member.kind is MemberKind.DATASET_METADATA:
            continue
        if member.kind is MemberKind.MODEL_RUN:
            more, run = run_files(member, sources, personal_ids)
            files += more
            runs.append(run)
            bounded()
            continue
        if member.kind is MemberKind.PACK_FILE:
            data = sources.pack_object(draft_key(pack.id, member))
            if data is None:
                raise MemberFileMissingError(f"member {member.id}: {member.file_name} was never uploaded")
            source: dict[str, Any] = {"uploaded_by": member.added_by}
        else:
            data = _required(sources, str(member.key), f"member {member.id}", member.s3_version_id)
            source = {
                "dataset_id": member.dataset_id,
                "version": member.version,
                "s3_version_id": member.s3_version_id,
                "key": member.key,
            }
        files.append(
            PackFile(
                str(member.path),
                data,
                member.id,
                member.role.value,
                personal=member.personal or (member.dataset_id in personal_ids),
                title=member.caption,
                source=source,
                schema=(schemas or {}).get(str(member.dataset_id)),
            )
        )
        bounded()
    return files, runs
