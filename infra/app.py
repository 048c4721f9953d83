"""CDK app entry point: `python -m infra.app` synthesizes Witan into cdk.out/ (no CDK CLI needed).

Context comes from cdk.json, then the CLI's context (CDK_CONTEXT_JSON), then the `context` argument;
WITAN_* environment variables override the Witan keys (see infra/config.py). WITAN_SKIP_LAYER_BUILD=1
packages placeholder third-party layers (local and test synths)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.config import ConfigError, load_config
from layers.build import THIRD_PARTY_LAYERS, LayerNotBuiltError, layer_asset_dir

if TYPE_CHECKING:
    import aws_cdk as cdk

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTDIR = ROOT / "cdk.out"
SKIP_LAYER_BUILD = "WITAN_SKIP_LAYER_BUILD"


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads((ROOT / "cdk.json").read_text()).get("context", {}))


def _merged_context(context: dict[str, Any] | None) -> dict[str, Any]:
    from_cli = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    return {**cdk_json_context(), **from_cli, **(context or {})}


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """The app with the Witan stack and the AwsSolutions checks; raises ConfigError/LayerNotBuiltError."""
    merged = _merged_context(context)
    config = load_config(merged, os.environ)
    skip_layer_build = os.environ.get(SKIP_LAYER_BUILD) == "1"
    for name in THIRD_PARTY_LAYERS:
        layer_asset_dir(name, skip_build=skip_layer_build)  # fail fast, before starting jsii
    # Imported here so that bad configuration is reported without starting the jsii runtime.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from infra.stack import WitanStack

    app = cdk.App(context=merged, outdir=str(outdir) if outdir is not None else None)
    WitanStack(app, config=config, skip_layer_build=skip_layer_build)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def synth(outdir: str | Path, context: dict[str, Any] | None = None) -> Path:
    """Synthesize into outdir; return the path of the stack's template JSON."""
    app = build_app(context=context, outdir=str(outdir))
    assembly = app.synth()
    (stack,) = assembly.stacks
    return Path(assembly.directory) / stack.template_file


def main() -> int:
    outdir = os.environ.get("CDK_OUTDIR") or str(DEFAULT_OUTDIR)
    try:
        template = synth(outdir)
    except (ConfigError, LayerNotBuiltError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        # cdk-nag findings: CDK's message lists each one and where the report is; no traceback needed.
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"synthesized {template}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
