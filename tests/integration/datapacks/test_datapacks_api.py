"""Datapacks through the real access_api handler on moto: draft, members (only what the author may
read), seal (hashes, Object Lock, the manifest's hash in the audit trail), share, export (personal data
only to its own grantees), verify and reproduce the exported zip."""

from __future__ import annotations

import io
import json
import urllib.parse
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from datapacks_harness import (
    DATA_BUCKET,
    OTHER,
    OWNER,
    PACKS_BUCKET,
    World,
    group_grant,
    zip_names,
)
from witan.access.records import Activity
from witan.datapacks.bundle import verify_zip
from witan.datapacks.reproduce import IDENTICAL, reproduce_zip

pytestmark = pytest.mark.xdist_group("datapacks")


def _draft(world: World, **extra: Any) -> str:
    status, body = world.call(
        "POST",
        "/datapacks",
        body={
            "title": "SEND: baseline against fewer moves",
            "summary": "The caseload with fewer moves into SPIB.",
            "conclusions": "Fewer moves, **fewer plans**.",
            "licence": "OGL-UK-3.0",
            "tags": ["send"],
            **extra,
        },
    )
    assert status == 201, body
    return str(body["id"])


def _add(world: World, pack_id: str, persona: Any = OWNER, **member: Any) -> tuple[int, Any]:
    return world.call("POST", f"/datapacks/{pack_id}/members", persona, body=member)


def _export(world: World, pack_id: str, persona: Any = OWNER) -> tuple[dict[str, Any], bytes]:
    status, body = world.call("GET", f"/datapacks/{pack_id}/export", persona, query={"purpose": "scrutiny"})
    assert status == 200, body
    return body, world.s3.get_object(Bucket=PACKS_BUCKET, Key=body["key"])["Body"].read()


def _full_pack(world: World) -> dict[str, Any]:
    """A pack with every kind of member, sealed; the ids involved."""
    run_id = world.seed_send_run(personal_costs=True)
    census = world.seed_dataset(personal=False, file_name="census.csv", data=b"year,n\n2020,5\n")
    elsewhere = world.seed_dataset(
        "org-islington", personal=True, grants=[group_grant("org-camden", {Activity.META_READ})]
    )
    pack_id = _draft(world)
    assert (
        _add(world, pack_id, kind="model-run", role="output", caption="the SEND run", model_run=run_id)[0]
        == 201
    )
    assert _add(world, pack_id, kind="dataset-file", role="input", caption="census", dataset=census)[0] == 201
    status, added = _add(
        world, pack_id, kind="dataset-metadata", role="other", caption="roll", dataset=elsewhere
    )
    assert status == 201 and added["member"]["metadata"]["title"].startswith("dataset")
    status, added = _add(
        world,
        pack_id,
        kind="pack-file",
        role="script",
        caption="analysis",
        file_name="analysis.py",
        content_type="text/x-python",
    )
    assert status == 201 and added["upload"]["key"] == f"drafts/{pack_id}/m4/analysis.py"
    # the browser's presigned POST, as S3 would store it
    world.s3.put_object(Bucket=PACKS_BUCKET, Key=added["upload"]["key"], Body=b"print('caseload')\n")
    status, sealed = world.call("POST", f"/datapacks/{pack_id}/seal")
    assert status == 200, sealed
    return {
        "pack": pack_id,
        "run": run_id,
        "census": census,
        "elsewhere": elsewhere,
        "sealed": sealed,
        "seal_request": world.last_request_id,
    }


def test_seal_export_verify_and_reproduce(world: World) -> None:
    ids = _full_pack(world)
    pack_id, sealed = ids["pack"], ids["sealed"]
    digest = sealed["manifest_sha256"]
    assert sealed["pack"]["status"] == "sealed" and sealed["withheld"] == 1  # the personal costs input
    # the seal's audit event carries the manifest's hash, and the pack names that event
    (event,) = world.events_for(ids["seal_request"])
    detail = json.loads(event["detail"])
    assert event["action"] == "datapack.seal" and detail["manifest_sha256"] == digest
    assert sealed["pack"]["seal_event_id"] == f"{event['chain']}/{event['seq']}"
    # sealed files are under Object Lock, compliance mode, ~7 years; the personal input is not copied
    listed = world.s3.list_objects_v2(Bucket=PACKS_BUCKET, Prefix=f"datapacks/{pack_id}/")["Contents"]
    keys = {o["Key"] for o in listed}
    assert f"datapacks/{pack_id}/manifest.json" in keys
    assert not any(k.endswith("/costs.csv") for k in keys)
    # (moto answers GetObjectRetention with a 500; HeadObject carries the same lock)
    head = world.s3.head_object(Bucket=PACKS_BUCKET, Key=f"datapacks/{pack_id}/manifest.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert until - datetime.now(UTC) > timedelta(days=365 * 7 - 2)

    # the owner holds file-read on the personal dataset: the export has its bytes
    link, data = _export(world, pack_id)
    assert link["withheld"] == []
    assert verify_zip(data).ok
    report = reproduce_zip(data)
    assert report.ok, report.lines()
    strict = [o for o in report.runs[0].outputs if o.path.endswith((".csv", ".parquet"))]
    assert strict and all(o.status == IDENTICAL for o in strict)

    status, checked = world.call("GET", f"/datapacks/{pack_id}/verify")
    assert status == 200 and checked["ok"], checked
    assert (
        checked["recorded_sha256"] == digest and checked["audit_event_id"] == sealed["pack"]["seal_event_id"]
    )


def test_sharing_a_pack_never_shares_personal_data(world: World) -> None:
    ids = _full_pack(world)
    pack_id = ids["pack"]
    status, _ = world.call(
        "PUT",
        f"/datapacks/{pack_id}/grants",
        body={
            "grantee_type": "group",
            "grantee": "org-islington",
            "activities": ["file-read"],
            "purpose": {"code": "scrutiny", "text": "committee"},
        },
    )
    assert status == 200
    link, data = _export(world, pack_id, OTHER)
    export_request = world.last_request_id
    costs = next(p for p in link["withheld"] if p.endswith("costs.csv"))
    assert link["withheld"] == [costs]
    assert costs not in zip_names(data)
    costs_bytes = world.s3.get_object(Bucket=DATA_BUCKET, Key=_costs_key(world, ids["run"]))["Body"].read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(costs_bytes not in archive.read(n) for n in archive.namelist())
        descriptor = json.loads(archive.read("datapackage.json"))
    assert [w["path"] for w in descriptor["witan:withheld"]] == [costs]
    # the metadata-only member stays metadata: no file of that dataset anywhere in the zip
    assert not any(ids["elsewhere"] in n for n in zip_names(data))
    report = verify_zip(data)
    assert report.ok and report.withheld == [costs]
    # without the input the run cannot be re-run: said so, not faked
    assert "not in the pack" in reproduce_zip(data).runs[0].problems[0]
    # the export's audit event names what was withheld
    exported = [e for e in world.events_for(export_request) if e["action"] == "datapack.export"]
    assert json.loads(exported[0]["detail"])["withheld"] == [costs]


def _costs_key(world: World, run_id: str) -> str:
    plan = json.loads(
        world.s3.get_object(Bucket=DATA_BUCKET, Key=f"models/{run_id}/plan.json")["Body"].read()
    )
    return str(plan["inputs"]["costs"])


def test_adding_what_you_cannot_read_is_refused(world: World) -> None:
    pack_id = _draft(world)
    hidden = world.seed_dataset("org-islington")
    meta_only = world.seed_dataset("org-islington", grants=[group_grant("org-camden", {Activity.META_READ})])
    status, body = _add(world, pack_id, kind="dataset-file", role="input", dataset=hidden)
    assert status == 404, body
    status, body = _add(world, pack_id, kind="dataset-file", role="input", dataset=meta_only)
    assert status == 403 and body["code"] == "forbidden"
    event = world.events_for(world.last_request_id)[0]
    assert event["decision"] == "deny" and "member-not-readable" in event["reason"]
    assert _add(world, pack_id, kind="dataset-metadata", role="other", dataset=meta_only)[0] == 201
    other_run = world.seed_send_run("org-islington")
    status, body = _add(world, pack_id, kind="model-run", role="output", model_run=other_run)
    assert status == 404, body
    status, body = world.call("GET", f"/datapacks/{pack_id}")
    assert [m["kind"] for m in body["members"]] == ["dataset-metadata"]


def test_a_run_whose_inputs_you_cannot_read_is_refused(world: World) -> None:
    run_id = world.seed_send_run()
    # the run is camden's, but one of its inputs now belongs to someone else
    plan = json.loads(
        world.s3.get_object(Bucket=DATA_BUCKET, Key=f"models/{run_id}/plan.json")["Body"].read()
    )
    hidden = world.seed_dataset("org-islington")
    from witan.aws.model_runs import ModelRunsTable

    table = ModelRunsTable(world.tables["MODEL_RUNS_TABLE"], world.ddb)
    table._set(run_id, {"inputs": {**plan["inputs"], "costs": f"datasets/{hidden}/1/data.csv"}})
    pack_id = _draft(world)
    status, _ = _add(world, pack_id, kind="model-run", role="output", model_run=run_id)
    assert status == 404 and "run-input-not-readable" in world.events_for(world.last_request_id)[0]["reason"]


def test_a_sealed_pack_never_changes(world: World) -> None:
    pack_id = world.seed_pack()
    assert world.call("POST", f"/datapacks/{pack_id}/seal")[0] == 200
    for method, path, body in (
        (
            "POST",
            f"/datapacks/{pack_id}/members",
            {"kind": "pack-file", "role": "other", "file_name": "b.txt"},
        ),
        ("DELETE", f"/datapacks/{pack_id}/members/m1", None),
        ("PATCH", f"/datapacks/{pack_id}", {"title": "changed"}),
        ("POST", f"/datapacks/{pack_id}/seal", None),
    ):
        status, answer = world.call(method, path, body=body)
        assert status == 409 and answer["code"] == "pack-sealed", (method, path, answer)
    # a new edition names the one it supersedes
    new_id = _draft(world, supersedes=pack_id)
    assert world.call("GET", f"/datapacks/{new_id}")[1]["supersedes"] == pack_id
    # a draft cannot be superseded
    draft = world.seed_pack()
    status, body = world.call("POST", "/datapacks", body={"title": "t", "supersedes": draft})
    assert status == 409 and body["code"] == "pack-not-sealed"


def test_sealed_bytes_cannot_be_replaced_or_deleted(world: World) -> None:
    pack_id = world.seed_pack()
    status, sealed = world.call("POST", f"/datapacks/{pack_id}/seal")
    assert status == 200
    key = f"datapacks/{pack_id}/files/files/a.py"
    version = sealed["pack"]["members"] and world.store.get(pack_id).extra["sealed_versions"]["files/a.py"]
    with pytest.raises(ClientError):
        world.s3.delete_object(Bucket=PACKS_BUCKET, Key=key, VersionId=version)
    # writing the key again makes a new version, which the pack never reads
    world.s3.put_object(Bucket=PACKS_BUCKET, Key=key, Body=b"print('tampered')\n")
    _, data = _export(world, pack_id)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("files/a.py") == b"print(1)\n"
    assert world.call("GET", f"/datapacks/{pack_id}/verify")[1]["ok"]


def test_verify_catches_a_pack_record_that_no_longer_matches_the_audit_trail(world: World) -> None:
    pack_id = world.seed_pack()
    assert world.call("POST", f"/datapacks/{pack_id}/seal")[0] == 200
    item = world.ddb.get_item(
        TableName=world.tables["CATALOG_TABLE"], Key={"pk": {"S": f"PACK#{pack_id}"}, "sk": {"S": "CURRENT"}}
    )["Item"]
    record = json.loads(item["record"]["S"])
    record["manifest_sha256"] = "0" * 64
    item["record"] = {"S": json.dumps(record)}
    world.ddb.put_item(TableName=world.tables["CATALOG_TABLE"], Item=item)
    status, checked = world.call("GET", f"/datapacks/{pack_id}/verify")
    assert status == 200 and not checked["ok"]
    assert any("manifest.json changed" in p for p in checked["problems"])
    assert checked["recorded_sha256"] != "0" * 64


def test_every_action_is_audited(world: World) -> None:
    pack_id = _draft(world)
    actions = []
    for method, path, body, query in (
        ("GET", f"/datapacks/{pack_id}", None, None),
        ("PATCH", f"/datapacks/{pack_id}", {"summary": "new"}, None),
        (
            "POST",
            f"/datapacks/{pack_id}/members",
            {"kind": "pack-file", "role": "report", "file_name": "r.md"},
            None,
        ),
        ("DELETE", f"/datapacks/{pack_id}/members/m1", None, None),
        ("GET", "/datapacks", None, None),
        ("GET", f"/datapacks/{pack_id}/access", None, None),
        (
            "PUT",
            f"/datapacks/{pack_id}/grants",
            {"grantee_type": "user", "grantee": "x-1", "activities": ["meta-read"]},
            None,
        ),
        ("DELETE", f"/datapacks/{pack_id}/grants", None, {"grantee_type": "user", "grantee": "x-1"}),
    ):
        status, answer = world.call(method, path, body=body, query=query)
        assert status < 300, (path, answer)
        (event,) = world.events_for(world.last_request_id)
        actions.append(event["action"])
        if event["action"] != "datapack.list":
            assert event["resource"] == f"datapack/{pack_id}"
    assert actions == [
        "datapack.read",
        "datapack.update",
        "datapack.member.add",
        "datapack.member.remove",
        "datapack.list",
        "datapack.access",
        "datapack.grant.put",
        "datapack.grant.revoke",
    ]
    assert urllib.parse.quote(pack_id) == pack_id
