"""Emails of a request's life: invitation (with the partner's link), reminder, requester's digest.

Plain text + HTML. Values from requesters and partners are made single-line where they go in
subjects, neutralised against spreadsheet formulas, and HTML-escaped in the HTML part. The link is
the only place a raw token appears: it goes into the email and nowhere else (never logs).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

from witan.collect.requests.records import RequestRecord
from witan.collect.requests.reminders import DigestRequest
from witan.collect.uploads.notify import SUBJECT_MAX_TITLE, Email, _one_line, _plural, _safe

FOOTER = "This message was sent by Witan. Please do not reply to it."
EVENT_WORDS = {
    "opened": "opened the link",
    "checking": "uploaded a file (being checked)",
    "valid": "uploaded a file that passed every check",
    "invalid": "uploaded a file with errors",
    "unusable": "uploaded a file that could not be checked",
}


def partner_link(base_url: str, token: str) -> str:
    """The partner page URL: `{base}/collect/{token}` (the API serves the page there)."""
    return f"{base_url.rstrip('/')}/collect/{token}"


def _due_words(due: str) -> str:
    try:
        return date.fromisoformat(due).strftime("%A %d %B %Y")
    except ValueError:
        return due


def _paragraphs(value: str | None, limit: int = 5000) -> str:
    """A multi-line message: line breaks kept, other control characters and formula starts made inert."""
    lines = (value or "")[:limit].splitlines()
    return "\n".join(_safe(line, limit) for line in lines).strip()


def _html_page(paragraphs: Sequence[str]) -> str:
    body = "".join(paragraphs)
    return (
        '<!DOCTYPE html><html><body style="font-family:Arial,sans-serif;font-size:14px">'
        f'{body}<p style="color:#666">{html.escape(FOOTER)}</p></body></html>'
    )


def _sender_words(request: RequestRecord) -> str:
    name = _safe(request.requester_name, 80)
    email = _one_line(request.requester_email, 120)
    return f"{name} ({email})" if name else email


def invitation_email(request: RequestRecord, to: str, name: str | None, link: str) -> Email:
    """The invitation of recipient `to` (called `name`, if given) to the request, with their link."""
    title = _one_line(request.title, SUBJECT_MAX_TITLE)
    greeting = _safe(name or to, 80)
    due = _due_words(request.due_date)
    who = _sender_words(request)
    message = _paragraphs(request.message)
    lines = [
        f"Hello {greeting},",
        "",
        f"{who} asks you to send data for '{_safe(request.title, 200)}' by {due}.",
        "",
    ]
    if message:
        lines += ["Their message:", "", message, ""]
    lines += [
        "Open this link to see what is asked, download a template and upload your file:",
        link,
        "",
        "The link is personal to you: please do not forward it. Your file is checked as soon as it is",
        "uploaded and you will get an email with the result.",
        "",
        FOOTER,
    ]
    esc = html.escape
    paragraphs = [
        f"<p>Hello {esc(greeting)},</p>",
        f"<p>{esc(who)} asks you to send data for <strong>{esc(_safe(request.title, 200))}</strong>"
        f" by <strong>{esc(due)}</strong>.</p>",
    ]
    if message:
        paragraphs.append(
            '<blockquote style="border-left:3px solid #ccc;padding-left:8px">'
            + esc(message).replace("\n", "<br>")
            + "</blockquote>"
        )
    paragraphs += [
        f'<p><a href="{esc(link, quote=True)}">'
        "Open the request, download the template and upload your file</a></p>",
        "<p>The link is personal to you: please do not forward it. Your file is checked as soon as it is"
        " uploaded and you will get an email with the result.</p>",
    ]
    return Email(
        to=to,
        subject=f"Data request: '{title}' due {due}",
        text="\n".join(lines),
        html=_html_page(paragraphs),
    )


def reminder_email(
    request: RequestRecord, to: str, name: str | None, link: str, *, today: date, state: str
) -> Email:
    """A nudge; `state` is the recipient's tracking state (invited/opened/invalid/unusable/...)."""
    title = _one_line(request.title, SUBJECT_MAX_TITLE)
    greeting = _safe(name or to, 80)
    due_date = date.fromisoformat(request.due_date)
    days = (due_date - today).days
    if days > 0:
        when, subject_when = (
            f"is due in {_plural(days, 'day')}, on {_due_words(due_date.isoformat())}",
            (f"due in {_plural(days, 'day')}"),
        )
    elif days == 0:
        when, subject_when = "is due today", "due today"
    else:
        when, subject_when = (
            f"was due {_plural(-days, 'day')} ago, on {_due_words(due_date.isoformat())}",
            "overdue",
        )
    status = (
        "Your last upload had errors; please correct them and upload the file again."
        if state in ("invalid", "unusable")
        else "We have not received a file from you yet."
    )
    lines = [
        f"Hello {greeting},",
        "",
        f"A reminder: the data for '{_safe(request.title, 200)}' {when}. {status}",
        "",
        "Upload it here:",
        link,
        "",
        FOOTER,
    ]
    esc = html.escape
    paragraphs = [
        f"<p>Hello {esc(greeting)},</p>",
        f"<p>A reminder: the data for <strong>{esc(_safe(request.title, 200))}</strong> {esc(when)}."
        f" {esc(status)}</p>",
        f'<p><a href="{esc(link, quote=True)}">Open the request and upload your file</a></p>',
    ]
    return Email(
        to=to,
        subject=f"Reminder: '{title}' {subject_when}",
        text="\n".join(lines),
        html=_html_page(paragraphs),
    )


def digest_email(to: str, name: str | None, requests: Sequence[DigestRequest], *, day: date) -> Email:
    """The requester's daily summary of what changed across their open requests."""
    greeting = _safe(name or to, 80)
    changes = sum(len(r.lines) for r in requests)
    lines = [f"Hello {greeting},", "", "What happened on your data requests since the last summary:", ""]
    esc = html.escape
    paragraphs = [
        f"<p>Hello {esc(greeting)},</p>",
        "<p>What happened on your data requests since the last summary:</p>",
    ]
    for r in requests:
        t = r.totals
        progress = (
            f"{t.get('valid', 0)} of {t.get('recipients', 0)} valid, {t.get('outstanding', 0)} outstanding"
        )
        lines.append(f"{_safe(r.title, 200)} (due {r.due_date}): {progress}")
        paragraphs.append(
            f"<h3>{esc(_safe(r.title, 200))}</h3><p>Due {esc(r.due_date)}: {esc(progress)}</p>"
            '<table border="1" cellpadding="4" cellspacing="0"><tr><th>When</th><th>Who</th>'
            "<th>Organisation</th><th>What</th></tr>"
        )
        for line in r.lines:
            what = EVENT_WORDS.get(line.event, line.event)
            if line.event == "invalid" and line.error_count:
                what += f" ({_plural(line.error_count, 'error')})"
            who = _safe(line.who, 80)
            org = _safe(line.organisation, 80)
            lines.append(f"  - {line.at}  {who}{f' ({org})' if org else ''} {what}")
            paragraphs.append(
                f"<tr><td>{esc(line.at)}</td><td>{esc(who)}</td><td>{esc(org)}</td><td>{esc(what)}</td></tr>"
            )
        paragraphs.append("</table>")
        lines.append("")
    lines += ["Open Witan to see every recipient's status and reports.", "", FOOTER]
    paragraphs.append("<p>Open Witan to see every recipient's status and reports.</p>")
    return Email(
        to=to,
        subject=f"Witan daily summary for {day.strftime('%d %B %Y')}: {_plural(changes, 'change')}",
        text="\n".join(lines),
        html=_html_page(paragraphs),
    )
