"""What an exported pack says about itself, built from its manifest alone (so verify can rebuild and
compare them): `datapackage.json` (Frictionless Data Package), `ro-crate-metadata.json` (RO-Crate 1.1)
and `README.md`.

`included` is the set of file paths whose bytes are in this export: personal-data files appear as
references (hash and size, no bytes) for a caller without their own grant on the dataset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from witan.datapacks.manifest import MANIFEST_NAME, SEAL_NAME, extension

DATAPACKAGE_NAME = "datapackage.json"
RO_CRATE_NAME = "ro-crate-metadata.json"
README_NAME = "README.md"
GENERATED = (DATAPACKAGE_NAME, RO_CRATE_NAME, README_NAME)
RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
RO_CRATE_PROFILE = "https://w3id.org/ro/crate/1.1"
_LICENCE_ID = re.compile(r"^[A-Za-z0-9.+-]{1,64}$")
_RESOURCE_NAME = re.compile(r"[^a-z0-9._-]+")
TABULAR = {".csv"}


def _licence(manifest: Mapping[str, Any]) -> dict[str, str]:
    text = str(manifest["pack"].get("licence") or "").strip()
    if not text:
        return {"name": "not-stated", "title": "No licence stated: ask the owning organisation"}
    return {"name": text if _LICENCE_ID.match(text) else "other", "title": text}


def _resource_names(paths: list[str]) -> dict[str, str]:
    """Unique lower-case resource names (Data Package: ^[a-z0-9._-]+$) from file paths."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for path in paths:
        base = _RESOURCE_NAME.sub("-", path.lower()).strip("-") or "file"
        name, n = base, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        names[path] = name
    return names


def _member_captions(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in manifest["members"]}


def _contributors(manifest: Mapping[str, Any]) -> list[dict[str, str]]:
    pack = manifest["pack"]
    out = [{"title": str(pack["owner_org"]), "role": "publisher"}]
    out.append({"title": f"user {pack['created_by']}", "role": "author"})
    if manifest.get("sealed_by") and manifest["sealed_by"] != pack["created_by"]:
        out.append({"title": f"user {manifest['sealed_by']}", "role": "contributor"})
    return out


def _sources(entry: Mapping[str, Any]) -> list[dict[str, str]]:
    source = entry.get("source") or {}
    if "dataset_id" in source:
        title = f"Witan dataset {source['dataset_id']} file version {source.get('version')}"
    elif "model_run" in source:
        title = f"Witan model run {source['model_run']}"
        if source.get("dataset_id"):
            title += f" (from dataset {source['dataset_id']} version {source.get('version')})"
    else:
        title = "uploaded to the pack"
    return [{"title": title}]


def datapackage(manifest: Mapping[str, Any], included: Collection[str]) -> dict[str, Any]:
    """A Frictionless Data Package describing every file in the export (hash, bytes, media type,
    Table Schema where known, licences, sources); withheld personal files listed apart."""
    pack = manifest["pack"]
    members = _member_captions(manifest)
    files = [e for e in manifest["files"] if e["path"] in included]
    names = _resource_names([e["path"] for e in files])
    licence = _licence(manifest)
    resources = []
    for e in files:
        member = members.get(e["member"], {})
        ext = extension(e["path"])
        resource: dict[str, Any] = {
            "name": names[e["path"]],
            "path": e["path"],
            "title": e.get("title") or member.get("caption") or e["path"],
            "description": member.get("caption", ""),
            "format": ext.lstrip(".") or "bin",
            "mediatype": e["mediatype"],
            "bytes": e["bytes"],
            "hash": f"sha256:{e['sha256']}",
            "licenses": [licence],
            "sources": _sources(e),
            "witan:role": e["role"],
            "witan:member": e["member"],
        }
        if ext in TABULAR:
            resource["profile"] = "tabular-data-resource"
            resource["encoding"] = "utf-8"
            if e.get("schema"):
                resource["schema"] = e["schema"]
        else:
            # Not a table to frictionless: checked as bytes (size and hash) only.
            resource["profile"] = "data-resource"
            resource["type"] = "file"
        resources.append(resource)
    withheld = [
        {
            "path": e["path"],
            "hash": f"sha256:{e['sha256']}",
            "bytes": e["bytes"],
            "mediatype": e["mediatype"],
            "source": e.get("source", {}),
            "reason": "personal data: readable only with your own grant on its dataset",
        }
        for e in manifest["files"]
        if e["path"] not in included
    ]
    description = pack.get("summary") or ""
    if pack.get("conclusions"):
        description += "\n\n## Conclusions\n\n" + pack["conclusions"]
    out: dict[str, Any] = {
        "profile": "data-package",
        "name": f"witan-datapack-{pack['id']}",
        "id": f"witan:datapack:{pack['id']}",
        "title": pack["title"],
        "description": description,
        "version": "1.0.0",
        "created": manifest["sealed_at"],
        "keywords": list(pack.get("tags") or []),
        "licenses": [licence],
        "contributors": _contributors(manifest),
        "sources": [{"title": f"Witan datastore of {pack['owner_org']}"}],
        "resources": resources,
        "witan:manifest": MANIFEST_NAME,
        "witan:seal": SEAL_NAME,
    }
    if pack.get("supersedes"):
        out["witan:supersedes"] = pack["supersedes"]
    if withheld:
        out["witan:withheld"] = withheld
    metadata_only = [m for m in manifest["members"] if m["kind"] == "dataset-metadata"]
    if metadata_only:
        out["witan:metadata_only"] = [
            {"dataset_id": m.get("dataset_id"), "caption": m.get("caption"), "metadata": m.get("metadata")}
            for m in metadata_only
        ]
    return out


def _id(path: str) -> dict[str, str]:
    return {"@id": path}


def ro_crate(manifest: Mapping[str, Any], included: Collection[str]) -> dict[str, Any]:
    """RO-Crate 1.1 metadata: the root dataset, every file, withheld files as references, each model
    run as a CreateAction with its model (instrument), inputs (object) and outputs (result)."""
    pack = manifest["pack"]
    members = _member_captions(manifest)
    org_id = f"#organisation-{pack['owner_org']}"
    licence = _licence(manifest)
    graph: list[dict[str, Any]] = [
        {
            "@id": RO_CRATE_NAME,
            "@type": "CreativeWork",
            "conformsTo": _id(RO_CRATE_PROFILE),
            "about": _id("./"),
        }
    ]
    parts: list[dict[str, str]] = []
    entities: list[dict[str, Any]] = []
    file_ids: dict[str, str] = {}
    for e in manifest["files"]:
        member = members.get(e["member"], {})
        common = {
            "name": e.get("title") or e["path"],
            "description": member.get("caption", ""),
            "encodingFormat": e["mediatype"],
            "contentSize": str(e["bytes"]),
            "sha256": e["sha256"],
        }
        if e["path"] in included:
            file_ids[e["path"]] = e["path"]
            parts.append(_id(e["path"]))
            entities.append({"@id": e["path"], "@type": "File", **common})
        else:
            ref = f"#withheld/{e['path']}"
            file_ids[e["path"]] = ref
            entities.append(
                {
                    "@id": ref,
                    "@type": "CreativeWork",
                    **common,
                    "identifier": e["path"],
                    "conditionsOfAccess": "personal data: readable only with your own grant on its dataset",
                }
            )
    actions: list[dict[str, Any]] = []
    instruments: dict[str, dict[str, Any]] = {}
    for run in manifest["runs"]:
        code = run.get("code_version") or {}
        tool_id = (
            f"#model-{run['model']}-{run.get('model_version')}-{str(code.get('source_sha256', ''))[:12]}"
        )
        instruments[tool_id] = {
            "@id": tool_id,
            "@type": "SoftwareApplication",
            "name": f"Witan {run['model']} model",
            "version": str(run.get("model_version")),
            "softwareVersion": str(code.get("package", "")),
            "identifier": f"sha256:{code.get('source_sha256', '')}",
        }
        params_id = f"#run-{run['run_id']}-parameters"
        entities.append(
            {
                "@id": params_id,
                "@type": "PropertyValue",
                "name": "parameters, scenarios, seed and simulations",
                "value": json.dumps(
                    {k: run.get(k) for k in ("parameters", "scenarios", "seed", "simulations", "chunk_size")},
                    sort_keys=True,
                ),
            }
        )
        inputs = [file_ids[p] for spec in run["inputs"].values() for p in spec["files"] if p in file_ids]
        actions.append(
            {
                "@id": f"#run-{run['run_id']}",
                "@type": "CreateAction",
                "name": f"{run['model']} model run {run['run_id']}",
                "description": members.get(run["member"], {}).get("caption", ""),
                "instrument": _id(tool_id),
                "object": [_id(i) for i in [*inputs, params_id, file_ids.get(run["plan"], run["plan"])]],
                "result": [_id(file_ids[p]) for p in run["outputs"] if p in file_ids],
                "startTime": run.get("created_at"),
            }
        )
    root: dict[str, Any] = {
        "@id": "./",
        "@type": "Dataset",
        "identifier": f"witan:datapack:{pack['id']}",
        "name": pack["title"],
        "description": pack.get("summary") or pack["title"],
        "abstract": pack.get("conclusions") or "",
        "datePublished": manifest["sealed_at"],
        "dateCreated": pack["created_at"],
        "keywords": ", ".join(pack.get("tags") or []),
        "license": _id("#licence"),
        "publisher": _id(org_id),
        "hasPart": parts,
        "mentions": [_id(a["@id"]) for a in actions],
    }
    if pack.get("supersedes"):
        root["isBasedOn"] = _id(f"#datapack-{pack['supersedes']}")
        entities.append(
            {
                "@id": f"#datapack-{pack['supersedes']}",
                "@type": "CreativeWork",
                "name": "the pack this edition supersedes",
                "identifier": f"witan:datapack:{pack['supersedes']}",
            }
        )
    graph += [
        root,
        {"@id": "#licence", "@type": "CreativeWork", "name": licence["title"], "identifier": licence["name"]},
        {"@id": org_id, "@type": "Organization", "name": pack["owner_org"]},
        *entities,
        *instruments.values(),
        *actions,
    ]
    return {"@context": RO_CRATE_CONTEXT, "@graph": graph}


def readme(manifest: Mapping[str, Any], included: Collection[str]) -> str:
    """The pack for people: what it is, what each member is, how to check and re-run it."""
    pack = manifest["pack"]
    lines = [f"# {pack['title']}", ""]
    if pack.get("summary"):
        lines += [pack["summary"], ""]
    lines += [
        f"- Pack: `{pack['id']}` of {pack['owner_org']}, sealed {manifest['sealed_at']} by user "
        f"`{manifest['sealed_by']}`",
        f"- Licence: {pack.get('licence') or 'not stated'}",
    ]
    if pack.get("tags"):
        lines.append(f"- Tags: {', '.join(pack['tags'])}")
    if pack.get("supersedes"):
        lines.append(f"- Supersedes pack `{pack['supersedes']}`")
    lines.append("")
    if pack.get("conclusions"):
        lines += ["## Conclusions", "", pack["conclusions"].rstrip(), ""]
    lines += [
        "## Members",
        "",
        "| member | kind | role | what it is | files |",
        "| --- | --- | --- | --- | --- |",
    ]
    for m in manifest["members"]:
        caption = str(m.get("caption", "")).replace("|", "\\|").replace("\n", " ")
        files = len(m.get("files") or [])
        kept = sum(1 for p in m.get("files") or [] if p not in included)
        note = f"{files}" + (f" ({kept} withheld: personal data)" if kept else "")
        if m["kind"] == "dataset-metadata":
            note = "metadata only"
        lines.append(f"| {m['id']} | {m['kind']} | {m['role']} | {caption} | {note} |")
    lines += ["", "## Files", "", "| path | bytes | sha256 |", "| --- | --- | --- |"]
    for e in manifest["files"]:
        mark = "" if e["path"] in included else " (withheld: personal data)"
        lines.append(f"| `{e['path']}`{mark} | {e['bytes']} | `{e['sha256']}` |")
    if manifest["runs"]:
        lines += ["", "## Model runs", ""]
        for run in manifest["runs"]:
            code = run.get("code_version") or {}
            names = [s.get("name") for s in run.get("scenarios") or []]
            lines.append(
                f"- `{run['run_id']}`: {run['model']} model version {run.get('model_version')} (witan "
                f"{code.get('package')}, source sha256 `{str(code.get('source_sha256', ''))[:16]}...`), "
                f"seed {run.get('seed')}, {run.get('simulations')} simulation(s), scenarios "
                f"{', '.join(str(n) for n in names)}; files under `runs/{run['run_id']}/`"
            )
    lines += [
        "",
        "## How to check it",
        "",
        "`witan datapack verify THIS.zip` recomputes the SHA-256 of every file against `manifest.json`, and",
        "the manifest's own hash against `seal.json`; it exits 0 and prints `ok`, or exits 1 naming every",
        "changed, missing or added file. The manifest's hash is also in the platform's audit trail (the",
        "`datapack.seal` event named in `seal.json`): `GET /datapacks/{id}/verify` checks it there.",
        "",
        "## How to re-run it",
        "",
        "`witan datapack reproduce THIS.zip` re-runs every model run from the pack's own inputs,",
        "parameters and seed, and compares each output with the sealed one (identical bytes for CSV and",
        "Parquet, or equal to 1e-12 where only a library's float formatting changed, named as such). It",
        "reports the code version of the sealed run and of the code re-running it.",
        "",
    ]
    return "\n".join(lines)


def generated_files(manifest: Mapping[str, Any], included: Collection[str]) -> dict[str, bytes]:
    """The three description files of an export, byte for byte as verify rebuilds them."""
    return {
        DATAPACKAGE_NAME: (
            json.dumps(datapackage(manifest, included), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode(),
        RO_CRATE_NAME: (
            json.dumps(ro_crate(manifest, included), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode(),
        README_NAME: readme(manifest, included).encode("utf-8"),
    }
