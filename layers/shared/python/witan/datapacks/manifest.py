"""The manifest of a sealed pack: every file with its SHA-256, size, media type, member and source, and
every model run with what re-running it needs. Its own SHA-256 is recorded in the audit trail.

A model run member becomes files under `runs/{run_id}/`: `plan.json` (parameters, scenarios, seed,
chunking and code version; the requester's email removed), `inputs/{role}/{file}` (the bytes the model
read, or for an input taken from another run that run's output and how it was converted) and
`outputs/{name}` (every output the run wrote, metadata.json included).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from witan.datapacks.records import Member, MemberKind, Pack
from witan.errors import (
    DuplicatePathError,
    InvalidMemberError,
)

MANIFEST_FORMAT = "witan-datapack-manifest/1"
SEAL_FORMAT = "witan-datapack-seal/1"
MANIFEST_NAME = "manifest.json"
SEAL_NAME = "seal.json"

MEDIA_TYPES = {
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".py": "text/x-python",
    ".r": "text/x-r",
    ".ipynb": "application/x-ipynb+json",
    ".html": "text/html",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def media_type(path: str) -> str:
    return MEDIA_TYPES.get(extension(path), "application/octet-stream")


@dataclass(frozen=True)
class PackFile:
    """One file of a pack as sealed. `data` is always read at seal time (to hash it); personal files
    are never copied into the pack's storage and leave only to callers with their own grant."""

    path: str
    data: bytes
    member: str
    role: str
    personal: bool = False
    title: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] | None = None

    def entry(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "sha256": sha256_hex(self.data),
            "bytes": len(self.data),
            "mediatype": media_type(self.path),
            "member": self.member,
            "role": self.role,
            "personal": self.personal,
            "title": self.title,
            "source": self.source,
        }
        schema = self.schema if self.schema is not None else header_schema(self.path, self.data)
        if schema is not None:
            out["schema"] = schema
        return out


def header_schema(path: str, data: bytes) -> dict[str, Any] | None:
    """For a CSV whose Table Schema is not known: its columns, typed `any` (known names, no claims)."""
    if extension(path) != ".csv":
        return None
    first = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
    names = next(csv.reader([first]), [])
    if not names or len(set(names)) != len(names) or not all(names):
        return None
    return {"fields": [{"name": n, "type": "any"} for n in names]}


@dataclass(frozen=True)
class RunInput:
    """One input file of a run as the pack holds it: the bytes the model read, or (with `convert`) the
    other run's output it was converted from, the conversion named by the receiving model's chain."""

    role: str
    name: str
    data: bytes
    source: dict[str, Any]
    personal: bool = False
    convert: dict[str, Any] | None = None  # {"model_run": id, "output": name, ...options}


def _redacted_plan(plan_bytes: bytes) -> tuple[bytes, dict[str, Any]]:
    plan = json.loads(plan_bytes)
    if plan.get("email") is not None:
        plan["email"] = None  # whom to notify is personal data and not needed to re-run
        return json.dumps(plan, indent=1).encode(), plan
    return plan_bytes, plan


def run_member_files(
    member: Member,
    plan_bytes: bytes,
    outputs: Mapping[str, bytes],
    inputs: Sequence[RunInput],
    schemas: Mapping[str, dict[str, Any]] | None = None,
) -> tuple[list[PackFile], dict[str, Any]]:
    """A model run member's files and its entry in the manifest's `runs`.

    `outputs`: name inside the run (as metadata.json lists them) -> bytes; `schemas`: role -> Table
    Schema of that input (the model's own)."""
    if member.kind is not MemberKind.MODEL_RUN or not member.run_id:
        raise InvalidMemberError(f"member {member.id} is not a model run")
    folder = member.folder
    plan_data, plan = _redacted_plan(plan_bytes)
    source = {"model_run": member.run_id}
    files = [
        PackFile(
            f"{folder}plan.json",
            plan_data,
            member.id,
            "other",
            title=f"plan of run {member.run_id}: parameters, scenarios, seed, code version",
            source={**source, "file": "plan.json", "redacted": ["email"]},
        )
    ]
    run_inputs: dict[str, dict[str, Any]] = {}
    for given in inputs:
        path = f"{folder}inputs/{given.role}/{given.name}"
        schema = None if given.convert else (schemas or {}).get(given.role)
        files.append(
            PackFile(
                path,
                given.data,
                member.id,
                "input",
                personal=given.personal,
                title=f"{given.role} input of run {member.run_id}",
                source=given.source,
                schema=schema,
            )
        )
        entry = run_inputs.setdefault(given.role, {"files": [], "names": []})
        entry["files"].append(path)
        entry["names"].append(given.name)
        if given.convert is not None:
            entry["convert"] = given.convert
    output_paths = []
    for name, data in sorted(outputs.items()):
        path = f"{folder}outputs/{name}"
        files.append(
            PackFile(
                path,
                data,
                member.id,
                "chart" if name.endswith((".png", ".svg")) else "output",
                title=f"{name} of run {member.run_id}",
                source={**source, "file": name},
            )
        )
        output_paths.append(path)
    run = {
        "run_id": member.run_id,
        "member": member.id,
        "model": plan.get("model"),
        "model_version": plan.get("model_version"),
        "parameters": plan.get("parameters"),
        "scenarios": plan.get("scenarios"),
        "seed": plan.get("seed"),
        "simulations": plan.get("simulations"),
        "chunk_size": plan.get("chunk_size"),
        "code_version": plan.get("code_version"),
        "input_hashes": plan.get("input_hashes"),
        "input_sources": plan.get("inputs"),
        "inputs": run_inputs,
        "plan": f"{folder}plan.json",
        "outputs": output_paths,
        "created_at": plan.get("created_at"),
    }
    return files, run


def build_manifest(
    pack: Pack,
    files: Sequence[PackFile],
    runs: Sequence[dict[str, Any]],
    sealed_by: str,
    sealed_at: datetime,
) -> dict[str, Any]:
    """The manifest: the pack's description, its members, every file (sorted by path) and run."""
    entries = sorted((f.entry() for f in files), key=lambda e: e["path"])
    paths = [e["path"] for e in entries]
    if len(set(paths)) != len(paths):
        twice = sorted({p for p in paths if paths.count(p) > 1})
        raise DuplicatePathError(paths=", ".join(twice))
    by_member: dict[str, list[str]] = {}
    for e in entries:
        by_member.setdefault(e["member"], []).append(e["path"])
    members = []
    for m in pack.members:
        d = {k: v for k, v in m.to_dict().items() if k not in ("key",)}
        d["files"] = by_member.get(m.id, [])
        members.append(d)
    return {
        "format": MANIFEST_FORMAT,
        "pack": {
            "id": pack.id,
            "title": pack.title,
            "summary": pack.summary,
            "conclusions": pack.conclusions,
            "licence": pack.licence,
            "tags": list(pack.tags),
            "owner_org": pack.owner_org,
            "created_by": pack.created_by,
            "created_at": pack.created_at.isoformat(),
            "supersedes": pack.supersedes,
        },
        "sealed_at": sealed_at.isoformat(),
        "sealed_by": sealed_by,
        "members": members,
        "files": entries,
        "runs": sorted(runs, key=lambda r: r["run_id"]),
    }


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The manifest as written into the pack: its hash is over exactly these bytes."""
    return (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def seal_document(
    manifest: Mapping[str, Any], manifest_sha256: str, audit_event_id: str | None
) -> dict[str, Any]:
    return {
        "format": SEAL_FORMAT,
        "pack_id": manifest["pack"]["id"],
        "manifest_sha256": manifest_sha256,
        "sealed_at": manifest["sealed_at"],
        "sealed_by": manifest["sealed_by"],
        "audit_event_id": audit_event_id,
        "audit_action": "datapack.seal",
    }
