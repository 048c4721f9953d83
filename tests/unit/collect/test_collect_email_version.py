"""A valid upload that became a dataset version says which, to the uploader and the requester."""

from __future__ import annotations

from dataclasses import replace

from witan.collect.records import CheckRecord, CollectionRequest, Submission, UploadStatus
from witan.collect.uploads.notify import ReportLinks, compose_emails

REQUEST = CollectionRequest("r1", "Census", "pupils", "rita@council.example", "Rita")
SUBMISSION = Submission("r1", "s1", "uma@school.example", "Uma")
LINKS = ReportLinks(urls={"csv": "https://x.example/r.csv"}, expires_at="28 November 2026 10:00 UTC")
VALID = CheckRecord("r1", "s1", "v1", UploadStatus.VALID, "uploads/r1/s1/p.csv", "p.csv", rows=3)
SENTENCE = "It is now version 7 of dataset 0123456789abcdef0123456789abcdef."


def test_both_emails_name_the_dataset_and_version() -> None:
    record = replace(VALID, dataset_id="0123456789abcdef0123456789abcdef", dataset_version=7)
    emails = compose_emails(record, REQUEST, SUBMISSION, [], LINKS)
    assert [e.to for e in emails] == ["uma@school.example", "rita@council.example"]
    for email in emails:
        assert "passed every check (3 rows). " + SENTENCE in email.text
        assert SENTENCE in email.html


def test_without_a_version_nothing_is_claimed() -> None:
    for record in (
        VALID,
        replace(VALID, status=UploadStatus.INVALID, error_count=1, counts={"type-error": 1}),
    ):
        for email in compose_emails(record, REQUEST, SUBMISSION, [], LINKS):
            assert "version" not in email.text and "of dataset" not in email.html
