"""POST /datapacks/{id}/reproduce starts the sealed runs again on the state machine (moto records the
execution; the test does what the machine's steps do), and GET .../reproduce/{sealed}/{run} compares the
new outputs with the sealed ones."""

from __future__ import annotations

import json
from typing import Any

import pytest
from datapacks_harness import DATA_BUCKET, OTHER, OWNER, World

pytestmark = pytest.mark.xdist_group("datapacks")
MACHINE = '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'


@pytest.fixture
def machine(world: World, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3
    from witan.aws import wiring

    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"witan-test-{world.tables['CATALOG_TABLE'][-8:]}",
        definition=MACHINE,
        roleArn="arn:aws:iam::123456789012:role/witan-model-runs",
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    yield sfn
    wiring.forget()


def _run_what_was_started(world: World, sfn: Any, execution_arn: str) -> None:
    """The state machine's work, done here: plan, every chunk, aggregate, on the data bucket."""
    from witan.aws.model_runs import ModelRunsTable, S3RunStorage, read_input_files
    from witan.modelrun import pipeline
    from witan.modelrun.request import RunRequest

    event = json.loads(sfn.describe_execution(executionArn=execution_arn)["input"])
    request = RunRequest.from_event(event)
    files = read_input_files(DATA_BUCKET, event["inputs"], request.definition, client=world.s3)
    storage = S3RunStorage(DATA_BUCKET, f"models/{event['run_id']}/", world.s3)
    for item in pipeline.plan(storage, files, request):
        pipeline.run_chunk(storage, item)
    meta = pipeline.aggregate(storage)
    table = ModelRunsTable(world.tables["MODEL_RUNS_TABLE"], world.ddb)
    table.succeeded(event["run_id"], [f"models/{event['run_id']}/{k}" for k in meta["outputs"]])


def test_reproduce_through_the_api(world: World, machine: Any) -> None:
    run_id = world.seed_send_run()
    status, pack = world.call("POST", "/datapacks", body={"title": "SEND"})
    pack_id = pack["id"]
    body = {"kind": "model-run", "role": "output", "model_run": run_id}
    assert world.call("POST", f"/datapacks/{pack_id}/members", body=body)[0] == 201
    assert world.call("POST", f"/datapacks/{pack_id}/seal")[0] == 200
    # another organisation without a grant on the pack may not start it
    assert world.call("POST", f"/datapacks/{pack_id}/reproduce", OTHER)[0] == 404

    status, started = world.call("POST", f"/datapacks/{pack_id}/reproduce")
    assert status == 202, started
    (entry,) = started["runs"]
    assert entry["sealed_run"] == run_id
    (event,) = world.events_for(world.last_request_id)
    assert event["action"] == "datapack.reproduce"
    assert json.loads(event["detail"])["reproductions"] == [{"sealed_run": run_id, "run": entry["run"]}]
    status, check = world.call("GET", entry["check"])
    assert status == 200 and check["status"] == "RUNNING" and not check["ok"]

    (execution,) = machine.list_executions(
        stateMachineArn=machine.list_state_machines()["stateMachines"][-1]["stateMachineArn"]
    )["executions"]
    _run_what_was_started(world, machine, execution["executionArn"])
    status, check = world.call("GET", entry["check"], OWNER)
    assert status == 200 and check["ok"], check
    assert check["same_inputs"] and check["status"] == "SUCCEEDED"
    strict = [o for o in check["outputs"] if o["path"].endswith((".csv", ".parquet"))]
    assert strict and all(o["status"] == "identical" for o in strict)
    assert check["sealed_code_version"]["source_sha256"] and check["current_code_version"]["source_sha256"]


def test_reproduce_refuses_when_an_input_changed_where_the_run_reads_it(world: World, machine: Any) -> None:
    run_id = world.seed_send_run()
    _, pack = world.call("POST", "/datapacks", body={"title": "SEND"})
    pack_id = pack["id"]
    world.call(
        "POST",
        f"/datapacks/{pack_id}/members",
        body={"kind": "model-run", "role": "output", "model_run": run_id},
    )
    assert world.call("POST", f"/datapacks/{pack_id}/seal")[0] == 200
    plan = json.loads(
        world.s3.get_object(Bucket=DATA_BUCKET, Key=f"models/{run_id}/plan.json")["Body"].read()
    )
    world.s3.put_object(Bucket=DATA_BUCKET, Key=plan["inputs"]["costs"], Body=b"need,setting,cost\n")
    status, body = world.call("POST", f"/datapacks/{pack_id}/reproduce")
    assert status == 409 and body["code"] == "input-changed" and "costs" in body["message"]
