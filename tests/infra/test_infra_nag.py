"""cdk-nag 3 (AwsSolutions) runs on every synth and leaves zero unacknowledged findings."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from infra.app import build_app
from layers import build


def test_synth_leaves_no_unacknowledged_findings(template_path: Path) -> None:
    report = json.loads((template_path.parent / "validation-report.json").read_text())
    assert report["pluginReports"] == []


@pytest.mark.slow
def test_checks_are_live_and_would_fail_synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe stack with a plain-HTTP bucket next to Witan fails synth, and only the probe is named."""
    monkeypatch.setenv("WITAN_SKIP_LAYER_BUILD", "1")
    app = build_app(outdir=str(tmp_path))
    probe = cdk.Stack(app, "NagProbe")
    s3.Bucket(probe, "PlainBucket")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    paths = {
        c["constructPath"]
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for c in violation["violatingConstructs"]
    }
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert paths and all(path.startswith("NagProbe/") for path in paths), paths
    assert "AwsSolutions-S10" in rules  # no TLS-only policy on the probe bucket


def test_acknowledgements_are_narrow_and_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every accepted finding is acknowledged on one resource-level construct (never the app or the
    stack, which would hide future findings of that rule) with a specific reason."""
    import infra.nag

    recorded: list[tuple[object, str, str]] = []
    real = infra.nag.acknowledge
    monkeypatch.setattr(
        infra.nag, "acknowledge", lambda s, r, why: (recorded.append((s, r, why)), real(s, r, why))
    )
    monkeypatch.setenv("WITAN_SKIP_LAYER_BUILD", "1")
    build_app()
    assert len(recorded) >= 30
    for scope, rule, reason in recorded:
        assert not isinstance(scope, cdk.Stack | cdk.App), rule
        assert rule.startswith("AwsSolutions-"), rule
        assert len(reason) > 40, (rule, reason)
        if rule.startswith("AwsSolutions-IAM5"):
            assert scope.node.id in ("DefaultPolicy", "DistributedMapPolicy"), (scope.node.path, rule)
    assert len({(scope.node.path, rule) for scope, rule, _ in recorded}) == len(recorded)  # no duplicates


def test_synth_without_built_layers_says_run_make_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WITAN_SKIP_LAYER_BUILD", raising=False)
    monkeypatch.setattr(build, "BUILD_ROOT", tmp_path / "no-layers")
    with pytest.raises(build.LayerNotBuiltError, match="run make layers"):
        build_app(outdir=str(tmp_path / "out"))
