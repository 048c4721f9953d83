"""The real handler, on moto: S3 upload -> notification in SQS -> check -> reports, record, email."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import date

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook, load_workbook
from uv_stack import MAX_UPLOAD_BYTES, REQUESTER, UPLOADER, Stack
from witan.aws.s3 import S3ObjectStore

BAD_CSV = (
    b"id,dob,school,fte\n"
    b"1,2015-04-01,A,1.0\n"
    b"2,not-a-date,B,0.5\n"  # row 3: dob type-error
    b"3,2016-02-30,Z,1\n"  # row 4: dob type-error (no 30 Feb), school enum
    b'4,2017-09-01,=HYPERLINK("http://x"),1\n'  # row 5: school enum, formula-looking value
)

KEY = "uploads/r1/s1/pupils 2026.csv"


def _check_sk(stack: Stack, version: str) -> str:
    return f"SUBMISSION#s1#CHECK#{version}"


def _body(stack: Stack, key: str) -> bytes:
    return stack.s3.get_object(Bucket="witan-test-data", Key=key)["Body"].read()


def test_invalid_csv_gets_reports_status_emails_and_audit(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.add_request()
    put = stack.upload(KEY, BAD_CSV)
    messages = stack.receive()
    assert any(json.loads(m["Body"]).get("Event") == "s3:TestEvent" for m in messages)  # ignored, not failed

    result = stack.invoke(stack.event(messages))

    assert result == {"batchItemFailures": []}
    version = put["VersionId"]
    check = stack.item("REQUEST#r1", _check_sk(stack, version))
    assert check is not None
    assert check["status"] == "invalid"
    assert check["counts"] == {"type-error": 2, "constraint-error": 2}
    assert (check["rows"], check["error_count"], check["emails_sent"]) == (4, 4, 2)
    assert check["object_version_id"] == version and check["object_key"] == KEY
    prefix = f"reports/r1/s1/{version}/"
    assert check["report_keys"] == {f: f"{prefix}report.{f}" for f in ("json", "csv", "xlsx")}
    assert stack.keys(prefix) == sorted(check["report_keys"].values())
    assert stack.keys("curated/") == []  # invalid: no Parquet

    submission = stack.item("REQUEST#r1", "SUBMISSION#s1")
    assert submission is not None
    assert (submission["status"], submission["latest_version"], submission["error_count"]) == (
        "invalid",
        version,
        4,
    )

    report = json.loads(_body(stack, f"{prefix}report.json"))
    assert (report["file_name"], report["schema"], report["valid"]) == ("pupils 2026.csv", "pupils", False)
    rows = list(csv.reader(io.StringIO(_body(stack, f"{prefix}report.csv").decode("utf-8-sig"))))
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [
        ("3", "B", "type-error"),
        ("4", "B", "type-error"),
        ("4", "C", "constraint-error"),
        ("5", "C", "constraint-error"),
    ]
    assert rows[4][5] == '\'=HYPERLINK("http://x")'  # neutralised in the CSV report
    workbook = load_workbook(io.BytesIO(_body(stack, f"{prefix}report.xlsx")))
    data = workbook[workbook.sheetnames[1]]
    assert workbook.sheetnames[0] == "Summary"
    assert data["B3"].comment is not None and data["C4"].comment is not None
    assert data["B2"].comment is None

    emails = stack.sent_emails()
    assert sorted(e.destinations["ToAddresses"][0] for e in emails) == sorted([UPLOADER, REQUESTER])
    by_to = {e.destinations["ToAddresses"][0]: e for e in emails}
    assert by_to[UPLOADER].subject == "Your upload to 'Pupil census 2026' has 4 errors"
    assert by_to[REQUESTER].subject == "Upload to 'Pupil census 2026' from Uma has 4 errors"
    assert "X-Amz-Expires=259200" in by_to[UPLOADER].body  # 3-day report links
    assert "report.xlsx" in by_to[UPLOADER].body

    [event] = stack.audit_events()
    assert (event["action"], event["decision"], event["resource"]) == (
        "upload.checked",
        "allow",
        "request/r1/submission/s1",
    )

    out = capsys.readouterr().out
    assert '"UploadsChecked"' in out and '"UploadsInvalid"' in out and '"Witan"' in out

    head = stack.s3.head_object(Bucket="witan-test-data", Key=KEY)
    assert (head["ETag"], head["VersionId"]) == (put["ETag"], version)  # the upload is untouched
    assert _body(stack, KEY) == BAD_CSV
    versions = stack.s3.list_object_versions(Bucket="witan-test-data", Prefix="uploads/")["Versions"]
    assert len(versions) == 1


def _pupils_xlsx() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Pupils"
    ws.append(["id", "dob", "school", "fte"])
    ws.append([1, date(2015, 4, 1), "A", 1.0])
    ws.append([2, date(2016, 5, 2), "C", 0.5])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_valid_xlsx_becomes_typed_parquet(stack: Stack) -> None:
    stack.add_request()
    put = stack.upload("uploads/r1/s1/pupils.xlsx", _pupils_xlsx())
    result = stack.invoke(stack.event(stack.receive()))
    assert result == {"batchItemFailures": []}
    version = put["VersionId"]
    check = stack.item("REQUEST#r1", _check_sk(stack, version))
    assert check is not None and check["status"] == "valid"
    assert check["parquet_key"] == f"curated/r1/s1/{version}/data.parquet"
    table = pq.read_table(io.BytesIO(_body(stack, check["parquet_key"])))
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("dob").type == pa.date32()
    assert table.schema.field("fte").type == pa.float64()
    assert pa.types.is_string(table.schema.field("school").type) or pa.types.is_large_string(
        table.schema.field("school").type
    )
    assert table.column("dob").to_pylist() == [date(2015, 4, 1), date(2016, 5, 2)]
    subjects = sorted(e.subject for e in stack.sent_emails())
    assert subjects == [
        "Upload to 'Pupil census 2026' from Uma passed its checks",
        "Your upload to 'Pupil census 2026' passed its checks",
    ]


def test_redelivery_does_nothing(stack: Stack) -> None:
    stack.add_request()
    put = stack.upload(KEY, BAD_CSV)
    event = stack.event(stack.receive())
    assert stack.invoke(event) == {"batchItemFailures": []}
    first = stack.item("REQUEST#r1", _check_sk(stack, put["VersionId"]))

    assert stack.invoke(event) == {"batchItemFailures": []}

    assert stack.item("REQUEST#r1", _check_sk(stack, put["VersionId"])) == first
    assert len(stack.sent_emails()) == 2
    assert len(stack.audit_events()) == 1


def test_unknown_request_is_recorded_kept_and_not_emailed(stack: Stack) -> None:
    put = stack.upload("uploads/nope/s9/data.csv", BAD_CSV)
    assert stack.invoke(stack.event(stack.receive())) == {"batchItemFailures": []}
    check = stack.item("REQUEST#nope", f"SUBMISSION#s9#CHECK#{put['VersionId']}")
    assert check is not None and check["status"] == "unknown-request"
    assert check["gsi1pk"] == "UPLOADS#unknown-request"
    assert stack.sent_emails() == []
    assert stack.keys("reports/") == []
    assert stack.keys("uploads/nope/") == ["uploads/nope/s9/data.csv"]  # not deleted
    assert stack.item("REQUEST#nope", "SUBMISSION#s9") is None  # no submission invented
    [event] = stack.audit_events()
    assert (event["decision"], event["reason"]) == ("deny", "unknown-request")


def test_known_request_unknown_submission_is_unknown(stack: Stack) -> None:
    stack.add_request()
    stack.upload("uploads/r1/other/data.csv", BAD_CSV)
    stack.invoke(stack.event(stack.receive()))
    checks = stack.ddb.query(
        TableName="witan-test-requests",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
        ExpressionAttributeValues={":pk": {"S": "REQUEST#r1"}, ":sk": {"S": "SUBMISSION#other#CHECK#"}},
    )["Items"]
    assert [c["status"]["S"] for c in checks] == ["unknown-request"]
    assert stack.sent_emails() == []


def test_too_large_object_is_reported_without_download(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file over the limit must not be downloaded")

    monkeypatch.setattr(S3ObjectStore, "download", no_download)
    stack.add_request()
    big = b"id,dob,school,fte\n" + b"1,2015-04-01,A,1.0\n" * (MAX_UPLOAD_BYTES // 19 + 10)
    put = stack.upload("uploads/r1/s1/big.csv", big)
    assert stack.invoke(stack.event(stack.receive())) == {"batchItemFailures": []}
    check = stack.item("REQUEST#r1", _check_sk(stack, put["VersionId"]))
    assert check is not None
    assert (check["status"], check["counts"]) == ("unusable", {"file-too-large": 1})
    assert len(stack.keys(f"reports/r1/s1/{put['VersionId']}/")) == 3
    subjects = {e.subject for e in stack.sent_emails()}
    assert "Your upload to 'Pupil census 2026' could not be checked" in subjects


def test_one_bad_message_fails_alone(stack: Stack) -> None:
    stack.add_request()
    put = stack.upload(KEY, BAD_CSV)
    event = stack.event(stack.receive())
    bad = dict(event["Records"][-1], messageId="bad-1", body="{not json")
    odd_key = dict(
        event["Records"][-1],
        messageId="bad-2",
        body=json.dumps(
            {
                "Records": [
                    {
                        "eventName": "ObjectCreated:Put",
                        "s3": {
                            "bucket": {"name": "witan-test-data"},
                            "object": {"key": "uploads/only-two-parts.csv", "size": 1},
                        },
                    }
                ]
            }
        ),
    )
    event["Records"] = [bad, *event["Records"], odd_key]
    result = stack.invoke(event)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-1"}, {"itemIdentifier": "bad-2"}]}
    check = stack.item("REQUEST#r1", _check_sk(stack, put["VersionId"]))
    assert check is not None and check["status"] == "invalid"


def test_too_little_time_left_gives_the_message_back(stack: Stack) -> None:
    stack.add_request()
    stack.upload(KEY, BAD_CSV)
    messages = [m for m in stack.receive() if "Records" in json.loads(m["Body"])]
    result = stack.invoke(stack.event(messages), remaining_ms=20_000)
    assert result == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert stack.keys("reports/") == []
    assert stack.sent_emails() == []


def _with_version_and_sequencer(message: dict, version: str, sequencer: str) -> dict:
    """Add what real S3 puts in every notification of a versioned bucket and moto 5.2.5 leaves out."""
    body = json.loads(message["Body"])
    body["Records"][0]["s3"]["object"] |= {"versionId": version, "sequencer": sequencer}
    return dict(message, Body=json.dumps(body))


def test_late_event_for_an_older_upload_does_not_hide_the_newer_status(stack: Stack) -> None:
    stack.add_request()
    old = stack.upload("uploads/r1/s1/p.csv", BAD_CSV)
    new = stack.upload("uploads/r1/s1/p.csv", b"id,dob,school,fte\n1,2015-04-01,A,1\n")
    old_msg, new_msg = [m for m in stack.receive() if "Records" in json.loads(m["Body"])]
    old_msg = _with_version_and_sequencer(old_msg, old["VersionId"], "0062E99A88DC407460")
    new_msg = _with_version_and_sequencer(new_msg, new["VersionId"], "0062E99A88DC407461")

    assert stack.invoke(stack.event([new_msg])) == {"batchItemFailures": []}
    assert stack.invoke(stack.event([old_msg])) == {"batchItemFailures": []}

    old_check = stack.item("REQUEST#r1", _check_sk(stack, old["VersionId"]))
    new_check = stack.item("REQUEST#r1", _check_sk(stack, new["VersionId"]))
    assert old_check is not None and new_check is not None
    assert (old_check["status"], new_check["status"]) == (
        "invalid",
        "valid",
    )  # each version checked as itself
    submission = stack.item("REQUEST#r1", "SUBMISSION#s1")
    assert submission is not None
    assert (submission["status"], submission["latest_version"]) == ("valid", new["VersionId"])


def _claim(stack: Stack, version: str, lease_expires_at: int) -> None:
    stack.ddb.put_item(
        TableName="witan-test-requests",
        Item={
            "pk": {"S": "REQUEST#r1"},
            "sk": {"S": _check_sk(stack, version)},
            "status": {"S": "checking"},
            "lease_expires_at": {"N": str(lease_expires_at)},
            "claim_token": {"S": "someone-else"},
        },
    )


def test_live_claim_elsewhere_fails_the_message_and_a_stale_one_is_taken_over(stack: Stack) -> None:
    stack.add_request()
    put = stack.upload(KEY, BAD_CSV)
    event = stack.event(stack.receive())
    _claim(stack, put["VersionId"], int(time.time()) + 600)
    result = stack.invoke(event)
    assert len(result["batchItemFailures"]) == 1  # retried later by SQS, not dropped
    assert stack.sent_emails() == []

    _claim(stack, put["VersionId"], int(time.time()) - 1)  # that worker died; its lease ran out
    assert stack.invoke(event) == {"batchItemFailures": []}
    check = stack.item("REQUEST#r1", _check_sk(stack, put["VersionId"]))
    assert check is not None and check["status"] == "invalid"
    assert len(stack.sent_emails()) == 2


def test_refused_email_is_recorded_and_the_check_still_counts(stack: Stack) -> None:
    stack.add_request()
    boto3.client("ses", region_name="eu-west-2").delete_identity(
        Identity="witan@council.example"
    )  # SES now rejects the sender
    put = stack.upload(KEY, BAD_CSV)
    assert stack.invoke(stack.event(stack.receive())) == {"batchItemFailures": []}
    check = stack.item("REQUEST#r1", _check_sk(stack, put["VersionId"]))
    assert check is not None
    assert check["status"] == "invalid"
    assert check["emails_sent"] == 0
    assert sorted(check["email_failed_to"]) == sorted([UPLOADER, REQUESTER])


def test_audit_failure_fails_the_message_before_the_result_is_final(stack: Stack) -> None:
    stack.add_request()
    stack.ddb.delete_table(TableName="witan-test-audit")
    put = stack.upload(KEY, BAD_CSV)
    messages = [m for m in stack.receive() if "Records" in json.loads(m["Body"])]
    result = stack.invoke(stack.event(messages))
    assert result == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    check = stack.item("REQUEST#r1", _check_sk(stack, put["VersionId"]))
    assert check is not None and check["status"] == "checking"  # re-claimable once its lease ends
    assert stack.sent_emails() == []
