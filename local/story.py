"""What every step of `make demo` shares: the `Demo` it acts on, `StepFailed`, and API calls as a user.

The steps (local/demo.py and the local/story_*.py modules) import these from here, never from
local.demo: under `python -m local.demo` that module runs as __main__, and importing it again would
make a second `StepFailed` class that the demo's runner does not catch. With one home there is one
class, whether the steps run from `make demo` or from tests/e2e.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from local.deploy import REPO_ROOT, Deployment
from local.gateway import LocalGateway

HTTP_TIMEOUT_S = 60


class StepFailed(Exception):
    """A step's expectation did not hold; the message says which."""


@dataclass
class Demo:
    """The deployed stack, its gateway and outbox, and facts one step leaves for the next."""

    deployment: Deployment
    gateway: LocalGateway
    outbox_dir: Path
    facts: dict[str, Any] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(f"    {text}", flush=True)


def require_handler(name: str) -> None:
    """A step needing a function that is not in the repository fails plainly (nothing stands in)."""
    if not (REPO_ROOT / "functions" / name / "handler.py").is_file():
        raise StepFailed(f"functions/{name}/handler.py is missing: this step cannot run yet")


def user_sub(demo: Demo, user: str) -> str:
    """The user's Cognito sub, read from their ID token (the gateway verifies it; here we only read)."""
    token = demo.deployment.id_token(user)
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


def call(
    demo: Demo,
    method: str,
    path: str,
    user: str | None,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
    *,
    accept: str | None = None,
) -> tuple[int, str, bytes]:
    """One call through the local gateway, as a demo user or signed out (`user` None): status,
    content type and raw body, for error statuses too."""
    headers = {"Content-Type": "application/json"}
    if user:
        headers["Authorization"] = demo.deployment.id_token(user)
    if accept:
        headers["Accept"] = accept
    url = demo.gateway.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310 - local
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def api_call(
    demo: Demo,
    method: str,
    path: str,
    user: str | None,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
    *,
    accept: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """`call` with the JSON body decoded (a non-object answer comes as {"value": ...}); a body that
    is not JSON fails the step with what came back."""
    status, content_type, raw = call(demo, method, path, user, body, query, accept=accept)
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError as error:
        raise StepFailed(
            f"{method} {shown(path, query)} -> {status} is not JSON ({content_type}): {raw[:200]!r}"
        ) from error
    return status, parsed if isinstance(parsed, dict) else {"value": parsed}


def call_json(
    demo: Demo,
    method: str,
    path: str,
    user: str,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """`api_call`, printed as `who (group) METHOD /path -> status [code]`."""
    status, parsed = api_call(demo, method, path, user, body, query)
    code = f" {parsed.get('code')}" if status >= 400 else ""
    demo.say(f"{who(demo, user)} {method} {shown(path, query)} -> {status}{code}")
    return status, parsed


def who(demo: Demo, user: str) -> str:
    return f"{user} ({demo.deployment.users[user].group})"


def shown(path: str, query: dict[str, str] | None) -> str:
    return f"/{path}" + ("?" + urllib.parse.urlencode(query) if query else "")
