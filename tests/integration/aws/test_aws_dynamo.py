"""witan.aws.dynamo on moto: the pk/sk/gsi1 table shape every adapter's creator now shares, paging past
one page, failed conditions; and the adapter code that moved onto them (run errors, run listing)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_stack import Aws
from botocore.exceptions import ClientError
from dynamo_tables import create_keyed_table
from witan.aws.dynamo import condition_failed, query_items
from witan.aws.model_runs import ModelRunsTable
from witan.modelrun.records import RunRecord


def _shape(client: Any, name: str) -> dict[str, Any]:
    table = client.describe_table(TableName=name)["Table"]
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return {
        "keys": {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]},
        "attributes": {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]},
        "indexes": {
            i["IndexName"]: ({k["AttributeName"]: k["KeyType"] for k in i["KeySchema"]}, i["Projection"])
            for i in table["GlobalSecondaryIndexes"]
        },
        "billing": table["BillingModeSummary"]["BillingMode"],
        "ttl": (ttl.get("TimeToLiveStatus"), ttl.get("AttributeName")),
    }


def test_the_keyed_table_creator_makes_the_contract_shape(moto_aws: Aws) -> None:
    """Catalog, grants, requests and model-runs tables are all made by create_keyed_table."""
    for name in ("catalog", "requests", "model-runs"):
        create_keyed_table(moto_aws.ddb, name)
    expected = {
        "keys": {"pk": "HASH", "sk": "RANGE"},
        "attributes": {"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S"},
        "indexes": {"gsi1": ({"gsi1pk": "HASH", "gsi1sk": "RANGE"}, {"ProjectionType": "ALL"})},
        "billing": "PAY_PER_REQUEST",
        "ttl": ("ENABLED", "expires_at"),
    }
    for name in ("catalog", "requests", "model-runs"):
        assert _shape(moto_aws.ddb, name) == expected, name


def test_query_items_follows_every_page_without_changing_the_callers_arguments(moto_aws: Aws) -> None:
    create_keyed_table(moto_aws.ddb, "t")
    for i in range(7):
        moto_aws.ddb.put_item(TableName="t", Item={"pk": {"S": "P"}, "sk": {"S": f"{i:02d}"}})
    moto_aws.ddb.put_item(TableName="t", Item={"pk": {"S": "other"}, "sk": {"S": "00"}})
    kwargs: dict[str, Any] = {
        "TableName": "t",
        "KeyConditionExpression": "pk = :p",
        "ExpressionAttributeValues": {":p": {"S": "P"}},
        "Limit": 2,  # four pages, the last one short
    }
    items = list(query_items(moto_aws.ddb, **kwargs))
    assert [i["sk"]["S"] for i in items] == [f"{i:02d}" for i in range(7)]
    assert "ExclusiveStartKey" not in kwargs


def test_condition_failed_tells_a_failed_condition_from_other_errors(moto_aws: Aws) -> None:
    create_keyed_table(moto_aws.ddb, "t")
    item = {"pk": {"S": "P"}, "sk": {"S": "S"}}
    moto_aws.ddb.put_item(TableName="t", Item=item)
    with pytest.raises(ClientError) as failed:
        moto_aws.ddb.put_item(TableName="t", Item=item, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as missing:
        moto_aws.ddb.put_item(TableName="no-such-table", Item=item)
    assert condition_failed(failed.value)
    assert not condition_failed(missing.value)
    assert not condition_failed(ValueError("ConditionalCheckFailedException"))


def test_a_run_keeps_the_first_error_recorded_and_still_ends_failed(moto_aws: Aws) -> None:
    create_keyed_table(moto_aws.ddb, "runs")
    runs = ModelRunsTable("runs", moto_aws.ddb)
    runs.failed("r1", {"code": "missing-table", "message": "no transitions"})
    runs.failed("r1", {"code": "States.TaskFailed", "message": "later"}, email="a@council.example")
    record = runs.get("r1")
    assert record is not None
    assert record.status == "FAILED" and record.run_id == "r1"
    assert record.error == {"code": "missing-table", "message": "no transitions"}
    assert record.email == "a@council.example"


def test_list_runs_is_newest_first_and_stops_at_max_items(
    moto_aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_keyed_table(moto_aws.ddb, "runs")
    runs = ModelRunsTable("runs", moto_aws.ddb)
    stamps = iter(f"2026-11-26T00:00:{s:02d}+00:00" for s in range(5))
    monkeypatch.setattr("witan.aws.model_runs._now", lambda: next(stamps))
    for n in range(5):
        runs.requested(
            f"run-{n}",
            model="send",
            simulations=10,
            seed=1,
            scenarios=["baseline"],
            requested_by="sub",
            organisation="org",
            email=None,
            inputs={"prefix": "inputs/"},
        )
    assert [r.run_id for r in runs.list_runs()] == [f"run-{n}" for n in (4, 3, 2, 1, 0)]
    assert [r.run_id for r in runs.list_runs(max_items=3)] == ["run-4", "run-3", "run-2"]


def test_a_run_record_reads_back_every_field_the_steps_and_the_api_wrote(
    moto_aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_keyed_table(moto_aws.ddb, "runs")
    runs = ModelRunsTable("runs", moto_aws.ddb)
    monkeypatch.setattr("witan.aws.model_runs._now", lambda: "2026-12-01T09:00:00+00:00")
    inputs: dict[str, Any] = {"population": {"model_run": "r0", "output": "population"}}
    runs.requested(
        "r1",
        model="demography",
        simulations=1,
        seed=7,
        scenarios=["baseline"],
        requested_by="sub-1",
        organisation="org-camden",
        email="a@council.example",
        inputs=inputs,
    )
    runs.set_execution("r1", "arn:states:r1")
    runs.started(
        "r1",
        model="demography",
        simulations=1,
        seed=7,
        scenarios=["baseline"],
        chunks_total=2,
        output_prefix="models/r1/",
        email="a@council.example",
        projection_years=3,
        years=[2024, 2025, 2026],
    )
    assert runs.chunk_done("r1") == 0.5
    runs.succeeded("r1", ["models/r1/population.csv"])
    assert runs.get("r1") == RunRecord(
        run_id="r1",
        model="demography",
        status="SUCCEEDED",
        progress=1.0,
        chunks_done=1,
        chunks_total=2,
        simulations=1,
        seed=7,
        projection_years=3,
        years=(2024, 2025, 2026),
        scenarios=("baseline",),
        requested_by="sub-1",
        organisation="org-camden",
        inputs=inputs,
        email="a@council.example",
        output_prefix="models/r1/",
        output_keys=("models/r1/population.csv",),
        execution_arn="arn:states:r1",
        created_at="2026-12-01T09:00:00+00:00",
        updated_at="2026-12-01T09:00:00+00:00",
        finished_at="2026-12-01T09:00:00+00:00",
    )
    assert runs.get("r2") is None
