"""The packs bucket: Object Lock, versioned, private, exports expiring; access_api's settings and rights
for it (no delete, no retention bypass); `witan:datapackRetentionYears` read and checked."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import ConfigError, load_config

Tpl = dict[str, Any]
GOOD: dict[str, Any] = {
    "witan:environment": "dev",
    "witan:adminEmail": "admin@council.example.org",
    "witan:sesSender": "noreply@council.example.org",
    "witan:allowedOrigins": ["https://witan.example.org"],
}


def _resources(template: Tpl, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _packs_bucket(template: Tpl) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v)
        for k, v in _resources(template, "AWS::S3::Bucket").items()
        if k.startswith("DatapacksPacksBucket")
    ]
    return found


def _access_api(template: Tpl) -> dict[str, Any]:
    (fn,) = [
        v
        for v in _resources(template, "AWS::Lambda::Function").values()
        if "DATAPACKS_BUCKET" in v["Properties"].get("Environment", {}).get("Variables", {})
    ]
    return fn


def test_packs_bucket_has_object_lock_and_is_private(template: Tpl) -> None:
    _, bucket = _packs_bucket(template)
    p = bucket["Properties"]
    assert p["ObjectLockEnabled"] is True
    assert "ObjectLockConfiguration" not in p or "Rule" not in p["ObjectLockConfiguration"]  # per-object only
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    assert p["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert p["LoggingConfiguration"]["LogFilePrefix"] == "datapacks-bucket/"
    assert bucket["DeletionPolicy"] == "Retain"
    rules = {r["Id"]: r for r in p["LifecycleConfiguration"]["Rules"]}
    assert (
        rules["expire-exports"]["Prefix"] == "exports/" and rules["expire-exports"]["ExpirationInDays"] == 1
    )


def test_access_api_is_told_the_bucket_retention_and_mode(template: Tpl) -> None:
    logical_id, _ = _packs_bucket(template)
    env = _access_api(template)["Properties"]["Environment"]["Variables"]
    assert env["DATAPACKS_BUCKET"] == {"Ref": logical_id}
    assert env["DATAPACK_RETENTION_YEARS"] == "7"
    assert env["DATAPACK_LOCK_MODE"] == "COMPLIANCE"


def test_access_api_may_write_and_lock_but_never_delete(template: Tpl) -> None:
    logical_id, _ = _packs_bucket(template)
    statements = [
        s
        for policy in _resources(template, "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if logical_id in str(s.get("Resource"))
    ]
    (grant,) = [s for s in statements if s.get("Sid") == "DatapackObjects"]
    assert set(grant["Action"]) == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:PutObjectRetention",
    }
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in actions if "Delete" in a or "Bypass" in a}


def test_retention_years_from_context() -> None:
    assert load_config(GOOD, {}).datapack_retention_years == 7
    assert load_config({**GOOD, "witan:datapackRetentionYears": 10}, {}).datapack_retention_years == 10
    for bad in (0, "seven", 101, True):
        with pytest.raises(ConfigError, match="witan:datapackRetentionYears"):
            load_config({**GOOD, "witan:datapackRetentionYears": bad}, {})
