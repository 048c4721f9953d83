"""The model_run handler under moto: plan -> every chunk -> aggregate, as the state machine calls it."""

from __future__ import annotations

import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from dynamo_tables import create_keyed_table
from moto import mock_aws
from witan.models.send.synthetic import SyntheticSpec, synthetic_tables

REGION = "eu-west-2"
BUCKET = "witan-test-data"
TABLE = "witan-test-model-runs"
# Plan and chunk steps publish no metric; Powertools warns about that on every flush.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
HANDLER = Path(__file__).resolve().parents[3] / "functions" / "model_run" / "handler.py"


class Context:
    function_name = "model-run"
    function_version = "$LATEST"
    memory_limit_in_mb = 3008
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:model-run"
    aws_request_id = "00000000-0000-0000-0000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("model_run_handler", HANDLER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DATA_BUCKET": BUCKET,
        "MODEL_RUNS_TABLE": TABLE,
        "SES_SENDER": "models@example.org",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "Witan",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        ses = boto3.client("ses", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        create_keyed_table(ddb, TABLE)
        ses.verify_email_identity(EmailAddress="models@example.org")
        tables = synthetic_tables(SyntheticSpec(children=150, transition_years=2, projection_years=2))
        for name, text in tables.items():
            s3.put_object(Bucket=BUCKET, Key=f"models/inputs/demo/{name}.csv", Body=text.encode())
        yield {"s3": s3, "ddb": ddb, "ses": ses, "handler": load_handler()}


def record(aws: dict[str, Any], run_id: str) -> dict[str, Any]:
    item = aws["ddb"].get_item(TableName=TABLE, Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "META"}})[
        "Item"
    ]
    return item


def test_plan_chunks_aggregate(aws: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    handler, s3 = aws["handler"], aws["s3"]
    run_input = {
        "step": "plan",
        "run_id": "run-1",
        "model": "send",
        "inputs": {
            t: f"models/inputs/demo/{t}.csv" for t in ("transitions", "population", "costs", "valid-states")
        },
        "scenarios": [{"name": "close-OOB", "invalid_settings": ["OOB"]}],
        "simulations": 6,
        "seed": 11,
        "chunk_size": 4,
        "email": "analyst@example.org",
    }
    planned = handler.lambda_handler(run_input, Context())
    assert planned["manifest_bucket"] == BUCKET and planned["manifest_key"] == "models/run-1/manifest.json"
    assert {k: planned[k] for k in run_input} == run_input  # the input is passed on
    items = json.loads(s3.get_object(Bucket=BUCKET, Key=planned["manifest_key"])["Body"].read())
    assert [(i["scenario"], i["sim_start"], i["sim_count"]) for i in items] == [
        ("baseline", 0, 4),
        ("baseline", 4, 2),
        ("close-OOB", 0, 4),
        ("close-OOB", 4, 2),
    ]
    assert all(i["step"] == "chunk" and i["run_id"] == "run-1" for i in items)
    rec = record(aws, "run-1")
    assert rec["status"]["S"] == "RUNNING" and rec["chunks_total"]["N"] == "4"

    for item in items:
        handler.lambda_handler(item, Context())
    assert float(record(aws, "run-1")["progress"]["N"]) == 1.0
    chunk = pq.read_table(
        io.BytesIO(
            s3.get_object(Bucket=BUCKET, Key="models/run-1/chunks/baseline/0000004.parquet")["Body"].read()
        )
    )
    assert set(chunk["simulation"].to_pylist()) == {4, 5}

    done = handler.lambda_handler(
        {
            "step": "aggregate",
            "run_id": "run-1",
            "manifest_bucket": BUCKET,
            "manifest_key": planned["manifest_key"],
        },
        Context(),
    )
    assert done["status"] == "SUCCEEDED"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(m.get("ModelRunsSucceeded") == [1.0] or m.get("ModelRunsSucceeded") == 1.0 for m in emf), emf
    assert emf[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Witan"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="models/run-1/")["Contents"]}
    for key in (
        "count.csv",
        "cost.parquet",
        "by_state.csv",
        "summaries.xlsx",
        "metadata.json",
        "charts/baseline/count.png",
        "charts/close-OOB/by_setting.png",
        "scenarios/close-OOB/count.csv",
        "scenarios/close-OOB/comparison.csv",
        "params/baseline/base/leaver_beta.parquet",
    ):
        assert f"models/run-1/{key}" in keys, key
    count = s3.get_object(Bucket=BUCKET, Key="models/run-1/count.csv")["Body"].read().decode().splitlines()
    assert (
        count[0].replace('"', "")
        == "calendar_year,mean,sd,iqr,min,p2_5,q1,median,q3,p97_5,max,ci_low,ci_high"
    )
    assert len(count) == 1 + 3  # seed year + 2 projected years
    png = s3.get_object(Bucket=BUCKET, Key="models/run-1/charts/baseline/count.png")["Body"].read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads(s3.get_object(Bucket=BUCKET, Key="models/run-1/metadata.json")["Body"].read())
    assert (
        meta["seed"] == 11
        and meta["simulations"] == 6
        and set(meta["input_hashes"])
        == {"transitions", "population", "costs", "valid_states"}
        | {f"{t}.csv" for t in ("transitions", "population", "costs", "valid-states")}
    )
    rec = record(aws, "run-1")
    assert rec["status"]["S"] == "SUCCEEDED"
    assert "models/run-1/summaries.xlsx" in [v["S"] for v in rec["output_keys"]["L"]]
    sent = aws["ses"].get_send_quota()["SentLast24Hours"]
    assert sent == 1


def test_bad_inputs_fail_with_a_named_reason(aws: dict[str, Any]) -> None:
    handler, s3 = aws["handler"], aws["s3"]
    bad = synthetic_tables(SyntheticSpec(children=50, transition_years=2))["transitions"].replace(
        "\n2015,MMSIB,", "\n2015,NOWHERE,", 1
    )
    s3.put_object(Bucket=BUCKET, Key="models/inputs/bad/transitions.csv", Body=bad.encode())
    for t in ("population", "costs", "valid-states"):
        s3.copy_object(
            Bucket=BUCKET,
            Key=f"models/inputs/bad/{t}.csv",
            CopySource={"Bucket": BUCKET, "Key": f"models/inputs/demo/{t}.csv"},
        )
    with pytest.raises(Exception, match="setting 'NOWHERE' is not in valid-states"):
        handler.lambda_handler(
            {
                "step": "plan",
                "run_id": "run-2",
                "inputs": {"prefix": "models/inputs/bad"},
                "email": "analyst@example.org",
                "simulations": 2,
            },
            Context(),
        )
    rec = record(aws, "run-2")
    assert rec["status"]["S"] == "FAILED"
    error = rec["error"]["M"]
    assert error["code"]["S"] == "invalid-state" and error["column"]["S"] == "setting-1"
    assert error["file"]["S"] == "transitions.csv" and int(error["row"]["N"]) >= 1
    # the Catch then calls `fail`: the specific reason is kept
    cause = json.dumps({"errorMessage": "transitions.csv, row 1: ...", "errorType": "ModelInputError"})
    out = handler.lambda_handler(
        {"step": "fail", "run_id": "run-2", "error": {"Error": "ModelInputError", "Cause": cause}}, Context()
    )
    assert out["status"] == "FAILED" and out["error"]["code"] == "invalid-state"
    assert aws["ses"].get_send_quota()["SentLast24Hours"] == 1  # the requester is told why


def test_fail_step_records_why(aws: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    cause = json.dumps(
        {"errorMessage": "Task timed out after 900.00 seconds", "errorType": "Sandbox.Timedout"}
    )
    out = aws["handler"].lambda_handler(
        {"step": "fail", "run_id": "run-3", "error": {"Error": "States.TaskFailed", "Cause": cause}},
        Context(),
    )
    assert out == {
        "run_id": "run-3",
        "status": "FAILED",
        "error": {"code": "Sandbox.Timedout", "message": "Task timed out after 900.00 seconds"},
    }
    assert '"ModelRunsFailed"' in capsys.readouterr().out
    rec = record(aws, "run-3")
    assert rec["status"]["S"] == "FAILED" and rec["error"]["M"]["message"]["S"].startswith("Task timed out")


def test_unknown_step_is_refused(aws: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown step 'launch'"):
        aws["handler"].lambda_handler({"step": "launch", "run_id": "x"}, Context())


def test_an_input_failing_its_table_schema_fails_the_run_with_the_checkers_report(
    aws: dict[str, Any],
) -> None:
    handler, s3 = aws["handler"], aws["s3"]
    costs = (
        s3.get_object(Bucket=BUCKET, Key="models/inputs/demo/costs.csv")["Body"].read().decode().splitlines()
    )
    costs[1] = ",".join([*costs[1].split(",")[:2], "a lot"])
    s3.put_object(Bucket=BUCKET, Key="models/inputs/schema/costs.csv", Body="\n".join(costs).encode())
    inputs = {t: f"models/inputs/demo/{t}.csv" for t in ("transitions", "population", "valid-states")}
    inputs["costs"] = "models/inputs/schema/costs.csv"
    with pytest.raises(Exception, match=r"costs\.csv, row 1, column 'cost'"):
        handler.lambda_handler(
            {"step": "plan", "run_id": "run-4", "inputs": inputs, "simulations": 2}, Context()
        )
    error = record(aws, "run-4")["error"]["M"]
    assert (error["code"]["S"], error["file"]["S"], error["column"]["S"]) == (
        "type-error",
        "costs.csv",
        "cost",
    )
    (first,) = error["errors"]["L"]
    assert first["M"]["row"]["N"] == "2" and first["M"]["column"]["S"] == "C"  # as the upload report says
    # Nothing of the run was written: the plan never started.
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="models/run-4/")


def test_an_earlier_dataset_version_is_read_from_its_folder(aws: dict[str, Any]) -> None:
    handler, s3 = aws["handler"], aws["s3"]
    s3.copy_object(
        Bucket=BUCKET,
        Key="datasets/costs-id/1/costs-2019.csv",
        CopySource={"Bucket": BUCKET, "Key": "models/inputs/demo/costs.csv"},
    )
    inputs: dict[str, Any] = {
        t: f"models/inputs/demo/{t}.csv" for t in ("transitions", "population", "valid-states")
    }
    inputs["costs"] = {"folder": "datasets/costs-id/1/"}
    planned = handler.lambda_handler(
        {"step": "plan", "run_id": "run-5", "inputs": inputs, "simulations": 2, "chunk_size": 2}, Context()
    )
    assert planned["chunks"] == 1
    plan = json.loads(s3.get_object(Bucket=BUCKET, Key="models/run-5/plan.json")["Body"].read())
    assert (
        plan["inputs"]["costs"] == {"folder": "datasets/costs-id/1/"}
        and len(plan["input_hashes"]["costs"]) == 64
    )
    s3.put_object(Bucket=BUCKET, Key="datasets/costs-id/2/a.csv", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="datasets/costs-id/2/b.csv", Body=b"x")
    inputs["costs"] = {"folder": "datasets/costs-id/2/"}
    with pytest.raises(Exception, match="holds 2 files, not one"):
        handler.lambda_handler(
            {"step": "plan", "run_id": "run-6", "inputs": inputs, "simulations": 2}, Context()
        )
