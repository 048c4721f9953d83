"""Email composition: subjects, counts, first-errors table, links, escaping and neutralisation."""

from __future__ import annotations

from witan.collect.records import CheckRecord, CollectionRequest, Submission, UploadStatus
from witan.collect.uploads.notify import EMAIL_MAX_ERRORS, ReportLinks, compose_emails
from witan.validation.records import CheckError

REQUEST = CollectionRequest(
    request_id="r1",
    title="School <census> 2026",
    schema="pupils",
    requester_email="requester@council.example",
    requester_name="Rita Requester",
)
SUBMISSION = Submission(
    request_id="r1",
    submission_id="s1",
    uploader_email="uploader@school.example",
    uploader_name="Uma Uploader",
)
LINKS = ReportLinks(
    urls={"xlsx": "https://x.example/r.xlsx?a=1&b=2", "csv": "https://x.example/r.csv"},
    expires_at="28 November 2026 10:00 UTC",
)


def _record(status: UploadStatus, counts: dict[str, int], rows: int = 10) -> CheckRecord:
    return CheckRecord(
        request_id="r1",
        submission_id="s1",
        version_key="v1",
        status=status,
        object_key="uploads/r1/s1/pupils.csv",
        file_name="pupils.csv",
        rows=rows,
        error_count=sum(counts.values()),
        counts=counts,
    )


ERRORS = [
    CheckError(
        code="type-error",
        message="'<b>x</b>' is not a date",
        row=2,
        field="dob",
        column="B",
        value="<b>x</b>",
    ),
    CheckError(
        code="type-error", message="'=1+1' is not a date", row=3, field="dob", column="B", value="=1+1"
    ),
    CheckError(code="missing-label", message="Column 'age' is missing", field="age"),
]


def test_invalid_upload_emails_uploader_and_requester() -> None:
    record = _record(UploadStatus.INVALID, {"type-error": 2, "missing-label": 1})
    uploader, requester = compose_emails(record, REQUEST, SUBMISSION, ERRORS, LINKS)
    assert uploader.to == "uploader@school.example"
    assert uploader.subject == "Your upload to 'School <census> 2026' has 3 errors"
    assert requester.to == "requester@council.example"
    assert requester.subject == "Upload to 'School <census> 2026' from Uma Uploader has 3 errors"
    for email in (uploader, requester):
        assert "     2  Wrong kind of value (type-error)" in email.text
        assert "     1  Missing column (missing-label)" in email.text
        assert "row 2 column B (dob): '<b>x</b>' is not a date [type-error]" in email.text
        assert "https://x.example/r.xlsx?a=1&b=2" in email.text
        assert "28 November 2026 10:00 UTC" in email.text
    assert "Please correct them" in uploader.text
    assert "Please correct them" not in requester.text
    assert "Uma Uploader <uploader@school.example> uploaded a file." in requester.text


def test_html_is_escaped_and_values_neutralised() -> None:
    record = _record(UploadStatus.INVALID, {"type-error": 2})
    uploader, _ = compose_emails(record, REQUEST, SUBMISSION, ERRORS, LINKS)
    assert "<b>x</b>" not in uploader.html
    assert "&lt;b&gt;x&lt;/b&gt;" in uploader.html
    assert "School &lt;census&gt; 2026" in uploader.html
    assert "<td>&#x27;=1+1</td>" in uploader.html  # value cell: quote-prefixed, then escaped
    assert 'href="https://x.example/r.xlsx?a=1&amp;b=2"' in uploader.html
    assert "<td>2</td>" in uploader.html  # the count of type-error


def test_valid_and_unusable_subjects() -> None:
    ok, _ = compose_emails(_record(UploadStatus.VALID, {}), REQUEST, SUBMISSION, [], LINKS)
    assert ok.subject == "Your upload to 'School <census> 2026' passed its checks"
    assert "passed every check (10 rows)" in ok.text
    assert "Errors by type" not in ok.text
    bad, _ = compose_emails(
        _record(UploadStatus.UNUSABLE, {"file-too-large": 1}, rows=0), REQUEST, SUBMISSION, [], LINKS
    )
    assert bad.subject == "Your upload to 'School <census> 2026' could not be checked"


def test_one_error_is_singular_and_table_is_bounded() -> None:
    one, _ = compose_emails(
        _record(UploadStatus.INVALID, {"type-error": 1}), REQUEST, SUBMISSION, ERRORS[:1], LINKS
    )
    assert one.subject.endswith("has 1 error")
    many = [
        CheckError(code="type-error", message=f"bad {i}", row=i + 2, column="B", field="dob")
        for i in range(25)
    ]
    email, _ = compose_emails(
        _record(UploadStatus.INVALID, {"type-error": 25}), REQUEST, SUBMISSION, many, LINKS
    )
    assert email.html.count("<tr><td>") == EMAIL_MAX_ERRORS + 1  # + the counts row
    assert f"First {EMAIL_MAX_ERRORS} errors (15 more in the reports):" in email.text


def test_same_person_gets_one_email_and_subjects_have_no_newlines() -> None:
    request = CollectionRequest(
        request_id="r1", title="Line\r\nBcc: evil@example.com", schema="s", requester_email="Same@x.example"
    )
    submission = Submission(request_id="r1", submission_id="s1", uploader_email="same@x.example")
    emails = compose_emails(_record(UploadStatus.VALID, {}), request, submission, [], LINKS)
    assert len(emails) == 1
    assert "\n" not in emails[0].subject and "\r" not in emails[0].subject
