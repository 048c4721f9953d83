"""GET /models and /models/{name}; runs that feed runs (an input taken from another run's output);
inputs by role with a dataset version. One audit event per request, allowed or denied."""

from __future__ import annotations

import json
from typing import Any

from mr_harness import ANONYMOUS, OTHER, OWNER, World
from test_model_run_api import event, executions, seed
from witan.aws.model_runs import ModelRunsTable
from witan.modelrun.registry import model_names


def test_models_are_listed_and_described(world: World) -> None:
    status, out, _ = world.api.call("GET", "/models", OWNER)
    assert status == 200, out
    assert [m["name"] for m in out["items"]] == list(model_names())
    send = next(m for m in out["items"] if m["name"] == "send")
    assert send["stochastic"] is True and send["title"]
    listed = event(world)
    assert (listed["action"], listed["decision"]) == ("model.list", "allow")

    status, described, _ = world.api.call("GET", "/models/send", OWNER)
    assert status == 200, described
    roles = {i["role"]: i for i in described["inputs"]}
    assert set(roles) == {"transitions", "population", "costs", "valid_states"}
    # Each input comes with its Table Schema, and population says it can come from a demography run.
    assert [f["name"] for f in roles["population"]["schema"]["fields"]] == [
        "calendar-year",
        "academic-year",
        "population",
    ]
    assert roles["population"]["from_model_run"]["model"] == "demography"
    assert described["parameters"]["properties"]["projection_years"]["maximum"] == 15
    assert "modify_transitions" in described["scenario"]["properties"]
    assert {o["name"] for o in described["outputs"]} >= {"count", "cost", "by_setting"}
    assert event(world)["resource"] == "model/send"


def test_an_unknown_model_is_404_and_anonymous_callers_401(world: World) -> None:
    status, out, _ = world.api.call("GET", "/models/nonesuch", OWNER)
    assert (status, out["code"]) == (404, "not-found")
    assert event(world)["decision"] == "deny"
    status, out, _ = world.api.call("GET", "/models", ANONYMOUS)
    assert status == 401


def roles_body(ids: dict[str, str], **inputs: Any) -> dict[str, Any]:
    return {
        "model": "send",
        "inputs": {**{role: {"dataset": dataset_id} for role, dataset_id in ids.items()}, **inputs},
        "simulations": 10,
        "notify": False,
    }


def test_inputs_by_role_with_a_dataset_version(world: World) -> None:
    ids = seed(world)
    body = roles_body(ids, costs={"dataset": ids["costs"], "version": 1})
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, body)
    assert status == 202, out
    (execution,) = executions(world)
    run_input = json.loads(world.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert run_input["inputs"]["costs"].startswith(f"datasets/{ids['costs']}/1/")
    assert run_input["parameters"] == {}
    status, out, _ = world.api.call(
        "POST", "/model-runs", OWNER, roles_body(ids, costs={"dataset": ids["costs"], "version": 9})
    )
    assert (status, out["code"]) == (404, "not-found") and "no version 9" in out["message"]
    status, out, _ = world.api.call(
        "POST", "/model-runs", OWNER, roles_body(ids, extra={"dataset": ids["costs"]})
    )
    assert (status, out["code"]) == (422, "unknown-input")
    partial = roles_body({k: v for k, v in ids.items() if k != "costs"})
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, partial)
    assert (status, out["code"]) == (422, "missing-input")


def finished_run(world: World, model: str, requested_by: str, organisation: str, status: str) -> str:
    runs = ModelRunsTable(world.runs_table, world.api.ddb)
    run_id = f"{model}{status.lower()}{requested_by}"[:60].replace("-", "")
    runs.requested(
        run_id,
        model=model,
        simulations=1,
        seed=0,
        scenarios=[],
        requested_by=requested_by,
        organisation=organisation,
        email=None,
        inputs={},
    )
    if status == "SUCCEEDED":
        runs.succeeded(run_id, [f"models/{run_id}/population.csv"])
    return run_id


def test_a_run_takes_another_runs_output_only_if_the_caller_may_see_it(world: World) -> None:
    ids = seed(world)
    del ids["population"]
    mine = finished_run(world, "demography", OWNER.sub or "", "org-camden", "SUCCEEDED")
    ref = {"model_run": mine, "output": "population", "gss_code": "E09000007"}
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, roles_body(ids, population=ref))
    assert status == 202, out
    audit = event(world)
    detail = json.loads(audit["detail"]) if isinstance(audit["detail"], str) else audit["detail"]
    assert detail["inputs"]["population"]["model_run"] == mine
    record = ModelRunsTable(world.runs_table, world.api.ddb).get(out["id"])
    assert record is not None and record.inputs is not None
    assert record.inputs["population"] == ref  # the link is kept
    (execution,) = executions(world)
    run_input = json.loads(world.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert run_input["inputs"]["population"] == ref
    status, view, _ = world.api.call("GET", f"/model-runs/{out['id']}", OWNER)
    assert view["inputs"]["population"]["model_run"] == mine

    # Someone who may not see the source run cannot use it (and learns nothing about it).
    theirs = finished_run(world, "demography", OTHER.sub or "", "org-other", "SUCCEEDED")
    status, out, _ = world.api.call(
        "POST",
        "/model-runs",
        OWNER,
        roles_body(ids, population={"model_run": theirs, "output": "population"}),
    )
    assert (status, out["code"]) == (404, "not-found")
    assert event(world)["decision"] == "deny"
    # A run that has not finished, or of the wrong model, is refused with its reason.
    running = finished_run(world, "demography", OWNER.sub or "", "org-camden", "RUNNING")
    status, out, _ = world.api.call(
        "POST",
        "/model-runs",
        OWNER,
        roles_body(ids, population={"model_run": running, "output": "population"}),
    )
    assert (status, out["code"]) == (409, "run-not-finished")
    send_run = finished_run(world, "send", OWNER.sub or "", "org-camden", "SUCCEEDED")
    status, out, _ = world.api.call(
        "POST",
        "/model-runs",
        OWNER,
        roles_body(ids, population={"model_run": send_run, "output": "population"}),
    )
    assert (status, out["code"]) == (422, "invalid-value")
    # Only roles the model declares a chain for can come from a run.
    status, out, _ = world.api.call(
        "POST",
        "/model-runs",
        OWNER,
        roles_body({**ids, "population": ids["costs"]}, costs={"model_run": mine, "output": "population"}),
    )
    assert (status, out["code"]) == (422, "invalid-value")


def test_bad_parameters_and_scenarios_are_422_before_anything_starts(world: World) -> None:
    ids = seed(world)
    for extra, code in (
        ({"parameters": {"projection_years": 99}}, "invalid-parameter"),
        ({"parameters": {"nonsense": 1}}, "invalid-parameter"),
        ({"scenarios": [{"name": "x", "invalid_settings": "A"}]}, "invalid-scenario"),
        ({"model": "nonesuch"}, "unknown-model"),
    ):
        status, out, _ = world.api.call("POST", "/model-runs", OWNER, {**roles_body(ids), **extra})
        assert (status, out["code"]) == (422, code), out
        assert event(world)["decision"] == "deny"
    assert executions(world) == []


def test_several_datasets_only_for_roles_taking_several_files(world: World) -> None:
    ids = seed(world)
    body = roles_body(ids, costs=[{"dataset": ids["costs"]}, {"dataset": ids["costs"]}])
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, body)
    assert (status, out["code"]) == (422, "invalid-value") and "takes one dataset" in out["message"]
