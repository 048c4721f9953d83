"""POST /model-runs refuses a scenario window that can hold no year before anything starts: 422 with a
code naming the field, one deny audit event, no execution. (Whether a window misses the projected
years needs the inputs' years, which the plan step reads: tests/integration/model_run.)

Self-contained on purpose: `from conftest import ...` picks up another folder's conftest when
tests/unit is collected in the same session."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mr_harness import BUCKET, OWNER
from witan.aws.catalog_table import DynamoCatalogStore
from witan.catalog import records as catalog


def prefix_input(world: Any) -> dict[str, str]:
    """One dataset of OWNER's organisation; its version folder is the run's input prefix."""
    api = world.api
    dataset, meta, file = catalog.create(
        catalog.new_dataset_id(),
        "org-camden",
        OWNER.sub or "",
        {"title": "SEND inputs"},
        "transitions.csv",
        "text/csv",
        10,
        datetime.now(UTC),
    )
    DynamoCatalogStore(api.tables["CATALOG_TABLE"], api.ddb).create(dataset, meta)
    api.s3.put_object(Bucket=BUCKET, Key=file.key, Body=b"a,b\n1,2\n")
    return {"prefix": f"datasets/{dataset.id}/1/"}


def post(world: Any, scenario: dict[str, Any]) -> tuple[int, Any]:
    body = {"inputs": prefix_input(world), "simulations": 4, "scenarios": [scenario]}
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, body)
    return status, out


def executions(world: Any) -> list[dict[str, Any]]:
    return list(world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"])


def window(**years: int) -> dict[str, Any]:
    return {"name": "movers", "modify_transitions": [{"match": {"kind": "mover"}, "factor": 2, **years}]}


def test_a_window_ending_before_it_starts_is_a_422(world: Any) -> None:
    status, out = post(world, window(from_year=2022, until_year=2020))
    assert (status, out["code"], out["column"]) == (422, "invalid-scenario", "from_year"), out
    assert "from_year 2022 is after until_year 2020" in out["message"]
    audit = world.api.the_event()  # exactly one event for the request
    assert (audit["decision"], int(audit["status"])) == ("deny", 422)
    assert executions(world) == []


def test_a_window_in_the_future_is_accepted_and_left_to_the_plan(world: Any) -> None:
    status, out = post(world, window(from_year=2030))
    assert status == 202, out
    assert len(executions(world)) == 1
