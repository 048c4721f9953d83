"""The emails telling uploader and requester how an upload's check went (plain text + HTML).

Everything from the partner's file or from request metadata is neutralised against spreadsheet
formula injection (people paste these tables into spreadsheets) and HTML-escaped in the HTML part.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from witan.collect.records import CheckRecord, CollectionRequest, Submission, UploadStatus
from witan.validation.records import ERROR_CODES, CheckError

EMAIL_MAX_ERRORS = 10  # rows in the "first errors" table
SUBJECT_MAX_TITLE = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

# Titles for the codes (one list, shared with the reports); unknown codes are shown as they are.
CODE_NAMES: dict[str, str] = {**ERROR_CODES, "schema-error": "Schema could not be loaded"}

REPORT_LABELS: dict[str, str] = {
    "xlsx": "Annotated workbook (.xlsx)",
    "csv": "Error list (.csv)",
    "json": "Machine-readable report (.json)",
}


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class ReportLinks:
    urls: dict[str, str]  # report format -> presigned URL
    expires_at: str  # when the links stop working, human-readable UTC


def _one_line(value: str | None, limit: int = 200) -> str:
    text = _CONTROL.sub(" ", value or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _safe(value: str | None, limit: int = 200) -> str:
    from witan.validation.reports import neutralise  # with openpyxl: imported on first use (cold start)

    return neutralise(_one_line(value, limit)) or ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _outcome_phrase(record: CheckRecord) -> str:
    if record.status is UploadStatus.VALID:
        return "passed its checks"
    if record.status is UploadStatus.INVALID:
        return f"has {_plural(record.error_count or 0, 'error')}"
    return "could not be checked"


def subjects(record: CheckRecord, request: CollectionRequest, submission: Submission) -> tuple[str, str]:
    """(uploader subject, requester subject)."""
    title = _one_line(request.title, SUBJECT_MAX_TITLE)
    outcome = _outcome_phrase(record)
    who = _one_line(submission.uploader_name or submission.uploader_email, 60)
    return f"Your upload to '{title}' {outcome}", f"Upload to '{title}' from {who} {outcome}"


def _error_place(e: CheckError) -> str:
    parts = []
    if e.row is not None:
        parts.append(f"row {e.row}")
    if e.column:
        parts.append(f"column {e.column}")
    if e.field:
        parts.append(f"({_safe(e.field, 60)})")
    return " ".join(parts) or "whole file"


def _became(record: CheckRecord) -> str:
    """Which dataset version a valid upload became, so both people can find exactly that data."""
    if record.dataset_id is None or record.dataset_version is None:
        return ""
    return f" It is now version {record.dataset_version} of dataset {_safe(record.dataset_id, 64)}."


def _not_delivered(record: CheckRecord) -> str:
    """For the requester: a valid upload that did not become a version, and why (issue 15, item 4)."""
    destination = record.detail.get("destination") or {}
    if destination.get("outcome") != "not-delivered":
        return ""
    return (
        f" It was not added to dataset {_safe(str(destination.get('dataset_id') or ''), 64)}: "
        f"{_safe(str(destination.get('message') or destination.get('reason') or ''), 300)}."
        " The file is kept; the dataset's owner can restore your rights or close the request."
    )


def _summary_line(record: CheckRecord, request: CollectionRequest, *, to_uploader: bool) -> str:
    file_name = _safe(record.file_name, 120)
    title = _safe(request.title, 120)
    rows = _plural(record.rows or 0, "row")
    if record.status is UploadStatus.VALID:
        return (
            f"'{file_name}' for '{title}' passed every check ({rows})."
            + _became(record)
            + ("" if to_uploader else _not_delivered(record))
        )
    if record.status is UploadStatus.INVALID:
        return f"'{file_name}' for '{title}' has {_plural(record.error_count or 0, 'error')} in {rows}." + (
            " Please correct them and upload the file again." if to_uploader else ""
        )
    return f"'{file_name}' for '{title}' could not be checked. The reports below say why." + (
        " Please fix the file and upload it again." if to_uploader else ""
    )


def _text_body(
    greeting: str, lead: str, record: CheckRecord, errors: Sequence[CheckError], links: ReportLinks
) -> str:
    lines = [f"Hello {greeting},", "", lead, ""]
    if record.counts:
        lines.append("Errors by type:")
        for code, count in sorted(record.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            name = CODE_NAMES.get(code, code)
            lines.append(f"  {count:>6}  {name} ({code})")
        lines.append("")
    shown = errors[:EMAIL_MAX_ERRORS]
    if shown:
        more = (record.error_count or 0) - len(shown)
        lines.append(f"First {len(shown)} errors" + (f" ({more} more in the reports):" if more > 0 else ":"))
        for e in shown:
            lines.append(f"  - {_error_place(e)}: {_safe(e.message)} [{e.code}]")
        lines.append("")
    if links.urls:
        lines.append(f"Reports (links work until {links.expires_at}):")
        for fmt, url in links.urls.items():
            lines.append(f"  {REPORT_LABELS.get(fmt, fmt)}: {url}")
        lines.append("")
        lines.append("After that, open the request in Witan to get fresh links.")
        lines.append("")
    lines.append("This message was sent by Witan. Please do not reply to it.")
    return "\n".join(lines)


def _html_body(
    greeting: str, lead: str, record: CheckRecord, errors: Sequence[CheckError], links: ReportLinks
) -> str:
    esc = html.escape
    parts = [
        '<!DOCTYPE html><html><body style="font-family:Arial,sans-serif;font-size:14px">',
        f"<p>Hello {esc(greeting)},</p>",
        f"<p>{esc(lead)}</p>",
    ]
    if record.counts:
        parts.append('<h3>Errors by type</h3><table border="1" cellpadding="4" cellspacing="0">')
        parts.append("<tr><th>Type</th><th>Code</th><th>Count</th></tr>")
        for code, count in sorted(record.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            parts.append(
                f"<tr><td>{esc(CODE_NAMES.get(code, code))}</td><td>{esc(code)}</td><td>{count}</td></tr>"
            )
        parts.append("</table>")
    shown = errors[:EMAIL_MAX_ERRORS]
    if shown:
        parts.append(f"<h3>First {len(shown)} errors</h3>")
        parts.append('<table border="1" cellpadding="4" cellspacing="0">')
        parts.append("<tr><th>Row</th><th>Column</th><th>Field</th><th>Value</th><th>Problem</th></tr>")
        for e in shown:
            row = "" if e.row is None else str(e.row)
            parts.append(
                f"<tr><td>{esc(row)}</td><td>{esc(e.column or '')}</td><td>{esc(_safe(e.field, 60))}</td>"
                f"<td>{esc(_safe(e.value, 60))}</td><td>{esc(_safe(e.message))}</td></tr>"
            )
        parts.append("</table>")
        more = (record.error_count or 0) - len(shown)
        if more > 0:
            parts.append(f"<p>{more} more errors are listed in the reports.</p>")
    if links.urls:
        parts.append(f"<h3>Reports</h3><p>These links work until {esc(links.expires_at)}:</p><ul>")
        for fmt, url in links.urls.items():
            parts.append(f'<li><a href="{esc(url, quote=True)}">{esc(REPORT_LABELS.get(fmt, fmt))}</a></li>')
        parts.append("</ul><p>After that, open the request in Witan to get fresh links.</p>")
    parts.append('<p style="color:#666">This message was sent by Witan. Please do not reply to it.</p>')
    parts.append("</body></html>")
    return "".join(parts)


def compose_emails(
    record: CheckRecord,
    request: CollectionRequest,
    submission: Submission,
    errors: Sequence[CheckError],
    links: ReportLinks,
) -> list[Email]:
    """One email to the uploader and one to the requester (just one if they are the same person)."""
    uploader_subject, requester_subject = subjects(record, request, submission)
    lead = _summary_line(record, request, to_uploader=True)
    uploader_greeting = _one_line(submission.uploader_name or submission.uploader_email, 80)
    uploader = Email(
        to=submission.uploader_email,
        subject=uploader_subject,
        text=_text_body(uploader_greeting, lead, record, errors, links),
        html=_html_body(uploader_greeting, lead, record, errors, links),
    )
    if request.requester_email.strip().lower() == submission.uploader_email.strip().lower():
        return [uploader]
    who = _safe(submission.uploader_name or submission.uploader_email, 80)
    address = _one_line(submission.uploader_email, 120)
    outcome = _summary_line(record, request, to_uploader=False)
    requester_lead = f"{who} <{address}> uploaded a file. {outcome}"
    requester_greeting = _one_line(request.requester_name or request.requester_email, 80)
    requester = Email(
        to=request.requester_email,
        subject=requester_subject,
        text=_text_body(requester_greeting, requester_lead, record, errors, links),
        html=_html_body(requester_greeting, requester_lead, record, errors, links),
    )
    return [uploader, requester]
