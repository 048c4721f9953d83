"""The hostile corpus (tests/unit/validation/hostile_corpus.py) through the real validator on moto
(issue 15, item 8): every file ends in one final check record (valid, invalid or unusable) with its
three reports and the two emails, the message succeeds, the upload itself is kept: nothing lost,
nothing retried for ever. A stored schema whose pattern RE2 cannot run makes uploads unusable at once.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from uv_stack import BUCKET, REQUESTS, Stack
from witan.aws.submissions import DynamoRequestStore
from witan.validation import readers

UPLOAD_LIMIT = 8 * 1024 * 1024  # above every corpus file, so each meets the reader's own limits


def _corpus() -> ModuleType:
    if "hostile_corpus" in sys.modules:
        return sys.modules["hostile_corpus"]
    path = Path(__file__).resolve().parents[2] / "unit" / "validation" / "hostile_corpus.py"
    spec = importlib.util.spec_from_file_location("hostile_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["hostile_corpus"] = module
    spec.loader.exec_module(module)
    return module


corpus = _corpus()


@pytest.fixture
def hostile_stack(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("MAX_UPLOAD_BYTES", str(UPLOAD_LIMIT))
    for name, value in corpus.TEST_LIMITS.items():
        monkeypatch.setattr(readers, name, value)
    stack.handler.reset()  # rebuild the service with the larger upload limit
    assert DynamoRequestStore(REQUESTS, stack.ddb).put_stored_schema(
        "hostile", corpus.SCHEMA, created_by="sub-rita"
    )
    return stack


def _handle(stack: Stack, request_id: str, file_name: str, body: bytes) -> tuple[dict[str, Any], float]:
    stack.add_request(request_id, "s1", schema="stored:hostile")
    key = f"uploads/{request_id}/s1/{file_name}"
    version = stack.upload(key, body)["VersionId"]
    event = stack.event(stack.receive())
    started = time.perf_counter()
    assert stack.invoke(event) == {"batchItemFailures": []}
    elapsed = time.perf_counter() - started
    check = stack.item(f"REQUEST#{request_id}", f"SUBMISSION#s1#CHECK#{version}")
    assert check is not None
    assert stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body  # the upload is kept
    return check, elapsed


@pytest.mark.parametrize("case", corpus.CASES, ids=[c.name for c in corpus.CASES])
def test_each_hostile_file_ends_in_a_final_record_with_reports(
    hostile_stack: Stack, case: Any, tmp_path: Path
) -> None:
    path = tmp_path / case.name
    case.write(path)
    check, elapsed = _handle(hostile_stack, "r1", case.name, path.read_bytes())
    print(f"\nvalidator {case.name}: {elapsed:.3f}s {check['status']} {check.get('counts')}")

    expected = "unusable" if case.unusable else "valid" if case.valid else "invalid"
    assert check["status"] == expected, check.get("counts")
    if not case.valid:
        assert case.codes & set(check["counts"]), check["counts"]
    assert sorted(check["report_keys"]) == ["csv", "json", "xlsx"]
    report = json.loads(
        hostile_stack.s3.get_object(Bucket=BUCKET, Key=check["report_keys"]["json"])["Body"].read()
    )
    assert report["error_count"] == sum(check["counts"].values())
    assert len(hostile_stack.sent_emails()) == 2  # uploader and requester, each told the outcome
    assert elapsed < 15.0


def test_stored_pattern_that_re2_cannot_run_makes_the_upload_unusable(stack: Stack) -> None:
    # Stored before patterns were checked (put straight into the table, as an old item would be).
    assert DynamoRequestStore(REQUESTS, stack.ddb).put_stored_schema(
        "redos", corpus.REDOS_PYTHON_ONLY, created_by="x"
    )
    stack.add_request("r1", "s1", schema="stored:redos")
    version = stack.upload("uploads/r1/s1/d.csv", b"code\n" + b"a" * 40 + b"\n")["VersionId"]
    started = time.perf_counter()
    assert stack.invoke(stack.event(stack.receive())) == {"batchItemFailures": []}
    assert time.perf_counter() - started < 5.0
    check = stack.item("REQUEST#r1", f"SUBMISSION#s1#CHECK#{version}")
    assert check is not None and check["status"] == "unusable"
    assert check["counts"] == {"schema-error": 1}
