"""Shared fixtures: one CDK synth per test run (shared by xdist workers), for tests/infra and tests/e2e."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Quiet jsii's Node version banner; must be set before aws_cdk is first imported.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

# Shell overrides that would make the synthesized template depend on who runs the tests.
_CONFIG_ENV_VARS = ("WITAN_ENVIRONMENT", "WITAN_ADMIN_EMAIL", "WITAN_SES_SENDER", "WITAN_ALLOWED_ORIGINS")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _synth(outdir: Path) -> Path:
    from infra.app import synth

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WITAN_SKIP_LAYER_BUILD", "1")
        for name in _CONFIG_ENV_VARS:
            patch.delenv(name, raising=False)
        started = time.perf_counter()
        path = synth(outdir)
        (outdir / "synth-seconds.txt").write_text(f"{time.perf_counter() - started:.1f}\n")
    return path


@pytest.fixture(scope="session")
def template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthesize the stack once (cdk.json context, placeholder third-party layers) into a temp cdk.out;
    the template's folder also holds the assets and validation-report.json. Under xdist the workers of
    one run share a single synth (the first one does it under a file lock)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _synth(tmp_path_factory.mktemp("cdk.out"))
    run_dir = tmp_path_factory.getbasetemp().parent  # this run's folder, shared by its workers
    marker = run_dir / "cdk-template-path.txt"
    with _locked(run_dir / "cdk-synth.lock"):
        if not marker.exists():
            marker.write_text(str(_synth(run_dir / "cdk.out")))
    return Path(marker.read_text())


@pytest.fixture(scope="session")
def template(template_path: Path) -> dict[str, Any]:
    """The synthesized CloudFormation template as a dict."""
    return json.loads(template_path.read_text())
