"""Every email sent through moto's SES is also written to a folder as a .eml a person can open.

Hooks moto 5.2.5's SES backend (SESv2 delegates to it): after `send_email`, `send_templated_email`
and `send_raw_email` succeed, the message is written out. Raw messages are written as sent.

Several stacks can be up in one process (tests/e2e runs a server-mode stack while the package's
in-process one is still open), each with its own outbox. Installs are therefore counted, one per
folder, and the hook stays until the last one is undone: one stack stopping never takes mail away
from another. moto keeps one SES backend per process for all of them, so a message carries nothing
that says which stack sent it: it is written to every outbox open when it is sent.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from moto.ses import models as ses_models

_SENDERS = ("send_email", "send_templated_email", "send_raw_email")
_originals: dict[str, Any] = {}  # the unpatched SESBackend methods while the hook is in
_folders: list[Path] = []  # one entry per install not yet undone, oldest first
_lock = threading.Lock()


def _write(folder: Path, message_id: str, content: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{message_id}.eml"
    path.write_bytes(content)
    return path


def to_eml(message: Any) -> bytes:
    """Render a moto SES message (simple, templated or raw) as RFC 5322 bytes."""
    if isinstance(message, ses_models.RawMessage):
        raw = message.raw_data
        return raw.encode() if isinstance(raw, str) else bytes(raw)
    # RFC 5322 allows 998-character lines; the default 78 folds long subjects into a leading-space value.
    email = EmailMessage(policy=email_policy.default.clone(max_line_length=998))
    email["Message-ID"] = f"<{message.id}@email.amazonses.com>"
    email["Date"] = format_datetime(datetime.now(UTC))
    email["From"] = message.source
    destinations = message.destinations or {}
    if isinstance(destinations, dict):
        for header, key in (("To", "ToAddresses"), ("Cc", "CcAddresses")):
            if destinations.get(key):
                email[header] = ", ".join(destinations[key])
    if isinstance(message, ses_models.TemplateMessage):
        email["Subject"] = f"[template {message.template}]"
        email.set_content(json.dumps(json.loads(message.template_data or "{}"), indent=2))
        return email.as_bytes()
    email["Subject"] = message.subject or ""
    body = message.body or ""
    if body.lstrip().startswith("<"):
        email.set_content(body, subtype="html")
    else:
        email.set_content(body)
    return email.as_bytes()


def _wrap(name: str) -> Any:
    original = _originals[name]

    def sender(self: ses_models.SESBackend, *args: Any, **kwargs: Any) -> Any:
        message = original(self, *args, **kwargs)
        # Sends come from handler threads and the moto server's threads: each file name is unique
        # (time and message id), so only the list of folders needs the lock.
        targets = folders()
        if targets:
            content = to_eml(message)
            for folder in targets:
                _write(folder, message.id, content)
        return message

    return sender


def install(folder: Path) -> None:
    """Also write sent mail to `folder` until the matching `uninstall`; the first install hooks SES."""
    with _lock:
        _folders.append(Path(folder))
        if _originals:
            return
        for name in _SENDERS:
            _originals[name] = getattr(ses_models.SESBackend, name)
            setattr(ses_models.SESBackend, name, _wrap(name))


def uninstall(folder: Path | None = None) -> None:
    """Undo one `install` of `folder` (of the latest install when None; nothing when none is left).
    The SES hook goes when no install is left."""
    with _lock:
        matching = [i for i, f in enumerate(_folders) if folder is None or f == Path(folder)]
        if matching:
            del _folders[matching[-1]]
        if _folders or not _originals:
            return
        for name, original in _originals.items():
            setattr(ses_models.SESBackend, name, original)
        _originals.clear()


def folders() -> list[Path]:
    """The outboxes sent mail is written to now (each once, oldest install first)."""
    with _lock:
        return list(dict.fromkeys(_folders))


def sent(folder: Path) -> list[Path]:
    """The .eml files in an outbox, oldest first."""
    return sorted(Path(folder).glob("*.eml"))
