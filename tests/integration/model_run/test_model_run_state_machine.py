"""`projection_years` honoured by the model-run state machine itself, on moto: the stack's own
definition (taken from the synthesized template, shared with tests/infra and tests/e2e) runs the real
model_run handler in-process (local.lambda_runtime) through Plan -> Distributed Map -> Aggregate."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from dynamo_tables import create_keyed_table
from moto import mock_aws
from witan.aws.model_runs import ModelRunsTable
from witan.models.send.synthetic import SyntheticSpec, synthetic_tables

from local import lambda_runtime

REGION = "eu-west-2"
BUCKET = "witan-sm-data"
TABLE = "witan-sm-model-runs"
HANDLER = Path(__file__).resolve().parents[3] / "functions" / "model_run" / "handler.py"
ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
# Transitions 2015..2016, so the seed year is 2017; population up to 2020: 3 years can be projected.
SPEC = SyntheticSpec(children=120, transition_years=2, projection_years=3)
SEED_YEAR = 2017
pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("model_run_state_machine"),  # one worker sets the machine up once
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


def state_machine_definition(template: dict[str, Any], function_arn: str) -> str:
    """The stack's state machine definition with its references resolved to this test's resources.
    Any reference other than the model_run function, the partition and the data bucket fails the test,
    so a change of the definition's shape is noticed here."""
    resources = template["Resources"]
    (machine,) = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    joined = machine["Properties"]["DefinitionString"]["Fn::Join"]
    assert joined[0] == ""
    parts: list[str] = []
    for part in joined[1]:
        if isinstance(part, str):
            parts.append(part)
        elif "Fn::GetAtt" in part and resources[part["Fn::GetAtt"][0]]["Type"] == "AWS::Lambda::Function":
            assert "ModelRun" in part["Fn::GetAtt"][0] and part["Fn::GetAtt"][1] == "Arn", part
            parts.append(function_arn)
        elif part == {"Ref": "AWS::Partition"}:
            parts.append("aws")
        elif "Ref" in part and resources[part["Ref"]]["Type"] == "AWS::S3::Bucket":
            assert "DataBucket" in part["Ref"], part
            parts.append(BUCKET)
        else:
            raise AssertionError(f"unexpected reference in the state machine definition: {part}")
    return "".join(parts)


def code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("handler.py", HANDLER.read_text())
    return buf.getvalue()


@pytest.fixture(scope="module")
def machine(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        lambda_runtime.install()
        try:
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
            ddb = boto3.client("dynamodb", region_name=REGION)
            create_keyed_table(ddb, TABLE)
            for name, text in synthetic_tables(SPEC).items():
                s3.put_object(Bucket=BUCKET, Key=f"datasets/sm/1/{name}.csv", Body=text.encode())
            role = boto3.client("iam", region_name=REGION).create_role(
                RoleName="model-runs", AssumeRolePolicyDocument=ROLE_POLICY
            )["Role"]["Arn"]
            function_arn = boto3.client("lambda", region_name=REGION).create_function(
                FunctionName="model-run",
                Runtime="python3.13",
                Role=role,
                Handler="handler.lambda_handler",
                Code={"ZipFile": code_zip()},
                Timeout=900,
                MemorySize=3008,
                Environment={
                    "Variables": {
                        "DATA_BUCKET": BUCKET,
                        "MODEL_RUNS_TABLE": TABLE,
                        "POWERTOOLS_METRICS_NAMESPACE": "Witan",
                        "POWERTOOLS_LOG_LEVEL": "WARNING",
                    }
                },
            )["FunctionArn"]
            sfn = boto3.client("stepfunctions", region_name=REGION)
            arn = sfn.create_state_machine(
                name="models", definition=state_machine_definition(template, function_arn), roleArn=role
            )["stateMachineArn"]
            yield {"s3": s3, "ddb": ddb, "sfn": sfn, "arn": arn}
        finally:
            lambda_runtime.uninstall()


def execute(machine: dict[str, Any], run_id: str, **extra: Any) -> dict[str, Any]:
    """Start an execution with the input POST /model-runs gives it; wait for it to end."""
    run_input = {
        "run_id": run_id,
        "model": "send",
        "inputs": {"prefix": "datasets/sm/1/"},
        "scenarios": [],
        "simulations": 6,
        "chunk_size": 3,
        "seed": 5,
        **extra,
    }
    sfn = machine["sfn"]
    arn = sfn.start_execution(stateMachineArn=machine["arn"], name=run_id, input=json.dumps(run_input))[
        "executionArn"
    ]
    deadline = time.monotonic() + 120
    description = sfn.describe_execution(executionArn=arn)
    while description["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
        description = sfn.describe_execution(executionArn=arn)
    return description


def read(machine: dict[str, Any], key: str) -> bytes:
    return bytes(machine["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read())


@pytest.mark.parametrize(("requested", "years"), [(2, [2018, 2019]), (None, [2018, 2019, 2020])])
def test_the_state_machine_projects_the_requested_years(
    machine: dict[str, Any], requested: int | None, years: list[int]
) -> None:
    run_id = f"years-{requested}"
    extra = {} if requested is None else {"projection_years": requested}
    description = execute(machine, run_id, **extra)
    assert description["status"] == "SUCCEEDED", (description.get("error"), description.get("cause"))
    prefix = f"models/{run_id}/"
    rows = list(csv.DictReader(io.StringIO(read(machine, prefix + "count.csv").decode())))
    assert [int(r["calendar_year"]) for r in rows] == [SEED_YEAR, *years]
    chunk = pq.read_table(io.BytesIO(read(machine, prefix + "chunks/baseline/0000003.parquet")))
    assert set(chunk["calendar_year"].to_pylist()) == set(years)
    meta = json.loads(read(machine, prefix + "metadata.json"))
    assert (meta["projection_years"], meta["projection_years_requested"], meta["years"]) == (
        len(years),
        requested,
        years,
    )
    record = ModelRunsTable(TABLE, machine["ddb"]).get(run_id)
    assert record is not None and record.status == "SUCCEEDED"
    assert (record.projection_years, record.years) == (len(years), tuple(years))


def test_years_beyond_the_population_fail_the_run_naming_them(machine: dict[str, Any]) -> None:
    description = execute(machine, "years-too-many", projection_years=6)
    assert description["status"] == "FAILED"
    record = ModelRunsTable(TABLE, machine["ddb"]).get("years-too-many")
    assert record is not None and record.status == "FAILED" and record.error is not None
    error = record.error
    assert (error["code"], error["file"], error["column"]) == (
        "missing-population",
        "population.csv",
        "calendar-year",
    )
    assert "calendar years 2018..2023; missing: 2021..2023" in error["message"]


def test_a_scenario_window_outside_the_projection_fails_the_run_naming_it(machine: dict[str, Any]) -> None:
    late = {
        "name": "late-movers",
        "modify_transitions": [{"match": {"kind": "mover"}, "factor": 2.0, "from_year": 2030}],
    }
    description = execute(machine, "window-late", scenarios=[late])
    assert description["status"] == "FAILED"
    record = ModelRunsTable(TABLE, machine["ddb"]).get("window-late")
    assert record is not None and record.status == "FAILED" and record.error is not None
    error = record.error
    assert (error["code"], error["scenario"], error["modification"]) == (
        "scenario-outside-projection",
        "late-movers",
        "modify_transitions[0]",
    )
    assert (error["from_year"], error["until_year"], error["projected_years"]) == (
        2030,
        None,
        [2018, 2019, 2020],
    )
    assert "from 2030, but the run projects 2018..2020" in error["message"]
    # Refused in planning: no chunk was simulated.
    listed = machine["s3"].list_objects_v2(Bucket=BUCKET, Prefix="models/window-late/chunks/")
    assert listed.get("KeyCount", 0) == 0
