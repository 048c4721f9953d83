"""The datapacks story of `make demo`: a SEND baseline-versus-scenario run packed with its inputs, a
short analysis script, its charts and a conclusion; sealed (the manifest's hash in the audit trail);
shared with another organisation (a metadata-only member stays metadata-only); exported; verified;
re-run to identical outputs; then one byte changed and verify failing. Prints `datapack export: PATH`.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.story import Demo, StepFailed, api_call, call_json, require_handler
from local.story_models import RUN_TIMEOUT_S, dataset_with_file, run_to_the_end

SCENARIO = {
    "name": "fewer-oob-joiners",
    "description": "Half as many children join out-of-borough placements",
    "modify_transitions": [{"match": {"kind": "joiner", "to_setting": "OOB"}, "factor": 0.5}],
}
ANALYSIS_SCRIPT = b'''"""How the conclusion was reached: mean EHCP count by year, baseline and scenario."""
import csv

for name in ("count.csv", "scenarios/fewer-oob-joiners/count.csv"):
    with open(f"runs/RUN/outputs/{name}") as f:
        print(name, [(r["calendar_year"], round(float(r["mean"]))) for r in csv.DictReader(f)])
'''
CONCLUSIONS = (
    "Halving out-of-borough joiners lowers the projected cost in every projected year; the count of "
    "plans moves little. See `scenarios/fewer-oob-joiners/comparison.csv` for the paired differences "
    "with their 95% intervals."
)


def packs_bucket(demo: Demo) -> str:
    """The packs bucket, as the stack tells access_api (its DATAPACKS_BUCKET variable)."""
    d = demo.deployment
    config = d.client("lambda").get_function_configuration(FunctionName=d.outputs["AccessApiFunctionName"])
    name = config.get("Environment", {}).get("Variables", {}).get("DATAPACKS_BUCKET")
    if not name:
        raise StepFailed("access_api has no DATAPACKS_BUCKET: the stack has no packs bucket")
    return str(name)


def ensure_object_lock(demo: Demo) -> str:
    """The template declares the packs bucket with Object Lock (ObjectLockEnabled, versioning); moto's
    CloudFormation creates buckets without either, so turn them on as the template says (idempotent)."""
    s3, bucket = demo.deployment.client("s3"), packs_bucket(demo)
    try:
        enabled = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
        if enabled.get("ObjectLockEnabled") == "Enabled":
            return bucket
    except s3.exceptions.ClientError:
        pass
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    return bucket


def _expect(status: int, wanted: int, body: dict[str, Any], what: str) -> None:
    if status != wanted:
        raise StepFailed(f"expected {wanted} {what}, got {status}: {json.dumps(body)[:300]}")


def _rezip_with_one_byte_changed(data: bytes, name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == name:
                changed = bytearray(content)
                changed[-2] = ord("7") if changed[-2] != ord("7") else ord("8")
                content = bytes(changed)
            dst.writestr(info, content)
    return out.getvalue()


def step_datapack(demo: Demo) -> None:
    """Pack, seal, share, export, verify, reproduce, tamper."""
    require_handler("model_run")
    require_handler("access_api")
    from witan.datapacks.bundle import verify_zip
    from witan.datapacks.reproduce import IDENTICAL, reproduce_zip
    from witan.models.send.synthetic import SyntheticSpec, synthetic_tables

    d = demo.deployment
    s3 = d.client("s3")
    bucket = ensure_object_lock(demo)
    # The run: SEND inputs as datasets of org-camden, baseline and one scenario on the state machine.
    inputs = {
        name.replace("-", "_"): {
            "dataset": dataset_with_file(
                demo, "requester", f"SEND {name}", f"{name}.csv", text.encode(), ["send"]
            )
        }
        for name, text in synthetic_tables(SyntheticSpec(children=200, population=1500)).items()
    }
    run = run_to_the_end(
        demo,
        "requester",
        {
            "model": "send",
            "inputs": inputs,
            "scenarios": [SCENARIO],
            "simulations": 20,
            "seed": 9,
            "notify": False,
        },
    )
    # A dataset of Hackney's that Camden may describe but not read: it can join the pack as metadata only.
    status, created = call_json(
        demo,
        "POST",
        "datasets",
        "analyst",
        {"title": "Hackney EHCP census (personal data)", "file_name": "census.csv", "personal_data": True},
    )
    _expect(status, 201, created, "creating Hackney's census dataset")
    census = created["dataset"]["id"]
    s3.put_object(
        Bucket=d.outputs["DataBucketName"], Key=created["upload"]["key"], Body=b"child,setting\n1,OOB\n"
    )
    status, body = call_json(
        demo,
        "PUT",
        f"datasets/{census}/grants",
        "analyst",
        {"grantee_type": "group", "grantee": "org-camden", "activities": ["meta-read"]},
    )
    _expect(status, 200, body, "granting Camden meta-read on the census")

    status, pack = call_json(
        demo,
        "POST",
        "datapacks",
        "requester",
        {
            "title": "SEND: baseline against fewer out-of-borough joiners",
            "summary": "EHCP caseload and cost projected from synthetic Camden data, 20 simulations.",
            "conclusions": CONCLUSIONS,
            "licence": "OGL-UK-3.0",
            "tags": ["send", "demo"],
        },
    )
    _expect(status, 201, pack, "creating the pack")
    pack_id = pack["id"]
    members = [
        {
            "kind": "model-run",
            "role": "output",
            "caption": "the SEND run, baseline and scenario",
            "model_run": run["id"],
        },
        {
            "kind": "dataset-metadata",
            "role": "other",
            "caption": "the census it was checked against",
            "dataset": census,
        },
        {
            "kind": "pack-file",
            "role": "script",
            "caption": "the analysis behind the conclusion",
            "file_name": "analysis.py",
            "content_type": "text/x-python",
        },
    ]
    for member in members:
        status, added = call_json(demo, "POST", f"datapacks/{pack_id}/members", "requester", member)
        _expect(status, 201, added, f"adding the {member['kind']} member")
        if added.get("upload"):
            # The file goes to the key the presigned POST allows (in-process moto takes no HTTP form posts).
            script = ANALYSIS_SCRIPT.replace(b"RUN", run["id"].encode())
            s3.put_object(Bucket=bucket, Key=added["upload"]["key"], Body=script)
    status, body = call_json(
        demo,
        "POST",
        f"datapacks/{pack_id}/members",
        "requester",
        {"kind": "dataset-file", "role": "input", "dataset": census},
    )
    if status != 403:
        raise StepFailed(f"Camden may not put Hackney's census file in a pack: expected 403, got {status}")

    status, sealed = call_json(demo, "POST", f"datapacks/{pack_id}/seal", "requester")
    _expect(status, 200, sealed, "sealing")
    demo.say(
        f"sealed: {sealed['files']} files, manifest sha256 {sealed['manifest_sha256'][:16]}..., recorded in "
        f"audit event {sealed['pack']['seal_event_id']}; Object Lock until {sealed['retain_until'][:10]}"
    )
    status, body = call_json(
        demo,
        "POST",
        f"datapacks/{pack_id}/members",
        "requester",
        {"kind": "pack-file", "role": "other", "file_name": "late.txt"},
    )
    if status != 409:
        raise StepFailed(f"a sealed pack must refuse a new member: got {status}")

    status, body = call_json(
        demo,
        "PUT",
        f"datapacks/{pack_id}/grants",
        "requester",
        {
            "grantee_type": "group",
            "grantee": "org-hackney",
            "activities": ["file-read"],
            "purpose": {"code": "scrutiny", "text": "SEND scrutiny committee"},
        },
    )
    _expect(status, 200, body, "sharing the pack with org-hackney")
    status, link = call_json(
        demo, "GET", f"datapacks/{pack_id}/export", "analyst", query={"purpose": "scrutiny"}
    )
    _expect(status, 200, link, "exporting the pack")
    data = s3.get_object(Bucket=bucket, Key=link["key"])["Body"].read()
    folder = Path(tempfile.mkdtemp(prefix="witan-datapack-"))
    path = folder / f"datapack-{pack_id}.zip"
    path.write_bytes(data)
    demo.say(f"datapack export: {path}")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        descriptor = json.loads(archive.read("datapackage.json"))
    charts = [n for n in names if n.endswith(".png")]
    demo.say(
        f"the zip: {len(names)} entries ({len(descriptor['resources'])} Data Package resources, "
        f"{len(charts)} charts, ro-crate-metadata.json, README.md, manifest.json, seal.json)"
    )
    if any(census in n for n in names) or not descriptor.get("witan:metadata_only"):
        raise StepFailed("the metadata-only member must be metadata in the pack, never a file")
    demo.say("the census member is metadata only: no file of it in the zip")

    report = verify_zip(path)
    demo.say(f"witan datapack verify {path.name}: {report.lines()[0]}")
    if not report.ok:
        raise StepFailed(f"verify failed on the untouched zip: {report.lines()}")
    status, checked = call_json(demo, "GET", f"datapacks/{pack_id}/verify", "analyst")
    if status != 200 or not checked.get("ok") or checked.get("recorded_sha256") != sealed["manifest_sha256"]:
        raise StepFailed(f"GET /datapacks/{pack_id}/verify: {json.dumps(checked)[:300]}")
    demo.say("GET /datapacks/{id}/verify: ok, and the manifest's hash is the one the audit trail recorded")

    reproduced = reproduce_zip(path)
    (rerun,) = reproduced.runs
    strict = [o for o in rerun.outputs if o.path.endswith((".csv", ".parquet"))]
    identical = sum(o.status == IDENTICAL for o in strict)
    demo.say(
        f"witan datapack reproduce: run {rerun.run_id} re-run from the pack's own inputs, parameters and "
        f"seed; {identical}/{len(strict)} CSV and Parquet outputs identical byte for byte"
    )
    demo.say(
        f"code version sealed {rerun.sealed_code_version.get('source_sha256', '')[:12]}, "
        f"re-run {rerun.current_code_version.get('source_sha256', '')[:12]}"
    )
    if not reproduced.ok or identical != len(strict):
        raise StepFailed("reproduce: " + "; ".join(reproduced.lines()[:8]))

    # The same through the API: the sealed run started again on the state machine, then compared.
    status, started = call_json(demo, "POST", f"datapacks/{pack_id}/reproduce", "analyst")
    _expect(status, 202, started, "starting the reproduction")
    (entry,) = started["runs"]
    check: dict[str, Any] = {"status": "RUNNING"}
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while check.get("status") == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.5)
        status, check = api_call(demo, "GET", entry["check"].lstrip("/"), "analyst")
        if status != 200:
            raise StepFailed(f"GET {entry['check']} -> {status}: {json.dumps(check)[:300]}")
    same = sum(
        o["status"] == IDENTICAL for o in check.get("outputs", []) if o["path"].endswith((".csv", ".parquet"))
    )
    demo.say(
        f"POST /datapacks/{{id}}/reproduce: run {entry['run']} {check.get('status')}; {same} CSV and Parquet "
        f"outputs identical to the sealed ones; same inputs {check.get('same_inputs')}"
    )
    if not check.get("ok"):
        raise StepFailed(f"the API's reproduction differs: {json.dumps(check)[:400]}")

    target = f"runs/{run['id']}/outputs/count.csv"
    tampered = folder / f"datapack-{pack_id}-tampered.zip"
    tampered.write_bytes(_rezip_with_one_byte_changed(data, target))
    report = verify_zip(tampered)
    demo.say(f"one byte of {target} changed: verify says {'; '.join(report.lines())}")
    if report.ok or report.changed != [target]:
        raise StepFailed("verify must name the changed file")
    demo.facts["datapack"] = {"pack": pack_id, "zip": str(path), "run": run["id"]}


DATAPACK_STEPS: list[tuple[str, Callable[[Demo], None]]] = [
    (
        "Datapacks: a SEND run sealed with its inputs, script and conclusion; shared, exported, verified, "
        "re-run identically, and a changed byte caught",
        step_datapack,
    ),
]
