"""Manifest, Data Package, RO-Crate, README, zip export and verify on a pack sealed from a SEND run."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from witan.api.errors import status_of
from witan.datapacks import records as dm
from witan.datapacks.bundle import export_zip, read_zip, verify_zip
from witan.datapacks.describe import DATAPACKAGE_NAME, README_NAME, RO_CRATE_NAME
from witan.datapacks.manifest import manifest_bytes, sha256_hex
from witan.errors import WitanError

from tests.unit.datapacks.pack_fixtures import NOW, Built, build_pack


def _rezip(source: bytes, change: dict[str, bytes | None]) -> bytes:
    """The zip with entries replaced (bytes), dropped (None) or added (new names)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    dst.writestr(info.filename, change[info.filename])
            else:
                dst.writestr(info, src.read(info))
        names = set(src.namelist())
        for name, data in change.items():
            if name not in names and data is not None:
                dst.writestr(name, data)
    return out.getvalue()


def _entry(built: Built, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        return archive.read(name)


def test_manifest_lists_every_file_with_its_hash_size_and_member(built: Built) -> None:
    entries = built.manifest["files"]
    assert [e["path"] for e in entries] == sorted(built.files)
    for e in entries:
        data = built.files[e["path"]]
        assert e["sha256"] == sha256_hex(data) and e["bytes"] == len(data)
    run = built.manifest["runs"][0]
    assert run["model"] == "send" and run["seed"] == 5 and run["simulations"] == 12
    assert [s["name"] for s in run["scenarios"]] == ["baseline", "fewer-moves"]
    assert set(run["inputs"]) == {"transitions", "population", "costs", "valid_states"}
    assert run["code_version"]["source_sha256"]
    assert "runs/run1/outputs/count.csv" in run["outputs"]
    assert "runs/run1/outputs/scenarios/fewer-moves/comparison.csv" in run["outputs"]
    # the requester's email is not carried into the pack
    assert json.loads(built.files["runs/run1/plan.json"])["email"] is None
    kinds = {m["kind"] for m in built.manifest["members"]}
    assert kinds == {"model-run", "pack-file", "dataset-file", "dataset-metadata"}


def test_known_input_schema_is_the_models(built: Built) -> None:
    entry = next(e for e in built.manifest["files"] if e["path"].endswith("transitions.csv"))
    assert entry["schema"]["fields"][0]["name"] == "calendar-year"
    assert entry["schema"]["fields"][0]["type"] == "integer"
    output = next(e for e in built.manifest["files"] if e["path"] == "runs/run1/outputs/count.csv")
    assert all(f["type"] == "any" for f in output["schema"]["fields"])  # columns known, types not claimed


def test_zip_holds_descriptions_manifest_seal_and_files(built: Built) -> None:
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        names = set(archive.namelist())
    assert {DATAPACKAGE_NAME, RO_CRATE_NAME, README_NAME, "manifest.json", "seal.json"} <= names
    assert set(built.files) <= names
    seal = json.loads(_entry(built, "seal.json"))
    assert seal["manifest_sha256"] == sha256_hex(_entry(built, "manifest.json"))
    assert seal["audit_event_id"] == "audit-1"


def test_export_is_deterministic(built: Built) -> None:
    again, withheld = export_zip(built.manifest, "audit-1", built.files)
    assert again == built.zip_bytes and withheld == []


def test_datapackage_is_valid_by_frictionless(built: Built, tmp_path: Path) -> None:
    frictionless = pytest.importorskip("frictionless")
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        archive.extractall(tmp_path)
    report = frictionless.validate(str(tmp_path / DATAPACKAGE_NAME))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    descriptor = json.loads((tmp_path / DATAPACKAGE_NAME).read_text())
    assert len(descriptor["resources"]) == len(built.files)
    for resource in descriptor["resources"]:
        assert resource["hash"].startswith("sha256:") and resource["bytes"] > 0
        assert resource["mediatype"] and resource["licenses"] and resource["sources"]
    assert descriptor["licenses"][0]["name"] == "OGL-UK-3.0"
    assert descriptor["contributors"][0] == {"title": "org-camden", "role": "publisher"}
    assert descriptor["witan:metadata_only"][0]["metadata"]["title"] == "School roll"
    # frictionless itself catches a changed byte through the declared hash
    target = tmp_path / "runs/run1/outputs/count.csv"
    data = bytearray(target.read_bytes())
    data[-2] = ord("9") if data[-2] != ord("9") else ord("8")
    target.write_bytes(bytes(data))
    assert not frictionless.validate(str(tmp_path / DATAPACKAGE_NAME)).valid


def _graph(built: Built) -> dict[str, dict[str, Any]]:
    crate = json.loads(_entry(built, RO_CRATE_NAME))
    assert crate["@context"] == "https://w3id.org/ro/crate/1.1/context"
    return {e["@id"]: e for e in crate["@graph"]}


def test_ro_crate_shape(built: Built) -> None:
    graph = _graph(built)
    descriptor = graph["ro-crate-metadata.json"]
    assert descriptor["@type"] == "CreativeWork"
    assert descriptor["conformsTo"] == {"@id": "https://w3id.org/ro/crate/1.1"}
    assert descriptor["about"] == {"@id": "./"}
    root = graph["./"]
    assert root["@type"] == "Dataset"
    for prop in ("name", "description", "datePublished", "license"):
        assert root[prop]
    assert root["license"]["@id"] in graph and root["publisher"]["@id"] in graph
    parts = {p["@id"] for p in root["hasPart"]}
    assert parts == set(built.files)
    for path in parts:
        assert graph[path]["@type"] == "File" and len(graph[path]["sha256"]) == 64
    (action,) = [e for e in graph.values() if e["@type"] == "CreateAction"]
    assert graph[action["instrument"]["@id"]]["@type"] == "SoftwareApplication"
    objects = {o["@id"] for o in action["object"]}
    assert {i for i in objects if "/inputs/" in i} == {
        p for p in built.files if p.startswith("runs/run1/inputs/")
    }
    assert {r["@id"] for r in action["result"]} == {
        p for p in built.files if p.startswith("runs/run1/outputs/")
    }
    assert all(o in graph for o in objects)
    assert {"@id": action["@id"]} in root["mentions"]


def test_readme_says_what_each_member_is_and_how_to_check_and_rerun(built: Built) -> None:
    text = _entry(built, README_NAME).decode()
    assert text.startswith("# SEND: baseline against fewer moves")
    assert "## Conclusions" in text and "**more plans**" in text.replace("Fewer moves means ", "")
    for caption in ("the SEND run", "the analysis script", "the census extract", "metadata only"):
        assert caption in text
    assert "witan datapack verify" in text and "witan datapack reproduce" in text
    assert "`runs/run1/outputs/count.csv`" in text


def test_verify_ok(built: Built) -> None:
    report = verify_zip(built.zip_bytes)
    assert report.ok, report.lines()
    assert report.lines()[0].startswith("ok: ")
    assert report.checked == len(built.files)


def test_verify_catches_a_tampered_byte(built: Built) -> None:
    path = "runs/run1/outputs/count.csv"
    data = bytearray(built.files[path])
    data[40] ^= 1
    report = verify_zip(_rezip(built.zip_bytes, {path: bytes(data)}))
    assert not report.ok and report.changed == [path]
    assert f"changed: {path}" in report.lines()


def test_verify_catches_a_dropped_file(built: Built) -> None:
    path = "files/analysis.py"
    report = verify_zip(_rezip(built.zip_bytes, {path: None}))
    assert not report.ok and report.missing == [path]


def test_verify_catches_an_added_file(built: Built) -> None:
    report = verify_zip(_rezip(built.zip_bytes, {"files/extra.csv": b"a\n1\n"}))
    assert not report.ok and report.added == ["files/extra.csv"]


def test_verify_catches_an_edited_manifest(built: Built) -> None:
    manifest = json.loads(_entry(built, "manifest.json"))
    manifest["pack"]["conclusions"] = "Nothing to see."
    report = verify_zip(_rezip(built.zip_bytes, {"manifest.json": manifest_bytes(manifest)}))
    assert not report.ok and "manifest.json changed" in report.problems[0]
    # the same edit with its hash re-recorded in seal.json still fails against the audit trail's hash
    seal = json.loads(_entry(built, "seal.json"))
    seal["manifest_sha256"] = sha256_hex(manifest_bytes(manifest))
    forged = _rezip(
        built.zip_bytes, {"manifest.json": manifest_bytes(manifest), "seal.json": json.dumps(seal).encode()}
    )
    recorded = sha256_hex(_entry(built, "manifest.json"))
    report = verify_zip(forged, recorded_sha256=recorded)
    assert not report.ok and "audit trail" in report.problems[0]
    # and the descriptions no longer match the forged manifest's text either
    assert DATAPACKAGE_NAME in report.changed and README_NAME in report.changed


def test_verify_catches_an_edited_description(built: Built) -> None:
    text = _entry(built, README_NAME).replace(b"Fewer moves", b"Many moves")
    report = verify_zip(_rezip(built.zip_bytes, {README_NAME: text}))
    assert report.changed == [README_NAME]


def test_verify_names_every_problem_at_once(built: Built) -> None:
    path = "runs/run1/outputs/cost.csv"
    changed = _rezip(built.zip_bytes, {path: b"x", "files/analysis.py": None, "notes.txt": b"hello"})
    report = verify_zip(changed)
    assert (
        report.changed == [path] and report.missing == ["files/analysis.py"] and report.added == ["notes.txt"]
    )


def test_verify_refuses_what_is_not_a_zip() -> None:
    report = verify_zip(b"not a zip")
    assert not report.ok and "not a readable zip" in report.problems[0]


def test_personal_member_is_a_reference_without_its_bytes(tmp_path: Path) -> None:
    path = f"datasets/{'d' * 32}/2/census.csv"
    built = build_pack(tmp_path, personal_path=path)
    manifest, _, files = read_zip(built.zip_bytes)
    assert manifest is not None and path not in files
    report = verify_zip(built.zip_bytes)
    assert report.ok and report.withheld == [path]
    descriptor = json.loads(files[DATAPACKAGE_NAME])
    assert path not in {r["path"] for r in descriptor["resources"]}
    (withheld,) = descriptor["witan:withheld"]
    assert withheld["path"] == path and withheld["hash"] == f"sha256:{sha256_hex(built.files[path])}"
    crate = {e["@id"]: e for e in json.loads(files[RO_CRATE_NAME])["@graph"]}
    assert crate[f"#withheld/{path}"]["conditionsOfAccess"].startswith("personal data")
    assert b"withheld: personal data" in files[README_NAME]


def test_a_draft_changes_and_a_sealed_pack_does_not() -> None:
    pack = dm.create("b" * 32, "org-camden", "u", NOW, title="t")
    script = dm.Member("", dm.MemberKind.PACK_FILE, dm.Role.SCRIPT, "s", "u", NOW, file_name="a.py")
    pack = dm.add_member(pack, script, NOW)
    with pytest.raises(WitanError) as twice:
        dm.add_member(pack, script, NOW)
    assert twice.value.code == "duplicate-member"
    pack = dm.edit(pack, {"summary": "new"}, NOW)
    with pytest.raises(WitanError):
        dm.edit(pack, {"owner_org": "org-x"}, NOW)
    sealed = dm.mark_sealed(pack, "f" * 64, "u", NOW)
    for change in (
        lambda: dm.add_member(sealed, script, NOW),
        lambda: dm.remove_member(sealed, "m1", NOW),
        lambda: dm.edit(sealed, {"title": "x"}, NOW),
        lambda: dm.mark_sealed(sealed, "0" * 64, "u", NOW),
    ):
        with pytest.raises(WitanError) as refused:
            change()
        assert refused.value.code == "pack-sealed" and status_of(refused.value) == 409
    assert dm.Pack.from_dict(json.loads(json.dumps(sealed.to_dict()))) == sealed
    with pytest.raises(WitanError) as empty:
        dm.mark_sealed(dm.create("c" * 32, "org-camden", "u", NOW, title="t"), "0" * 64, "u", NOW)
    assert empty.value.code == "empty-pack"
