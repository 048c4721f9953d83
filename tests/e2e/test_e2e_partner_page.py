"""The partner page in headless Chromium against the embedded stack (local gateway -> access_api).

A requester creates a request through the gateway; the test opens the emailed link in Chromium, sees
the request's title and field table, picks a CSV with the page's file input, and sees the check result
(the error table) that the page polls for. The page's own script does everything: it asks for the
presigned POST, posts the form to S3 and polls the submissions route.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON messages
ending in NUL on fds 3/4), so no browser-automation package is needed. In-process moto serves no
HTTP, so the browser's POST to S3 is redirected (Fetch domain, unseen by the page) to a local relay
that forwards the bytes the browser sent to moto's S3 (`requests` is intercepted in-process); S3's
answer goes back to the page with the CORS headers the data bucket's CORS rule gives in AWS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from local import lambda_runtime, outbox

pytestmark = pytest.mark.xdist_group("e2e")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI sets this (.ci/run): there a missing browser fails the browser tests instead of skipping them.
REQUIRE_BROWSER_ENV = "WITAN_REQUIRE_BROWSER"


def require_chromium() -> None:
    """Skip a browser test when Chromium is missing, saying how to get it; fail instead under CI."""
    if CHROMIUM:
        return
    message = "Chromium is not installed: `make browser` installs it (Debian/Ubuntu) for the browser tests"
    if os.environ.get(REQUIRE_BROWSER_ENV):
        pytest.fail(f"{message} ({REQUIRE_BROWSER_ENV} is set: CI must run them)", pytrace=False)
    pytest.skip(message)


FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]
INVALID_CSV = (
    "area-code,area-name,year,sex,age,population\n"
    "E09000007,Camden,2024,persons,1,2000\n"
    "X123,Camden,2024,people,-3,12\n"
)
TIMEOUT_S = 60.0
ERROR_ROWS = (
    "!document.getElementById('errors').hidden && document.querySelectorAll('#errors tbody tr').length"
)


class Cdp:
    """A DevTools protocol client over Chromium's debugging pipe (one browser, one page session)."""

    def __init__(self, profile: Path) -> None:
        require_chromium()
        assert CHROMIUM
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def fds() -> None:  # the browser reads commands on fd 3 and writes answers on fd 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,
            pass_fds=(3, 4),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the debugging pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session and not browser:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def pump(self) -> None:
        """Read whatever the browser has sent (events), without blocking for long."""
        import select

        while select.select([self._from_browser], [], [], 0.05)[0]:
            self.events.append(self._read())

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)


def _api(stack: Any, method: str, path: str, user: str, body: Any) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Authorization": stack.deployment.id_token(user)}
    request = urllib.request.Request(  # noqa: S310 - the local gateway
        stack.gateway.url + path, data=json.dumps(body).encode(), headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def _link_for(stack: Any, address: str) -> str:
    import email
    import email.policy
    import re

    for path in reversed(outbox.sent(stack.outbox_dir)):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in str(message["To"]):
            body = message.get_body(preferencelist=("plain", "html"))
            found = re.search(
                r"http://[^\s\"<>]+/collect/[A-Za-z0-9_-]{43}", body.get_content() if body else ""
            )
            if found:
                return found.group(0)
    raise AssertionError(f"no link emailed to {address}")


class S3Relay:
    """A local HTTP endpoint the browser's S3 POST is redirected to (Fetch.continueRequest): it
    forwards the exact bytes the browser sent to moto's S3 (in-process, through `requests`) and answers
    with S3's status and the CORS headers the data bucket's CORS rule gives in AWS."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        relay = self
        self.target = ""
        self.statuses: list[int] = []

        class Handler(BaseHTTPRequestHandler):
            def _cors(self) -> None:
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
                self.send_header("Access-Control-Allow-Methods", "POST")
                self.send_header("Access-Control-Allow-Headers", "*")

            def do_OPTIONS(self) -> None:  # the preflight (upload progress listeners make one)
                self.send_response(200)
                self._cors()
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                import requests

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = requests.post(
                    relay.target,
                    data=body,
                    headers={"Content-Type": self.headers["Content-Type"]},
                    timeout=60,
                )
                relay.statuses.append(int(answer.status_code))
                self.send_response(int(answer.status_code))
                self._cors()
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def redirect(self, cdp: Cdp, paused: dict[str, Any]) -> None:
        self.target = paused["request"]["url"]
        cdp.send("Fetch.continueRequest", {"requestId": paused["requestId"], "url": self.url})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait_for(cdp: Cdp, expression: str, on_pause: Any = None, idle: Any = None) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        cdp.pump()
        while on_pause is not None and any(e.get("method") == "Fetch.requestPaused" for e in cdp.events):
            event = next(e for e in cdp.events if e.get("method") == "Fetch.requestPaused")
            cdp.events.remove(event)
            on_pause(event["params"])
        if idle is not None:
            idle()  # let S3 notification -> SQS -> upload_validator finish
        value = cdp.evaluate(expression)
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(
        f"timed out waiting for {expression}: page says {cdp.evaluate('document.body.innerText')!r}"
    )


def test_partner_page_shows_request_and_check_result(e2e_stack: Any, browser: Any, tmp_path: Path) -> None:
    title = f"Population return {date.today().isoformat()}"
    address = "page@school.example"
    status, created = _api(
        e2e_stack,
        "POST",
        "requests",
        "requester",
        {
            "title": title,
            "schema": "population-by-age",
            "due_date": (date.today() + timedelta(days=10)).isoformat(),
            "recipients": [{"email": address, "name": "Pat", "organisation": "School P"}],
        },
    )
    assert status == 201, created
    link = _link_for(e2e_stack, address)
    assert link.startswith(e2e_stack.gateway.url.rstrip("/"))

    cdp = browser
    # The form POST to S3 goes to the presigned URL's host (AWS in-process): intercept and relay it.
    cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "https://*", "requestStage": "Request"}]})
    cdp.send("Page.enable")
    cdp.send("Page.navigate", {"url": link})
    seen = _wait_for(cdp, "(document.getElementById('title') || {}).textContent")
    assert seen == title
    fields = cdp.evaluate("document.querySelectorAll('#fields tbody tr').length")
    assert fields == 6  # population-by-age has six columns, each explained

    csv_path = tmp_path / "population.csv"
    csv_path.write_text(INVALID_CSV, encoding="utf-8")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#file"})["nodeId"]
    cdp.send("DOM.setFileInputFiles", {"files": [str(csv_path)], "nodeId": node})

    relay = S3Relay()
    try:
        rows = _wait_for(
            cdp,
            ERROR_ROWS,
            lambda paused: relay.redirect(cdp, paused),
            idle=lambda: relay.statuses and lambda_runtime.wait_until_idle(60),
        )
    finally:
        relay.close()
    assert relay.statuses == [201]
    assert rows >= 3, cdp.evaluate("document.body.innerText.slice(-600)")  # area-code, sex and age of row 3
    result = cdp.evaluate("document.getElementById('result').innerText")
    assert "population.csv" in result and "error" in result
    table = cdp.evaluate("document.getElementById('errors').innerText")
    assert "area-code" in table and "3" in table
    history = cdp.evaluate("document.querySelectorAll('#history tbody tr').length")
    assert history == 1


def test_collect_story_of_the_demo_runs(e2e_stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """local/story_collect.py's steps (appended to `make demo`) on this package's embedded stack."""
    from local.story import Demo
    from local.story_collect import COLLECT_STEPS, PARTNERS

    demo = Demo(e2e_stack.deployment, e2e_stack.gateway, e2e_stack.outbox_dir)
    for _title, step in COLLECT_STEPS:
        step(demo)  # raises StepFailed with the reason when an expectation does not hold
    printed = capsys.readouterr().out
    assert "reminded: C" in printed
    assert f"{PARTNERS['B'][0]:<24} valid    uploads=2" in printed
    assert "-> 404 (not theirs)" in printed
