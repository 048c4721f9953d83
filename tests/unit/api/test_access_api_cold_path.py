"""What the access_api imports at cold start: no data libraries, no schema validator, no AWS SDK, and
only the listed witan modules.

Time is measured in benchmarks/bench_api.py; this only guards the list, which is what keeps it low.
(Powertools itself imports the bare `botocore` package, under 1 ms; boto3 is what costs.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FUNCTION_DIR = Path(__file__).resolve().parents[3] / "functions" / "access_api"
KEPT_OFF_THE_COLD_PATH = ("numpy", "pyarrow", "pandas", "openpyxl", "jsonschema", "boto3")
# Every witan module the cold import may load. Most of witan's share of the cold start is creating these
# modules' classes (dataclasses, enums, protocols): a new module here should earn its place, and route
# modules (loaded per area on first use), AWS adapters and the audit query module must stay off.
WITAN_COLD_MODULES = frozenset(
    {
        "witan",
        "witan.access",
        "witan.access.records",
        "witan.access.policy",
        "witan.api",
        "witan.api.app",
        "witan.api.context",
        "witan.api.current",
        "witan.api.deps",
        "witan.api.errors",
        "witan.api.identity",
        "witan.audit",
        "witan.audit.records",
        "witan.catalog",
        "witan.catalog.records",
        "witan.catalog.ports",
        "witan.errors",  # the error catalogue: every refusal is one of its classes
        "witan.settings",
        "witan.aws",
        "witan.aws.wiring",
    }
)


def loaded_after_handler_import() -> set[str]:
    probe = "import handler, json, sys; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=FUNCTION_DIR, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_handler_import_leaves_heavy_packages_unloaded() -> None:
    loaded = {name.split(".")[0] for name in loaded_after_handler_import()}
    assert "witan" in loaded and "aws_lambda_powertools" in loaded
    assert sorted(loaded.intersection(KEPT_OFF_THE_COLD_PATH)) == []


def test_handler_import_loads_only_the_listed_witan_modules() -> None:
    witan = {name for name in loaded_after_handler_import() if name.split(".")[0] == "witan"}
    assert "witan.api.app" in witan
    assert sorted(witan - WITAN_COLD_MODULES) == []


def test_validation_names_still_resolve_lazily() -> None:
    import witan.validation as validation

    assert callable(validation.check_file) and callable(validation.parse_schema)
    assert "missing-label" in validation.ERROR_CODES
