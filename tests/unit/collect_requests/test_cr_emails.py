"""Invitation, reminder and digest emails: content, subjects, escaping."""

from __future__ import annotations

from datetime import date

from cr_items import meta, sample
from witan.collect.requests.invitations import digest_email, invitation_email, partner_link, reminder_email
from witan.collect.requests.reminders import digest_changes
from witan.collect.requests.tracking import compute_tracking

LINK = partner_link("https://api.example/prod/", "TOKEN123")
TO, NAME = "b@x.example", "Bob <script>alert(1)</script>"
META = meta(message="Line one\n<b>bold</b> & more", requester_name="Rita & Co")


def test_link_shape() -> None:
    assert LINK == "https://api.example/prod/collect/TOKEN123"


def test_invitation() -> None:
    email = invitation_email(META, TO, NAME, LINK)
    assert email.to == "b@x.example"
    assert email.subject == "Data request: 'School <census>' due Tuesday 01 December 2026"
    assert LINK in email.text and "Line one\n<b>bold</b> & more" in email.text
    assert "<script>" not in email.html and "Bob &lt;script&gt;" in email.html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in email.html
    assert "School &lt;census&gt;" in email.html and "Rita &amp; Co" in email.html
    assert f'href="{LINK}"' in email.html


def test_reminder_wording_by_day_and_state() -> None:
    before = reminder_email(META, TO, NAME, LINK, today=date(2026, 11, 28), state="invited")
    assert before.subject == "Reminder: 'School <census>' due in 3 days"
    assert "not received a file" in before.text and LINK in before.text
    today = reminder_email(META, TO, NAME, LINK, today=date(2026, 12, 1), state="invalid")
    assert today.subject.endswith("due today") and "had errors" in today.text
    late = reminder_email(META, TO, NAME, LINK, today=date(2026, 12, 5), state="opened")
    assert late.subject.endswith("overdue") and "was due 4 days ago" in late.text
    assert "<script>" not in late.html


def test_subject_is_one_line() -> None:
    email = invitation_email(meta(title="Evil\r\nBcc: x@y.example"), TO, NAME, LINK)
    assert "\n" not in email.subject and "\r" not in email.subject


def test_digest() -> None:
    changes = digest_changes([compute_tracking(sample())])
    email = digest_email("rita@council.example", "Rita", changes, day=date(2026, 11, 25))
    assert email.subject == "Witan daily summary for 25 November 2026: 3 changes"
    assert "uploaded a file with errors (3 errors)" in email.text
    assert "1 of 4 valid, 3 outstanding" in email.text
    assert "School &lt;census&gt;" in email.html and "<census>" not in email.html
