"""POST/GET /model-runs through the real access_api handler under moto: who may start and see runs,
what is written before the execution starts, output links, bad bodies; one audit event per request."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from mr_harness import ADMIN, ANONYMOUS, BUCKET, GRANTEES, MEMBER, OTHER, OWNER, World
from witan.access.records import Activity
from witan.aws.catalog_table import DynamoCatalogStore
from witan.aws.grants_table import DynamoGrantStore
from witan.aws.model_runs import ModelRunsTable
from witan.catalog import records as catalog
from witan.modelrun.limits import MAX_PROJECTION_YEARS
from witan.modelrun.pipeline import RunRequest

TABLES = ("transitions", "population", "costs", "valid_states")
SCENARIO = {
    "name": "close-C",
    "description": "close setting C",
    "invalid_settings": ["C"],
}


def seed(world: World, owner_org: str = "org-camden", file_name: str = "{table}.csv") -> dict[str, str]:
    """One dataset per input table, owned by `owner_org`, each with a file and the grantees' grants."""
    api, now = world.api, datetime.now(UTC)
    store = DynamoCatalogStore(api.tables["CATALOG_TABLE"], api.ddb)
    grants = DynamoGrantStore(api.tables["GRANTS_TABLE"], api.ddb)
    ids: dict[str, str] = {}
    for table in TABLES:
        dataset_id = catalog.new_dataset_id()
        dataset, meta, file = catalog.create(
            dataset_id,
            owner_org,
            OWNER.sub or "",
            {"title": f"SEND {table}"},
            file_name.format(table=table.replace("_", "-")),
            "text/csv",
            1000,
            now,
        )
        store.create(dataset, meta)
        api.s3.put_object(Bucket=BUCKET, Key=file.key, Body=b"a,b\n1,2\n")
        for activity, persona in GRANTEES.items():
            grants.put(api.grant(dataset_id, persona.sub or "", {activity}, now))
        ids[table] = dataset_id
    return ids


def body(ids: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"inputs": {"datasets": ids}, "simulations": 20, "seed": 3, "scenarios": [SCENARIO], **extra}


def event(world: World) -> dict[str, Any]:
    return world.api.the_event()  # asserts exactly one audit event for the last request


def executions(world: World) -> list[dict[str, Any]]:
    return world.sfn.list_executions(stateMachineArn=world.state_machine_arn)["executions"]


def start(world: World, persona: Any = OWNER, **extra: Any) -> str:
    status, out, _ = world.api.call("POST", "/model-runs", persona, body(seed(world), **extra))
    assert status == 202, out
    return str(out["id"])


# --- POST /model-runs ---------------------------------------------------------------------------------

POST_MATRIX = [
    (OWNER, {}, 202, "allow"),
    (MEMBER, {}, 202, "allow"),
    (ADMIN, {"organisation": "org-camden"}, 202, "allow"),
    (ADMIN, {}, 422, "deny"),  # an admin in no organisation must say whose run it is
    (GRANTEES[Activity.FILE_READ], {}, 202, "allow"),  # org-barnet, file-read granted on every input
    (GRANTEES[Activity.META_READ], {}, 403, "deny"),  # may see the datasets, not read their data
    (OTHER, {}, 404, "deny"),  # no grant: the inputs are not even visible
    (OWNER, {"organisation": "org-islington"}, 403, "deny"),  # not a member of that organisation
    (ANONYMOUS, {}, 401, "deny"),
]


@pytest.mark.parametrize(("persona", "extra", "expected", "decision"), POST_MATRIX)
def test_post_matrix(world: World, persona: Any, extra: dict[str, Any], expected: int, decision: str) -> None:
    ids = seed(world)
    status, out, _ = world.api.call("POST", "/model-runs", persona, body(ids, **extra))
    assert status == expected, out
    audit = event(world)
    assert audit["action"] == ("model-run.create" if persona is not ANONYMOUS else audit["action"])
    assert audit["decision"] == decision
    assert int(audit["status"]) == expected
    started = executions(world)
    if expected != 202:
        assert "code" in out
        assert started == []
        return
    run_id = out["id"]
    assert out["location"] == f"/model-runs/{run_id}"
    assert audit["resource"] == f"model-run/{run_id}"
    detail = json.loads(audit["detail"]) if isinstance(audit["detail"], str) else audit["detail"]
    assert detail["recorded"] == "before-change"
    # The record is written before the execution starts, as model_run's handler expects to find it.
    record = ModelRunsTable(world.runs_table, world.api.ddb).get(run_id)
    assert record is not None
    assert record.status == "RUNNING" and record.progress == 0
    assert record.requested_by == persona.sub
    expected_org = "org-barnet" if persona is GRANTEES[Activity.FILE_READ] else "org-camden"
    assert record.organisation == expected_org
    assert record.scenarios == ("close-C",)
    assert record.execution_arn is not None and record.execution_arn.endswith(f":{run_id}")
    # One execution, named after the run, whose input the plan step accepts.
    assert [e["name"] for e in started] == [run_id]
    run_input = json.loads(world.sfn.describe_execution(executionArn=started[0]["executionArn"])["input"])
    request = RunRequest.from_event(run_input)
    assert (request.run_id, request.simulations, request.seed) == (run_id, 20, 3)
    assert [s["name"] for s in request.scenarios] == ["close-C"]
    assert set(run_input["inputs"]) == {"transitions", "population", "costs", "valid_states"}
    assert all(
        key.startswith(f"datasets/{ids[t.replace('-', '_')]}/") for t, key in run_input["inputs"].items()
    )
    assert run_input["email"] == f"{persona.sub}@example.org"


def test_post_with_a_dataset_version_prefix(world: World) -> None:
    ids = seed(world)
    prefix = f"datasets/{ids['transitions']}/1/"
    request = {"inputs": {"prefix": prefix}, "simulations": 5, "notify": False}
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, request)
    assert status == 202, out
    assert event(world)["decision"] == "allow"
    (execution,) = executions(world)
    run_input = json.loads(world.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert run_input["inputs"] == {"prefix": prefix}
    assert "email" not in run_input
    status, out, _ = world.api.call("POST", "/model-runs", OTHER, request)
    assert (status, out["code"]) == (404, "not-found")
    assert event(world)["decision"] == "deny"


@pytest.mark.parametrize("years", [1, MAX_PROJECTION_YEARS])
def test_projection_years_is_recorded_and_passed_to_the_plan(world: World, years: int) -> None:
    ids = seed(world)
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, body(ids, projection_years=years))
    assert status == 202, out
    audit = event(world)
    detail = json.loads(audit["detail"]) if isinstance(audit["detail"], str) else audit["detail"]
    assert detail["parameters"]["projection_years"] == years
    record = ModelRunsTable(world.runs_table, world.api.ddb).get(out["id"])
    assert record is not None and record.projection_years == years
    (execution,) = executions(world)
    run_input = json.loads(world.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert run_input["parameters"]["projection_years"] == years
    assert RunRequest.from_event(run_input).parameters["projection_years"] == years
    status, view, _ = world.api.call("GET", f"/model-runs/{out['id']}", OWNER)
    assert status == 200 and view["projection_years"] == years and view["years"] is None  # not planned yet


def test_without_projection_years_the_plan_decides(world: World) -> None:
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, body(seed(world)))
    assert status == 202, out
    event(world)
    (execution,) = executions(world)
    run_input = json.loads(world.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert "projection_years" not in run_input and "projection_years" not in run_input["parameters"]
    assert "projection_years" not in RunRequest.from_event(run_input).parameters
    record = ModelRunsTable(world.runs_table, world.api.ddb).get(out["id"])
    assert record is not None and record.projection_years is None


BAD_BODIES = [
    ("not json", None, 400, "invalid-json"),
    (None, {"simulations": 5}, 422, "missing-field"),
    (None, "UNKNOWN_FIELD", 422, "unknown-field"),
    (None, "SIMS_0", 422, "invalid-value"),
    (None, "SIMS_5001", 422, "invalid-value"),
    (None, "SIMS_STRING", 422, "wrong-type"),
    (None, "SEED_NEGATIVE", 422, "invalid-value"),
    (None, "YEARS_0", 422, "invalid-value"),
    (None, "YEARS_16", 422, "invalid-value"),
    (None, "YEARS_STRING", 422, "wrong-type"),
    (None, "TOO_MUCH_WORK", 422, "run-too-large"),
    (None, "MODEL_OTHER", 422, "unknown-model"),
    (None, "BOTH_INPUTS", 422, "invalid-value"),
    (None, "NO_INPUTS", 422, "missing-input"),
    (None, "BAD_PREFIX", 422, "invalid-value"),
    (None, "BAD_SCENARIO", 422, "invalid-scenario"),
    (None, "SCENARIO_BASELINE", 422, "invalid-scenario"),
    (None, "DUPLICATE_SCENARIOS", 422, "invalid-scenario"),
    (None, "TOO_MANY_SCENARIOS", 422, "invalid-value"),
    (None, "MISSING_TABLE", 422, "missing-field"),
    (None, "BAD_DATASET_ID", 422, "invalid-value"),
    (None, "UNKNOWN_DATASET", 404, "not-found"),
]


def bad_body(kind: Any, ids: dict[str, str]) -> Any:
    if not isinstance(kind, str):
        return kind
    good = body(ids)
    return {
        "UNKNOWN_FIELD": {**good, "surprise": 1},
        "SIMS_0": {**good, "simulations": 0},
        "SIMS_5001": {**good, "simulations": 5001},
        "SIMS_STRING": {**good, "simulations": "20"},
        "SEED_NEGATIVE": {**good, "seed": -1},
        "YEARS_0": {**good, "projection_years": 0},
        "YEARS_16": {**good, "projection_years": MAX_PROJECTION_YEARS + 1},
        "YEARS_STRING": {**good, "projection_years": "5"},
        # 5,000 x 12 scenarios x 16 years = 960,000 fits; one more scenario does not.
        "TOO_MUCH_WORK": {
            **good,
            "simulations": 5000,
            "projection_years": MAX_PROJECTION_YEARS,
            "scenarios": [{"name": f"s{i}"} for i in range(12)],
        },
        "MODEL_OTHER": {**good, "model": "other"},
        "BOTH_INPUTS": {**good, "inputs": {"datasets": ids, "prefix": f"datasets/{ids['costs']}/1/"}},
        "NO_INPUTS": {**good, "inputs": {}},
        "BAD_PREFIX": {**good, "inputs": {"prefix": "models/someone-else/"}},
        "BAD_SCENARIO": {**good, "scenarios": [{"name": "x", "invalid_settings": "C"}]},
        "SCENARIO_BASELINE": {**good, "scenarios": [{"name": "baseline"}]},
        "DUPLICATE_SCENARIOS": {**good, "scenarios": [SCENARIO, SCENARIO]},
        "TOO_MANY_SCENARIOS": {**good, "scenarios": [{"name": f"s{i}"} for i in range(21)]},
        "MISSING_TABLE": {**good, "inputs": {"datasets": {k: v for k, v in ids.items() if k != "costs"}}},
        "BAD_DATASET_ID": {**good, "inputs": {"datasets": {**ids, "costs": "not-an-id"}}},
        "UNKNOWN_DATASET": {**good, "inputs": {"datasets": {**ids, "costs": "0" * 32}}},
    }[kind]


@pytest.mark.parametrize(("raw", "kind", "expected", "code"), BAD_BODIES)
def test_bad_bodies_are_refused_with_a_code(
    world: World, raw: str | None, kind: Any, expected: int, code: str
) -> None:
    ids = seed(world)
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, bad_body(kind, ids), raw_body=raw)
    assert (status, out["code"]) == (expected, code), out
    assert out["message"]
    if str(kind).startswith("YEARS_"):  # the error says which field
        assert out["errors"][0]["location"] == "body.projection_years", out
    if kind == "TOO_MUCH_WORK":
        assert out["column"] == "projection_years" and "1,040,000" in out["message"], out
    audit = event(world)
    assert audit["decision"] == "deny" and int(audit["status"]) == expected
    assert executions(world) == []


def test_a_dataset_whose_file_is_not_a_table_is_refused(world: World) -> None:
    ids = seed(world, file_name="{table}.pdf")
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, body(ids))
    assert (status, out["code"]) == (409, "unsupported-input")
    assert event(world)["decision"] == "deny"
    assert executions(world) == []


def test_a_failed_start_is_recorded_and_answered_503(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = seed(world)
    monkeypatch.setenv("STATE_MACHINE_ARN", world.state_machine_arn + "-gone")  # no such state machine
    status, out, _ = world.api.call("POST", "/model-runs", OWNER, body(ids))
    assert (status, out["code"]) == (503, "model-runs-unavailable")
    # The write-ahead event (the run was about to start), then its outcome: the start failed.
    ahead, outcome = sorted(
        (
            {k: next(iter(v.values())) for k, v in e.items()}
            for e in world.api.events_for(world.api.last_request_id)
        ),
        key=lambda e: str(e["time"]),
    )
    details = [
        json.loads(e["detail"]) if isinstance(e["detail"], str) else e["detail"] for e in (ahead, outcome)
    ]
    assert [d["recorded"] for d in details] == ["before-change", "outcome"]
    assert int(outcome["status"]) == 503 and details[1]["write_ahead"]
    run_id = str(ahead["resource"]).removeprefix("model-run/")
    record = ModelRunsTable(world.runs_table, world.api.ddb).get(run_id)
    assert record is not None and record.status == "FAILED"
    assert record.error is not None and record.error["code"] == "start-failed"


# --- GET /model-runs/{id} and GET /model-runs ---------------------------------------------------------

GET_MATRIX = [
    (OWNER, 200, "allow", "requester"),
    (MEMBER, 200, "allow", "member:org-camden"),
    (ADMIN, 200, "allow", "admin:platform-admin"),
    (OTHER, 404, "deny", "not-visible"),
    (GRANTEES[Activity.FILE_READ], 404, "deny", "not-visible"),  # a grant on inputs is not on the run
    (ANONYMOUS, 401, "deny", "anonymous"),
]


@pytest.mark.parametrize(("persona", "expected", "decision", "reason"), GET_MATRIX)
def test_get_matrix(world: World, persona: Any, expected: int, decision: str, reason: str) -> None:
    run_id = start(world)
    status, out, _ = world.api.call("GET", f"/model-runs/{run_id}", persona)
    assert status == expected, out
    audit = event(world)
    assert audit["decision"] == decision and str(audit["reason"]).startswith(reason)
    assert int(audit["status"]) == expected
    if expected == 200:
        assert audit["action"] == "model-run.read"
        assert audit["resource"] == f"model-run/{run_id}"
        assert out["id"] == run_id and out["status"] == "RUNNING" and out["progress"] == 0
        assert out["requested_by"] == OWNER.sub and out["organisation"] == "org-camden"
        assert out["outputs"] == []
    else:
        assert "code" in out and run_id not in json.dumps(out.get("items", []))


def test_get_unknown_and_malformed_ids(world: World) -> None:
    status, out, _ = world.api.call("GET", "/model-runs/" + "a" * 32, OWNER)
    assert (status, out["code"]) == (404, "not-found")
    assert event(world)["reason"].startswith("no-such-run")
    status, out, _ = world.api.call("GET", "/model-runs/bad%20id!", OWNER)
    assert (status, out["code"]) == (400, "malformed-id")
    assert event(world)["decision"] == "deny"


def test_a_finished_run_links_its_summaries_charts_and_workbook(world: World) -> None:
    run_id = start(world)
    prefix = f"models/{run_id}/"
    names = [
        "count.csv",
        "count.parquet",
        "scenarios/close-C/comparison.csv",
        "charts/baseline/count.png",
        "summaries.xlsx",
        "metadata.json",
    ]
    for name in names:
        world.api.s3.put_object(Bucket=BUCKET, Key=prefix + name, Body=b"x")
    runs = ModelRunsTable(world.runs_table, world.api.ddb)
    runs.succeeded(run_id, [prefix + n for n in names])
    status, out, _ = world.api.call("GET", f"/model-runs/{run_id}", MEMBER)
    assert status == 200, out
    assert out["status"] == "SUCCEEDED" and out["progress"] == 1
    links = {link["name"]: link for link in out["outputs"]}
    assert set(links) == {
        "count.csv",
        "scenarios/close-C/comparison.csv",
        "charts/baseline/count.png",
        "summaries.xlsx",
    }
    assert links["summaries.xlsx"]["kind"] == "workbook" and links["count.csv"]["kind"] == "summary"
    assert links["charts/baseline/count.png"]["kind"] == "chart"
    url = urlparse(links["scenarios/close-C/comparison.csv"]["url"])
    assert url.path.endswith(f"{prefix}scenarios/close-C/comparison.csv")
    assert parse_qs(url.query)["X-Amz-Expires"] == ["300"]  # short-lived
    assert json.loads(event(world)["detail"])["outputs"] == 4


def test_list_shows_own_and_organisation_runs_admins_all(world: World) -> None:
    owner_run = start(world, OWNER)
    member_run = start(world, MEMBER)
    other_ids = seed(world, owner_org="org-islington")
    status, out, _ = world.api.call("POST", "/model-runs", OTHER, body(other_ids))
    assert status == 202, out
    other_run = out["id"]
    grantee_run = start(world, GRANTEES[Activity.FILE_READ])
    expected = {
        OWNER: {owner_run, member_run},
        MEMBER: {owner_run, member_run},
        OTHER: {other_run},
        GRANTEES[Activity.FILE_READ]: {grantee_run},
        ADMIN: {owner_run, member_run, other_run, grantee_run},
    }
    for persona, runs in expected.items():
        status, out, _ = world.api.call("GET", "/model-runs", persona)
        assert status == 200, out
        assert {item["id"] for item in out["items"]} == runs, persona.name
        audit = event(world)
        assert audit["action"] == "model-run.list" and audit["decision"] == "allow"
        assert all(item["outputs"] == [] for item in out["items"])
    status, out, _ = world.api.call("GET", "/model-runs", OWNER, query={"status": "SUCCEEDED"})
    assert (status, out["items"]) == (200, [])
    status, out, _ = world.api.call("GET", "/model-runs", OWNER, query={"limit": "1"})
    assert status == 200 and len(out["items"]) == 1
    status, out, _ = world.api.call("GET", "/model-runs", OWNER, query={"limit": "0"})
    assert (status, out["code"]) == (400, "invalid-query")
    status, out, _ = world.api.call("GET", "/model-runs", ANONYMOUS)
    assert (status, out["code"]) == (401, "unauthenticated")
    assert event(world)["decision"] == "deny"
