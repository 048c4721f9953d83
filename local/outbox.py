"""Every email sent through moto's SES is also written to a folder as a .eml a person can open.

Hooks moto 5.2.5's SES backend (SESv2 delegates to it): after `send_email`, `send_templated_email`
and `send_raw_email` succeed, the message is written out. Raw messages are written as sent.
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

_installed: dict[str, Any] = {}
_state: dict[str, Path] = {}
_lock = threading.Lock()


def _write(message_id: str, content: bytes) -> Path:
    folder = _state["folder"]
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{message_id}.eml"
    with _lock:
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
    original = getattr(ses_models.SESBackend, name)

    def sender(self: ses_models.SESBackend, *args: Any, **kwargs: Any) -> Any:
        message = original(self, *args, **kwargs)
        if "folder" in _state:
            _write(message.id, to_eml(message))
        return message

    _installed[name] = original
    return sender


def install(folder: Path) -> None:
    """Start writing sent mail to `folder` (idempotent; the latest folder wins)."""
    _state["folder"] = Path(folder)
    if _installed:
        return
    for name in ("send_email", "send_templated_email", "send_raw_email"):
        setattr(ses_models.SESBackend, name, _wrap(name))


def uninstall() -> None:
    for name, original in list(_installed.items()):
        setattr(ses_models.SESBackend, name, original)
    _installed.clear()
    _state.clear()


def sent(folder: Path) -> list[Path]:
    """The .eml files in an outbox, oldest first."""
    return sorted(Path(folder).glob("*.eml"))
