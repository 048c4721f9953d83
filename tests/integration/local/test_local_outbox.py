"""Every email sent through moto's SES lands in the outbox as a .eml a mail client can open."""

from __future__ import annotations

import email
import email.policy
from email.mime.text import MIMEText
from pathlib import Path

import boto3
from moto import mock_aws

from local import outbox


def test_send_email_and_raw_email_are_written_as_eml(tmp_path: Path) -> None:
    with mock_aws():
        outbox.install(tmp_path)
        try:
            ses = boto3.client("ses", region_name="eu-west-2")
            ses.verify_email_identity(EmailAddress="noreply@witan.local")
            ses.send_email(
                Source="noreply@witan.local",
                Destination={"ToAddresses": ["a@camden.example"], "CcAddresses": ["b@camden.example"]},
                Message={
                    "Subject": {"Data": "Your upload was checked"},
                    "Body": {"Text": {"Data": "3 errors"}, "Html": {"Data": "<p>3 errors</p>"}},
                },
            )
            raw = MIMEText("raw body")
            raw["Subject"], raw["From"], raw["To"] = "Raw one", "noreply@witan.local", "c@hackney.example"
            ses.send_raw_email(RawMessage={"Data": raw.as_bytes()})
            boto3.client("sesv2", region_name="eu-west-2").send_email(
                FromEmailAddress="noreply@witan.local",
                Destination={"ToAddresses": ["d@camden.example"]},
                Content={"Simple": {"Subject": {"Data": "v2"}, "Body": {"Text": {"Data": "via sesv2"}}}},
            )
        finally:
            outbox.uninstall()
        ses_after = boto3.client("ses", region_name="eu-west-2")
        ses_after.send_email(  # after uninstall nothing more is written
            Source="noreply@witan.local",
            Destination={"ToAddresses": ["a@camden.example"]},
            Message={"Subject": {"Data": "late"}, "Body": {"Text": {"Data": "x"}}},
        )
    files = outbox.sent(tmp_path)
    assert len(files) == 3
    messages = [email.message_from_bytes(path.read_bytes()) for path in files]
    subjects = [m["Subject"] for m in messages]
    assert subjects == ["Your upload was checked", "Raw one", "v2"]
    first = messages[0]
    assert first["To"] == "a@camden.example"
    assert first["Cc"] == "b@camden.example"
    assert first["From"] == "noreply@witan.local"
    assert "errors" in first.get_payload(decode=True).decode()
    assert messages[2].get_payload(decode=True).decode().strip() == "via sesv2"


def test_a_long_subject_reads_back_unchanged(tmp_path: Path) -> None:
    # The standard library's 78-column folding turned this one into "Subject:\n Upload to ...".
    subject = "Upload to 'Population by age' has 3 errors: please fix and upload again today"
    with mock_aws():
        outbox.install(tmp_path)
        try:
            ses = boto3.client("ses", region_name="eu-west-2")
            ses.verify_email_identity(EmailAddress="noreply@witan.local")
            ses.send_email(
                Source="noreply@witan.local",
                Destination={"ToAddresses": ["a@camden.example"]},
                Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": "3 errors"}}},
            )
        finally:
            outbox.uninstall()
    (path,) = outbox.sent(tmp_path)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == subject


def _send(to: str) -> None:
    ses = boto3.client("ses", region_name="eu-west-2")
    ses.verify_email_identity(EmailAddress="noreply@witan.local")
    ses.send_email(
        Source="noreply@witan.local",
        Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": f"to {to}"}, "Body": {"Text": {"Data": "x"}}},
    )


def _recipients(folder: Path) -> list[str]:
    return [str(email.message_from_bytes(p.read_bytes())["To"]) for p in outbox.sent(folder)]


def test_installs_nest_and_one_undone_leaves_the_others_writing(tmp_path: Path) -> None:
    """Two stacks' outboxes in one process: the second going must not take the first one's mail."""
    first, second = tmp_path / "first", tmp_path / "second"
    with mock_aws():
        outbox.install(first)
        try:
            outbox.install(second)
            try:
                _send("both@camden.example")  # moto cannot tell which stack sent it: both get it
                assert outbox.folders() == [first, second]
            finally:
                outbox.uninstall(second)
            _send("first@camden.example")
            assert outbox.folders() == [first]
        finally:
            outbox.uninstall(first)
        assert outbox.folders() == []
        _send("nobody@camden.example")
    assert _recipients(first) == ["both@camden.example", "first@camden.example"]
    assert _recipients(second) == ["both@camden.example"]


def test_an_uninstall_names_its_folder_or_takes_the_latest_and_never_goes_below_none(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    with mock_aws():
        outbox.install(first)
        outbox.install(second)
        outbox.uninstall(first)  # out of order, by name: the other one stays
        assert outbox.folders() == [second]
        outbox.uninstall(first)  # not installed (any more): nothing changes
        assert outbox.folders() == [second]
        outbox.install(first)
        outbox.uninstall()  # no folder: the latest install
        assert outbox.folders() == [second]
        outbox.uninstall()
        outbox.uninstall()  # more undone than done: nothing to undo, the hook is already gone
        assert outbox.folders() == []
        _send("late@camden.example")
    assert outbox.sent(first) == [] and outbox.sent(second) == []
