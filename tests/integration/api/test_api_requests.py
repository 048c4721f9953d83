"""The API end to end under moto: bad input, presigned policies, fail-closed audit, lifecycle, OpenAPI.

Every request here must also leave exactly one audit event (`api.the_event()` checks that).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from api_harness import ADMIN, ANONYMOUS, BUCKET, MAX_UPLOAD, MEMBER, OTHER, OWNER, Api
from aws_stack import header
from witan.api.app import openapi_document
from witan.api.bodies import SubjectExportView, UsageReport, VerifyReport
from witan.api.deps import MAX_BODY_BYTES

ROOT = Path(__file__).resolve().parents[3]


def create(api: Api, **extra: Any) -> dict[str, Any]:
    status, body, _ = api.call(
        "POST", "/datasets", OWNER, {"title": "SEND demand", "file_name": "d.csv", **extra}
    )
    assert status == 201, body
    return body


# -- bad input: a JSON error with a machine-readable code, never a 500, always audited ------------------

BAD_INPUT = [
    (
        "unknown field",
        "POST",
        "/datasets",
        {"title": "t", "file_name": "a.csv", "colour": "red"},
        None,
        422,
        "unknown-field",
    ),
    ("missing field", "POST", "/datasets", {"title": "t"}, None, 422, "missing-field"),
    ("wrong type", "POST", "/datasets", {"title": 5, "file_name": "a.csv"}, None, 422, "wrong-type"),
    (
        "no coercion",
        "POST",
        "/datasets",
        {"title": "t", "file_name": "a.csv", "personal_data": "yes"},
        None,
        422,
        "wrong-type",
    ),
    ("body not an object", "POST", "/datasets", [1, 2], None, 422, "invalid-body"),
    (
        "bad file name",
        "POST",
        "/datasets",
        {"title": "t", "file_name": "../etc/passwd"},
        None,
        422,
        "invalid-value",
    ),
    (
        "bad tag",
        "POST",
        "/datasets",
        {"title": "t", "file_name": "a.csv", "tags": ["Not OK"]},
        None,
        422,
        "invalid-value",
    ),
    (
        "too large declared",
        "POST",
        "/datasets",
        {"title": "t", "file_name": "a.csv", "size_bytes": MAX_UPLOAD + 1},
        None,
        422,
        "file-too-large",
    ),
    ("malformed id", "GET", "/datasets/not-an-id", None, None, 400, "malformed-id"),
    ("malformed id upper", "GET", "/datasets/" + "A" * 32, None, None, 400, "malformed-id"),
    ("bad limit", "GET", "/datasets", None, {"limit": "many"}, 400, "invalid-query"),
    ("limit too big", "GET", "/datasets", None, {"limit": "5000"}, 400, "invalid-query"),
    ("forged token", "GET", "/datasets", None, {"next_token": "bm90LWpzb24"}, 400, "invalid-token"),
    ("unknown dataset", "GET", "/datasets/" + "0" * 32, None, None, 404, "not-found"),
    ("unknown route", "GET", "/nowhere", None, None, 404, "not-found"),
    ("wrong method", "PUT", "/datasets", None, None, 405, "method-not-allowed"),
    (
        "download without purpose",
        "GET",
        "/datasets/" + "0" * 32 + "/download",
        None,
        None,
        400,
        "invalid-query",
    ),
    ("bad audit time", "GET", "/audit/events", None, {"from": "yesterday"}, 400, "invalid-time"),
    ("bad format", "GET", "/audit/subjects/owner-1", None, {"format": "xml"}, 400, "invalid-query"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "query", "status", "code"),
    [row[1:] for row in BAD_INPUT],
    ids=[row[0] for row in BAD_INPUT],
)
def test_bad_input(
    api: Api, method: str, path: str, body: Any, query: dict[str, str] | None, status: int, code: str
) -> None:
    persona = ADMIN if path.startswith("/audit") else OWNER
    got, answer, response = api.call(method, path, persona, body=body, query=query)
    assert (got, answer["code"]) == (status, code), answer
    assert isinstance(answer["message"], str) and "Traceback" not in answer["message"]
    event = api.the_event()
    assert int(event["status"]) == status and event["decision"] == "deny"
    assert code in event["reason"]
    if status == 405:
        assert header(response, "allow") == "GET, POST"
        assert event["action"] == "api.method-not-allowed"


def test_invalid_json_and_wrong_content_type(api: Api) -> None:
    status, body, _ = api.call("POST", "/datasets", OWNER, raw_body='{"title": ')
    assert (status, body["code"]) == (400, "invalid-json")
    api.the_event()
    status, body, _ = api.call(
        "POST", "/datasets", OWNER, raw_body="title=x", headers={"Content-Type": "text/plain"}
    )
    assert (status, body["code"]) == (415, "unsupported-media-type")
    assert api.the_event()["action"] == "dataset.create"


def test_oversized_body_refused_before_parsing(api: Api) -> None:
    big = json.dumps({"title": "t", "file_name": "a.csv", "description": "x" * MAX_BODY_BYTES})
    status, body, _ = api.call("POST", "/datasets", OWNER, raw_body=big)
    assert (status, body["code"]) == (413, "body-too-large")
    event = api.the_event()
    assert event["action"] == "dataset.create" and int(event["status"]) == 413


def test_no_claims_is_401_and_audited_anonymously(api: Api) -> None:
    for path in ("/datasets", "/nowhere", "/audit/verify"):
        status, body, _ = api.call("GET", path, ANONYMOUS)
        assert (status, body["code"]) == (401, "unauthenticated")
        event = api.the_event()
        assert event["decision"] == "deny" and event.get("actor_sub") is None
        assert event["source_ip"] == "192.0.2.10" and event["user_agent"] == "pytest"


def test_patch_refusals(api: Api) -> None:
    dataset_id = create(api)["dataset"]["id"]
    for body, code in [
        ({}, "no-change"),
        ({"title": None}, "missing-field"),
        ({"owner_org": "org-x"}, "unknown-field"),
    ]:
        status, answer, _ = api.call("PATCH", f"/datasets/{dataset_id}", OWNER, body)
        assert (status, answer["code"]) == (422, code), answer
        api.the_event()


# -- presigned transfer: moto does not enforce policies, so check the policy itself ---------------------


def test_create_returns_a_tight_presigned_post(api: Api) -> None:
    before = datetime.now(UTC)
    result = create(api, content_type="text/csv", size_bytes=5000, tags=["send"], personal_data=True)
    dataset, upload = result["dataset"], result["upload"]
    key = f"datasets/{dataset['id']}/1/d.csv"
    assert upload["key"] == key and upload["version"] == 1 and upload["max_bytes"] == 5000
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": key} in conditions
    assert {"Content-Type": "text/csv"} in conditions
    assert ["content-length-range", 1, 5000] in conditions
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert before + timedelta(minutes=14) < expiration <= datetime.now(UTC) + timedelta(minutes=15, seconds=1)
    assert upload["fields"]["Content-Type"] == "text/csv"
    assert dataset["metadata"]["personal_data"] is True
    event = api.the_event()
    assert event["action"] == "dataset.create" and event["resource"] == f"dataset/{dataset['id']}"
    assert json.loads(event["detail"])["recorded"] == "before-change"  # write-ahead for changes


def test_new_version_key_and_default_limit(api: Api) -> None:
    dataset_id = create(api)["dataset"]["id"]
    status, body, _ = api.call(
        "POST",
        f"/datasets/{dataset_id}/versions",
        OWNER,
        {"file_name": "v2.xlsx", "content_type": "application/vnd.ms-excel"},
    )
    assert status == 201, body
    policy = json.loads(base64.b64decode(body["upload"]["fields"]["policy"]))
    assert {"key": f"datasets/{dataset_id}/2/v2.xlsx"} in policy["conditions"]
    assert ["content-length-range", 1, MAX_UPLOAD] in policy["conditions"]
    status, got, _ = api.call("GET", f"/datasets/{dataset_id}", OWNER)
    assert got["file"]["version"] == 2 and got["file"]["file_name"] == "v2.xlsx"


def test_download_is_a_five_minute_get_of_the_latest_file(api: Api) -> None:
    dataset_id = create(api)["dataset"]["id"]
    api.s3.put_object(Bucket=BUCKET, Key=f"datasets/{dataset_id}/1/d.csv", Body=b"a\n1\n")
    status, body, _ = api.call(
        "GET", f"/datasets/{dataset_id}/download", MEMBER, query={"purpose": "SEND planning"}
    )
    assert status == 200
    url = urlparse(body["url"])
    params = parse_qs(url.query)
    assert params["X-Amz-Expires"] == ["300"]
    assert url.path.endswith(f"datasets/{dataset_id}/1/d.csv")
    assert "attachment" in params["response-content-disposition"][0]
    event = api.the_event()
    assert (event["action"], event["purpose"], event["reason"]) == (
        "dataset.download",
        "SEND planning",
        "owner:org-camden",
    )
    assert event["actor_sub"] == MEMBER.sub


# -- fail closed: if the audit cannot be written, nothing leaves ----------------------------------------


def test_audit_failure_means_503_and_no_data(api: Api) -> None:
    dataset_id = create(api)["dataset"]["id"]
    api.ddb.delete_table(TableName=api.tables["AUDIT_TABLE"])
    status, body, _ = api.call(
        "GET", f"/datasets/{dataset_id}/download", OWNER, query={"purpose": "planning"}
    )
    assert (status, body) == (503, {"code": "audit-unavailable", "message": body["message"]})
    assert "url" not in json.dumps(body)
    status, body, _ = api.call("POST", "/datasets", OWNER, {"title": "Never", "file_name": "n.csv"})
    assert (status, body["code"]) == (503, "audit-unavailable")
    assert "upload" not in body
    # write-ahead: the dataset was not created, and an edit was not made
    status, body, _ = api.call("PATCH", f"/datasets/{dataset_id}", OWNER, {"description": "unrecorded"})
    assert status == 503
    items = api.ddb.scan(TableName=api.tables["CATALOG_TABLE"])["Items"]
    records = [json.loads(i["record"]["S"]) for i in items if i["sk"]["S"] == "CURRENT"]
    assert [r["metadata"].get("title") for r in records] == ["SEND demand"]
    assert "description" not in records[0]["metadata"]
    for status_code in (404, 405, 401):  # failures of every kind fail closed too
        path, persona, method = {
            404: ("/nowhere", OWNER, "GET"),
            405: ("/datasets", OWNER, "PUT"),
            401: ("/datasets", ANONYMOUS, "GET"),
        }[status_code]
        status, body, _ = api.call(method, path, persona)
        assert (status, body["code"]) == (503, "audit-unavailable")


# -- lifecycle -------------------------------------------------------------------------------------------


def test_metadata_versions_history_and_soft_delete(api: Api) -> None:
    dataset_id = create(api, description="first")["dataset"]["id"]
    for text in ("second", "third"):
        status, body, _ = api.call(
            "PATCH", f"/datasets/{dataset_id}", MEMBER, {"description": text, "licence": "OGL-3.0"}
        )
        assert status == 200, body
    status, history, _ = api.call("GET", f"/datasets/{dataset_id}/history", OWNER)
    assert [v["version"] for v in history["versions"]] == [1, 2, 3]
    assert [v["metadata"]["description"] for v in history["versions"]] == ["first", "second", "third"]
    assert history["versions"][1]["changed"] == ["description", "licence"]
    assert history["versions"][2]["edited_by"] == MEMBER.sub

    status, body, _ = api.call("DELETE", f"/datasets/{dataset_id}", OWNER)
    assert status == 200 and body["deleted_at"]
    status, listing, _ = api.call("GET", "/datasets", OWNER)
    assert dataset_id not in {i["id"] for i in listing["items"]}
    status, got, _ = api.call("GET", f"/datasets/{dataset_id}", OWNER)
    assert status == 200 and got["deleted_at"]  # kept for the record
    status, body, _ = api.call(
        "GET", f"/datasets/{dataset_id}/download", OWNER, query={"purpose": "planning"}
    )
    assert (status, body["code"]) == (410, "dataset-deleted")
    status, body, _ = api.call("DELETE", f"/datasets/{dataset_id}", OWNER)
    assert (status, body["code"]) == (410, "dataset-deleted")


def test_listing_filters_and_pages(api: Api) -> None:
    ids = [
        create(api, tags=["send"] if i % 2 else ["housing"], description=f"number {i}")["dataset"]["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    token = None
    for _ in range(5):
        query = {"limit": "2", **({"next_token": token} if token else {})}
        status, page, _ = api.call("GET", "/datasets", OWNER, query=query)
        assert status == 200 and len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        token = page["next_token"]
        if token is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    status, page, _ = api.call("GET", "/datasets", OWNER, query={"tag": "send"})
    assert {i["id"] for i in page["items"]} == {ids[1], ids[3]}
    status, page, _ = api.call("GET", "/datasets", OWNER, query={"text": "NUMBER 4"})
    assert [i["id"] for i in page["items"]] == [ids[4]]
    status, page, _ = api.call("GET", "/datasets", OWNER, query={"organisation": "org-barnet"})
    assert page["items"] == []
    status, page, _ = api.call("GET", "/datasets", OTHER)
    assert page["items"] == []


def test_sharing_metadata_only_then_revoke(api: Api) -> None:
    dataset_id = create(api)["dataset"]["id"]
    grant = {
        "grantee_type": "group",
        "grantee": "org-islington",
        "activities": ["meta-read"],
        "purpose": {"code": "send-benchmarking", "text": "compare SEND demand"},
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    status, body, _ = api.call("PUT", f"/datasets/{dataset_id}/grants", OWNER, grant)
    assert status == 200 and body["purpose"]["code"] == "send-benchmarking"
    assert api.the_event()["purpose"] == "send-benchmarking"
    status, listing, _ = api.call("GET", "/datasets", OTHER)
    assert [i["id"] for i in listing["items"]] == [dataset_id]
    status, got, _ = api.call("GET", f"/datasets/{dataset_id}", OTHER)
    assert status == 200 and got["access"] == ["meta-read", "meta-visible"]
    status, body, _ = api.call("GET", f"/datasets/{dataset_id}/download", OTHER, query={"purpose": "curious"})
    assert (status, body["code"]) == (403, "forbidden")
    status, access, _ = api.call("GET", f"/datasets/{dataset_id}/access", OWNER)
    entry = next(e for e in access["entries"] if e["grantee"] == "org-islington")
    assert entry["via"] == "grant:group:org-islington" and entry["notes"]
    status, body, _ = api.call(
        "DELETE",
        f"/datasets/{dataset_id}/grants",
        OWNER,
        {"grantee_type": "group", "grantee": "org-islington"},
    )
    assert status == 200 and body["revoked"] is True
    status, body, _ = api.call("GET", f"/datasets/{dataset_id}", OTHER)
    assert status == 404
    status, body, _ = api.call(
        "DELETE",
        f"/datasets/{dataset_id}/grants",
        OWNER,
        {"grantee_type": "group", "grantee": "org-islington"},
    )
    assert (status, body["code"]) == (404, "grant-not-found")
    status, body, _ = api.call("DELETE", f"/datasets/{dataset_id}/grants", OWNER, raw_body="{oops")
    assert (status, body["code"]) == (400, "invalid-json")
    status, body, _ = api.call("DELETE", f"/datasets/{dataset_id}/grants", OWNER)
    assert (status, body["code"]) == (422, "missing-field")


def test_grant_refusals(api: Api) -> None:
    dataset_id = create(api)["dataset"]["id"]
    past = {
        "grantee_type": "user",
        "grantee": "u9",
        "activities": ["meta-read"],
        "expires_at": "2020-01-01T00:00:00Z",
    }
    status, body, _ = api.call("PUT", f"/datasets/{dataset_id}/grants", OWNER, past)
    assert (status, body["code"]) == (422, "invalid-value")
    naive = {**past, "expires_at": "2099-01-01T00:00:00"}
    status, body, _ = api.call("PUT", f"/datasets/{dataset_id}/grants", OWNER, naive)
    assert (status, body["code"]) == (422, "invalid-value") and "offset" in body["message"]
    bad = {"grantee_type": "user", "grantee": "u9", "activities": ["everything"]}
    status, body, _ = api.call("PUT", f"/datasets/{dataset_id}/grants", OWNER, bad)
    assert (status, body["code"]) == (422, "invalid-value")


# -- audit reports -----------------------------------------------------------------------------------------


def test_audit_reports_for_owner_and_admin(api: Api) -> None:
    dataset_id = create(api)["dataset"]["id"]
    api.call("GET", f"/datasets/{dataset_id}", MEMBER)
    api.call("GET", f"/datasets/{dataset_id}/download", MEMBER, query={"purpose": "planning"})
    api.call("GET", f"/datasets/{dataset_id}", OTHER)  # denied (invisible), still recorded
    status, events, _ = api.call("GET", "/audit/events", OWNER, query={"dataset": dataset_id})
    assert status == 200
    actions = sorted(e["action"] for e in events["items"])
    assert actions == ["dataset.create", "dataset.download", "dataset.read", "dataset.read"]
    status, events, _ = api.call("GET", "/audit/events", ADMIN, query={"actor": OTHER.sub or ""})
    assert [(e["action"], e["decision"]) for e in events["items"]] == [("dataset.read", "deny")]
    status, usage, _ = api.call("GET", "/audit/reports/usage", OWNER, query={"dataset": dataset_id})
    rows = {r["actor_sub"]: r for r in usage["rows"]}
    assert (rows[MEMBER.sub]["reads"], rows[MEMBER.sub]["downloads"]) == (1, 1)
    assert rows[OTHER.sub]["denied"] == 1
    status, csv_text, response = api.call(
        "GET", "/audit/reports/usage", ADMIN, query={"dataset": dataset_id, "format": "csv"}
    )
    assert status == 200 and csv_text.startswith("day,dataset,actor_sub")
    assert "text/csv" in (header(response, "content-type") or "")
    status, export, _ = api.call("GET", f"/audit/subjects/{MEMBER.sub}", MEMBER)
    assert status == 200 and export["subject"] == MEMBER.sub
    assert {e["action"] for e in export["events"]} >= {"dataset.read", "dataset.download"}
    status, verified, _ = api.call("GET", "/audit/verify", ADMIN)
    assert status == 200 and verified["ok"] is True and verified["items"] >= 8
    # the documented response shapes hold
    UsageReport.model_validate(usage)
    SubjectExportView.model_validate(export)
    VerifyReport.model_validate(verified)
    assert api.the_event()["action"] == "audit.verify"


# -- OpenAPI ---------------------------------------------------------------------------------------------


def test_openapi_served_and_committed_copy_is_current(api: Api) -> None:
    status, served, _ = api.call("GET", "/openapi.json", ANONYMOUS)
    assert status == 200
    assert api.the_event()["action"] == "api.openapi"
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert served == committed == openapi_document(), "run: witan api openapi --output docs/openapi.json"
    operations = {op["operationId"] for path in served["paths"].values() for op in path.values()}
    assert {"dataset.create", "dataset.download", "grant.put", "audit.subject"} <= operations
    create_op = served["paths"]["/datasets"]["post"]
    assert "201" in create_op["responses"] and "422" in create_op["responses"]
    assert served["components"]["schemas"]["CreateDatasetRequest"]["additionalProperties"] is False


def test_store_failure_is_a_500_without_details_and_is_audited(api: Api) -> None:
    dataset_id = create(api)["dataset"]["id"]
    api.ddb.delete_table(TableName=api.tables["CATALOG_TABLE"])
    status, body, _ = api.call("GET", f"/datasets/{dataset_id}", OWNER)
    assert (status, body["code"]) == (500, "internal-error")
    assert "Traceback" not in json.dumps(body) and "ResourceNotFound" not in json.dumps(body)
    event = api.the_event()
    assert (event["decision"], int(event["status"])) == ("error", 500)
