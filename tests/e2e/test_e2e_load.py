"""The load and fault scenarios of `make bench` (benchmarks/bench_load.py), small, on the shared stack:
uploads at once, writers on one chain, SES refusing, the validator killed half-way, audit writes
throttled; then the sealed trail verifies."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import bench_load

pytestmark = pytest.mark.xdist_group("e2e")


def test_load_and_fault_scenarios_keep_their_invariants(e2e_stack: Any) -> None:
    deployment, gateway = e2e_stack.deployment, e2e_stack.gateway
    undo = bench_load._atomic_moto_tables()
    try:
        lines = bench_load.scenario_uploads(deployment, 12)
        lines += bench_load.scenario_writers(deployment)
        lines += bench_load.scenario_ses_down(deployment, 4)
        lines += bench_load.scenario_killed(deployment, 4)
        lines += bench_load.scenario_throttled(deployment, gateway, 12)
        lines += bench_load.verify_line(deployment)
    finally:
        undo()
    assert not [line for line in lines if "FAILED" in line], "\n".join(lines)
