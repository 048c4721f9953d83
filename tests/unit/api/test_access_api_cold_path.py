"""What the access_api imports at cold start: no data libraries, no schema validator, no AWS SDK.

Time is measured in benchmarks/bench_api.py; this only guards the list, which is what keeps it low.
(Powertools itself imports the bare `botocore` package, under 1 ms; boto3 is what costs.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FUNCTION_DIR = Path(__file__).resolve().parents[3] / "functions" / "access_api"
KEPT_OFF_THE_COLD_PATH = ("numpy", "pyarrow", "pandas", "openpyxl", "jsonschema", "boto3")


def test_handler_import_leaves_heavy_packages_unloaded() -> None:
    probe = "import handler, json, sys; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=FUNCTION_DIR, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "witan" in loaded and "aws_lambda_powertools" in loaded
    assert sorted(loaded.intersection(KEPT_OFF_THE_COLD_PATH)) == []


def test_validation_names_still_resolve_lazily() -> None:
    import witan.validation as validation

    assert callable(validation.check_file) and callable(validation.parse_schema)
    assert "missing-label" in validation.ERROR_CODES
