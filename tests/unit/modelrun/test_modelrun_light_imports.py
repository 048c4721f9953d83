"""The API lists and describes models without numpy or pyarrow (access_api's Lambda has neither)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from witan.models.cli import describe
from witan.modelrun.registry import get_model, model_names
from witan.modelrun.request import checked_parameters, checked_scenarios
for name in model_names():
    describe(name)
    model = get_model(name)
    checked_scenarios(model, [])
    model.check_request(checked_parameters(model, {}), [])
print(",".join(m for m in ("numpy", "pyarrow", "pandas", "matplotlib") if m in sys.modules))
"""


def test_describing_and_checking_every_model_imports_nothing_heavy() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
