"""The council console in headless Chromium against the embedded stack.

One stack (the package's `e2e_stack`) and one browser (module scope) for every console test: signing
in through the local gateway's stand-in for Cognito managed login (authorization code + PKCE), each
page's walk, and axe-core (the pinned npm package, injected over the DevTools protocol) on every page,
with zero serious or critical violations allowed. The page's CSP stays on: a violation fails the test.
Screenshots of each page go to a temporary folder whose path is printed (WITAN_CONSOLE_SCREENSHOTS
sets it).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import lambda_runtime

from .test_e2e_partner_page import Cdp

# Without Chromium, Cdp skips these naming `make browser` (and fails them under CI): not a silent skip.
pytestmark = [pytest.mark.xdist_group("e2e")]

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "console" / "node_modules" / "axe-core" / "axe.min.js"
SITE = REPO / "layers" / "shared" / "python" / "witan" / "console" / "site" / "index.html"
TIMEOUT_S = 60.0
BANNER = "(document.querySelector('.govuk-notification-banner--success')?.innerText || '')"
# Recorded by the page itself from the first script on: CSP violations and uncaught errors.
WATCH = """
const problems = window.__witanProblems = [];
addEventListener('securitypolicyviolation', e => problems.push(`csp ${e.violatedDirective} ${e.blockedURI}`));
addEventListener('error', e => problems.push(`error ${e.message}`));
addEventListener('unhandledrejection', e => problems.push(`rejection ${e.reason?.message || e.reason}`));
"""
AXE_RUN = """axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})
)))"""


class Console:
    """The browser on the console, with the waits and checks every walk uses."""

    def __init__(self, cdp: Cdp, url: str, shots: Path) -> None:
        self.cdp = cdp
        self.url = url
        self.shots = shots
        self.axe_results: dict[str, list[dict[str, Any]]] = {}
        self.on_pause: Any = None  # Fetch.requestPaused handler (presigned S3 URLs, see models walk)

    def wait(self, expression: str, timeout: float = TIMEOUT_S, idle: bool = False) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.cdp.pump()
            self._serve_paused()
            if idle:
                lambda_runtime.wait_until_idle(30)
            # A node found counts as true (a DOM node does not come back by value).
            value = self.cdp.evaluate(
                f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()"
            )
            if value:
                return value
            time.sleep(0.1)
        text = self.cdp.evaluate("document.body && document.body.innerText.slice(0, 1500)")
        raise AssertionError(f"timed out waiting for {expression}: page says {text!r}")

    def _serve_paused(self) -> None:
        while any(e.get("method") == "Fetch.requestPaused" for e in self.cdp.events):
            event = next(e for e in self.cdp.events if e.get("method") == "Fetch.requestPaused")
            self.cdp.events.remove(event)
            assert self.on_pause is not None, f"unexpected request {event['params']['request']['url']}"
            self.on_pause(event["params"])

    def go(self, hash_route: str) -> None:
        self.cdp.evaluate(f"window.location.hash = {json.dumps(hash_route)}")

    def click(self, selector: str) -> None:
        target = f"document.querySelector({json.dumps(selector)})"
        found = self.cdp.evaluate(f"(() => {{ const e = {target}; e?.click(); return !!e; }})()")
        assert found, f"nothing matches {selector}"

    def text(self, selector: str = "main") -> str:
        return str(
            self.cdp.evaluate(f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''")
        )

    def problems(self) -> list[str]:
        return list(self.cdp.evaluate("window.__witanProblems || []") or [])

    def check(self, name: str) -> list[dict[str, Any]]:
        """axe-core on the current page (WCAG 2.x A/AA and best practice); saves a screenshot."""
        if not self.cdp.evaluate("typeof window.axe === 'object'"):
            self.cdp.evaluate(AXE.read_text(encoding="utf-8"))
        self.cdp.send("Runtime.evaluate", {"expression": "1"})
        result = self.cdp.send(
            "Runtime.evaluate",
            {
                "expression": AXE_RUN,
                "awaitPromise": True,
                "returnByValue": True,
            },
        )
        violations = json.loads(result["result"]["value"])
        self.axe_results[name] = violations
        shot = self.cdp.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        (self.shots / f"{len(self.axe_results):02d}-{name}.png").write_bytes(base64.b64decode(shot["data"]))
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not serious, f"{name}: {serious}"
        assert not self.problems(), f"{name}: {self.problems()}"
        return violations

    def sign_in(self, user: str, *, check_sign_in_page: bool = False) -> None:
        self.cdp.send("Page.navigate", {"url": self.url})
        self.wait("document.getElementById('sign-in') || document.getElementById('signed-in-as')")
        if self.cdp.evaluate("!!document.getElementById('signed-in-as')"):
            self.click("#sign-out")
            self.wait("document.getElementById('sign-in')")
        self.click("#sign-in")
        self.wait(f"document.querySelector('a[href*=\"user={user}\"]')")
        if check_sign_in_page:
            self.check("local-sign-in")
        self.click(f'a[href*="user={user}"]')
        self.wait("document.getElementById('signed-in-as')")


@pytest.fixture(scope="module")
def console(e2e_stack: Any) -> Iterator[Console]:
    assert SITE.is_file(), "the console is not built: run `make console`"
    assert AXE.is_file(), "axe-core is not installed: run `make console` (npm ci)"
    shots = Path(os.environ.get("WITAN_CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="witan-console-"))
    shots.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {shots}")
    profile = Path(tempfile.mkdtemp(prefix="witan-chromium-"))
    cdp = Cdp(profile)
    try:
        target = cdp.send("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = cdp.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True
        )
        cdp.session = attached["sessionId"]
        cdp.send("Page.enable")
        cdp.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        cdp.send("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
        yield Console(cdp, e2e_stack.gateway.url + "console/", shots)
    finally:
        cdp.close()
        shutil.rmtree(profile, ignore_errors=True)


def test_console_is_served_with_a_strict_csp(e2e_stack: Any) -> None:
    import urllib.request

    with urllib.request.urlopen(e2e_stack.gateway.url + "console/", timeout=30) as response:  # noqa: S310
        csp = response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert '<script type="module" src="main.js">' in page and "<script>" not in page


def test_sign_in_shows_the_shell_and_sign_out_forgets_the_token(console: Console) -> None:
    console.sign_in("requester", check_sign_in_page=True)
    assert "requester@camden.example" in console.text("#signed-in-as")
    assert console.cdp.evaluate("!document.getElementById('navigation-wrapper').hidden")
    # Tokens in memory only: nothing in web storage once signed in.
    stored = console.cdp.evaluate("JSON.stringify([Object.keys(localStorage), Object.keys(sessionStorage)])")
    assert stored == "[[],[]]"
    console.check("home")
    console.click("#sign-out")
    console.wait("document.getElementById('sign-in')")
    assert console.cdp.evaluate("document.getElementById('navigation-wrapper').hidden")
    console.check("signed-out")


# --- models ---------------------------------------------------------------------------------------

SCENARIO = "fewer-oob-joiners"
SCENARIO_CHANGES = [{"match": {"kind": "joiner", "to_setting": "OOB"}, "factor": 0.5}]


def _api(stack: Any, method: str, path: str, user: str, body: Any = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": stack.deployment.id_token(user)}
    request = urllib.request.Request(stack.gateway.url + path, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the local gateway
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _dataset(stack: Any, user: str, title: str, file_name: str, data: bytes, tags: list[str]) -> str:
    status, body = _api(
        stack, "POST", "datasets", user, {"title": title, "file_name": file_name, "tags": tags}
    )
    assert status == 201, body
    # In-process moto takes no browser form posts: the file goes to the key the presigned POST allows.
    d = stack.deployment
    d.client("s3").put_object(Bucket=d.outputs["DataBucketName"], Key=body["upload"]["key"], Body=data)
    return str(body["dataset"]["id"])


def _s3_answer(stack: Any, console: Console) -> Any:
    """Presigned GETs point at S3's endpoint, which in-process moto does not serve over HTTP: the
    browser's request is paused (Fetch domain) and answered from moto's S3 with the CORS header the
    data bucket's rule gives the API's origin in AWS."""
    from urllib.parse import unquote, urlsplit

    s3 = stack.deployment.client("s3")

    def answer(paused: dict[str, Any]) -> None:
        url = urlsplit(paused["request"]["url"])
        host = url.hostname or ""
        if ".s3" in host and not host.startswith("s3"):
            bucket, key = host.split(".s3", 1)[0], unquote(url.path.lstrip("/"))
        else:
            bucket, key = unquote(url.path.lstrip("/")).split("/", 1)
        headers = [{"name": "Access-Control-Allow-Origin", "value": "*"}]
        if paused["request"]["method"] == "OPTIONS":
            console.cdp.send(
                "Fetch.fulfillRequest",
                {"requestId": paused["requestId"], "responseCode": 204, "responseHeaders": headers},
            )
            return
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        headers.append({"name": "Content-Type", "value": "text/csv"})
        console.cdp.send(
            "Fetch.fulfillRequest",
            {
                "requestId": paused["requestId"],
                "responseCode": 200,
                "responseHeaders": headers,
                "body": base64.b64encode(body).decode(),
            },
        )

    return answer


def _choose(console: Console, select_id: str, text: str) -> None:
    chosen = console.cdp.evaluate(
        f"""(() => {{ const s = document.getElementById({json.dumps(select_id)});
        const o = s && [...s.options].find(o => o.text.includes({json.dumps(text)}));
        if (o) {{ s.value = o.value; }} return !!o; }})()"""
    )
    assert chosen, f"no option {text!r} in #{select_id}"


def _type(console: Console, input_id: str, value: str) -> None:
    console.cdp.evaluate(f"document.getElementById({json.dumps(input_id)}).value = {json.dumps(value)}")


def test_send_run_with_a_scenario_to_its_comparison_chart(e2e_stack: Any, console: Console) -> None:
    from witan.models.send.synthetic import SyntheticSpec, synthetic_tables

    tag = f"console-{int(time.time())}"
    for name, text in synthetic_tables(SyntheticSpec(children=200, population=1500)).items():
        _dataset(e2e_stack, "requester", f"SEND {name} {tag}", f"{name}.csv", text.encode(), ["send"])

    console.sign_in("requester")
    console.go("#/models")
    console.wait("document.querySelectorAll('#models tbody tr').length")
    assert "SEND demand" in console.text("#models")
    console.check("models")

    # Every model's form comes from its schemas: demography's enums become selects.
    console.go("#/models/demography")
    console.wait("document.getElementById('parameter-fertility_variant')")
    console.click("#add-scenario")
    console.wait("document.getElementById('scenario-1-in_migrant_multiplier')")
    console.check("model-form-demography")

    console.go("#/models/send")
    console.wait("document.getElementById('input-transitions')")
    console.click("#run-submit")  # nothing chosen: the error summary links to the fields
    console.wait("document.querySelector('.govuk-error-summary a[href=\"#input-transitions\"]')")
    console.check("model-form-errors")

    for role, table_name in (
        ("transitions", "transitions"),
        ("population", "population"),
        ("costs", "costs"),
        ("valid_states", "valid-states"),
    ):
        _choose(console, f"input-{role}", f"SEND {table_name} {tag}")
    _type(console, "run-simulations", "20")
    _type(console, "run-seed", "5")
    console.click("#add-scenario")
    console.wait("document.getElementById('scenario-1-name')")
    _type(console, "scenario-1-name", SCENARIO)
    _type(console, "scenario-1-modify_transitions", json.dumps(SCENARIO_CHANGES))
    console.check("model-form")

    console.cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "https://*", "requestStage": "Request"}]})
    console.on_pause = _s3_answer(e2e_stack, console)
    started = time.monotonic()
    try:
        console.click("#run-submit")
        console.wait("window.location.hash.startsWith('#/runs/')")
        console.wait(f"document.querySelector('#comparison-{SCENARIO} svg')", timeout=240, idle=True)
        run_seconds = time.monotonic() - started
        difference = console.text(f".witan-difference[data-scenario='{SCENARIO}']")
        assert f"{SCENARIO} differs from the baseline by" in difference and "to" in difference, difference
        assert console.cdp.evaluate("document.querySelector('#chart-count svg') !== null")
        assert console.cdp.evaluate(
            "[...document.querySelectorAll('#downloads a')].some(a => a.textContent.includes('workbook'))"
        )
        console.check("model-results")
    finally:
        console.cdp.send("Fetch.disable")
        console.on_pause = None
    print(f"SEND run through the console: {run_seconds:.1f}s")


def test_send_run_takes_its_population_from_a_demography_run(e2e_stack: Any, console: Console) -> None:
    """An input chosen as another run's output: the form offers the demography run's population."""
    from witan.models.demography.synthetic import synthetic_files
    from witan.models.send.synthetic import SyntheticSpec, synthetic_tables

    tag = f"chain{int(time.time())}"
    inputs = {
        role: {"dataset": _dataset(e2e_stack, "requester", f"Demography {role} {tag}", name, data, [tag])}
        for role, (name, data) in synthetic_files(councils=1).items()
    }
    status, started = _api(
        e2e_stack,
        "POST",
        "model-runs",
        "requester",
        {"model": "demography", "inputs": inputs, "parameters": {"last_year": 2025}, "notify": False},
    )
    assert status == 202, started
    deadline = time.monotonic() + 180
    view: dict[str, Any] = {"status": "RUNNING"}
    while view.get("status") not in ("SUCCEEDED", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.5)
        _, view = _api(e2e_stack, "GET", f"model-runs/{started['id']}", "requester")
    assert view.get("status") == "SUCCEEDED", view
    for name, text in synthetic_tables(SyntheticSpec(children=200, population=1500)).items():
        if name != "population":
            _dataset(e2e_stack, "requester", f"SEND {name} {tag}", f"{name}.csv", text.encode(), ["send"])

    console.sign_in("requester")
    console.go("#/models/send")
    console.wait("document.getElementById('input-transitions')")
    for role, table_name in (
        ("transitions", "transitions"),
        ("costs", "costs"),
        ("valid_states", "valid-states"),
    ):
        _choose(console, f"input-{role}", f"SEND {table_name} {tag}")
    _choose(console, "input-population", f"of demography run {started['id'][:12]}")
    _type(console, "input-population-gss", "E09900000")
    _type(console, "run-simulations", "10")
    console.cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "https://*", "requestStage": "Request"}]})
    console.on_pause = _s3_answer(e2e_stack, console)
    try:
        console.click("#run-submit")
        console.wait("window.location.hash.startsWith('#/runs/')")
        console.wait("document.querySelector('#chart-count svg')", timeout=240, idle=True)
        assert f"output population of run {started['id']}" in console.text(), console.text()
        console.check("model-run-chained")
    finally:
        console.cdp.send("Fetch.disable")
        console.on_pause = None


# --- datasets, requests, audit --------------------------------------------------------------------


def test_dataset_search_share_upload_and_download(e2e_stack: Any, console: Console, tmp_path: Path) -> None:
    from datetime import date, timedelta

    tag = f"walk{int(time.time())}"
    title = f"School places {tag}"
    dataset_id = _dataset(e2e_stack, "requester", title, "places.csv", b"school,places\nA,30\nB,45\n", [tag])

    console.sign_in("requester")
    console.go(f"#/datasets?text={tag}")
    console.wait("document.querySelectorAll('#datasets tbody tr').length === 1")
    assert title in console.text("#datasets")
    console.check("datasets")

    console.go(f"#/datasets/{dataset_id}")
    console.wait("document.getElementById('grant-form')")
    assert "places.csv" in console.text()
    _type(console, "grant-grantee", "org-hackney")
    console.click("#grant-activity-file-read")
    _type(console, "grant-purpose-code", "place-planning")
    _type(console, "grant-purpose-text", "School place planning with Hackney")
    _type(console, "grant-expires", (date.today() + timedelta(days=30)).isoformat())
    console.click("#grant-submit")
    console.wait(
        "document.querySelector('.govuk-notification-banner--success') && document.getElementById('access')"
    )
    assert "org-hackney" in console.text("#access") and "place-planning" in console.text("#access")
    _type(console, "download-purpose", "check the shared file")
    console.click("#download-submit")
    console.wait("document.getElementById('download-link')")

    # A new version from the browser: the presigned POST goes to S3 (relayed to in-process moto).
    from .test_e2e_partner_page import S3Relay

    new_file = tmp_path / "places.csv"
    new_file.write_text("school,places\nA,31\nB,45\nC,12\n", encoding="utf-8")
    root = console.cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = console.cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#upload-file"})["nodeId"]
    console.cdp.send("DOM.setFileInputFiles", {"files": [str(new_file)], "nodeId": node})
    relay = S3Relay()
    console.cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "https://*", "requestStage": "Request"}]})
    console.on_pause = lambda paused: relay.redirect(console.cdp, paused)
    try:
        console.click("#upload-submit")
        console.wait("document.getElementById('upload-result').innerText.includes('as version 2')")
    finally:
        console.cdp.send("Fetch.disable")
        console.on_pause = None
        relay.close()
    assert relay.statuses and all(200 <= s < 300 for s in relay.statuses), relay.statuses
    console.check("dataset-owner")

    console.sign_in("analyst")  # in org-hackney: the grant lets them read and download
    console.go(f"#/datasets/{dataset_id}")
    console.wait("document.getElementById('download-form')")
    _type(console, "download-purpose", "plan next year's places")
    console.click("#download-submit")
    console.wait("document.getElementById('download-link')")
    console.check("dataset-analyst")
    status, events = _api(
        e2e_stack, "GET", f"audit/events?dataset={dataset_id}&action=dataset.download", "admin"
    )
    assert status == 200 and any(e.get("purpose") == "plan next year's places" for e in events["items"]), (
        events
    )


def test_request_create_track_reissue_and_close(console: Console) -> None:
    console.sign_in("requester")
    console.go("#/requests")
    console.wait("document.getElementById('new-request')")
    console.check("requests")
    console.go("#/requests/new")
    console.wait("document.getElementById('request-form')")
    console.click("#request-submit")
    console.wait("document.querySelector('.govuk-error-summary a[href=\"#request-title\"]')")
    console.check("request-form-errors")

    title = f"Pupil numbers {int(time.time())}"
    _type(console, "request-title", title)
    _choose(console, "request-schema", "population-by-age")
    _type(console, "request-message", "Please send this term's figures.")
    _type(
        console,
        "request-recipients",
        "office@school-a.example, Pat, School A\noffice@school-b.example, Sam, School B",
    )
    _type(console, "request-share", "group:org-hackney")
    console.click("#request-submit")
    console.wait("document.querySelectorAll('#tracking tbody tr').length === 2")
    assert title in console.text("h1")
    console.check("request-tracking")

    console.click("[data-reissue]")
    console.wait(f"{BANNER}.includes('new link')")
    console.click("[data-revoke]")
    console.wait(f"{BANNER}.includes('no longer work')")
    console.click("#request-close")
    console.wait(f"{BANNER}.includes('closed')")
    assert "closed" in console.text(".govuk-summary-list")
    console.check("request-closed")


def test_datapack_start_add_seal_verify_and_export(e2e_stack: Any, console: Console) -> None:
    tag = f"pack{int(time.time())}"
    _dataset(e2e_stack, "requester", f"Pack input {tag}", "input.csv", b"area,count\nA,1\nB,2\n", [tag])
    console.sign_in("requester")
    console.go("#/datapacks")
    console.wait("document.getElementById('pack-form')")
    _type(console, "pack-title", f"SEND sufficiency evidence {tag}")
    _type(console, "pack-summary", "The inputs behind this year's sufficiency statement.")
    console.click("#pack-submit")
    console.wait("document.getElementById('member-form')")
    _choose(console, "member-what", f"Dataset file: Pack input {tag}")
    _type(console, "member-caption", "the counts it starts from")
    console.click("#member-submit")
    console.wait("document.querySelectorAll('#members tbody tr').length === 1")
    console.check("datapack-draft")
    console.click("#seal")
    console.wait("document.getElementById('verify-pack')")
    console.click("#verify-pack")
    console.wait("document.getElementById('pack-result').innerText.includes('Every file matches')")
    console.click("#export-pack")
    console.wait("document.getElementById('export-link')")
    console.check("datapack-sealed")


def test_audit_events_and_verify_as_admin(e2e_stack: Any, console: Console) -> None:
    dataset_id = _dataset(e2e_stack, "requester", f"Audited {time.time()}", "a.csv", b"a\n1\n", ["audit"])
    status, _ = _api(e2e_stack, "GET", f"datasets/{dataset_id}/download?purpose=audit+walk", "requester")
    assert status == 200
    console.sign_in("admin")
    console.go("#/audit?action=dataset.download")
    console.wait("document.querySelectorAll('#audit-events tbody tr').length > 0")
    assert "dataset.download" in console.text("#audit-events")
    console.wait("document.querySelectorAll('#audit-usage-table tbody tr').length > 0")
    console.check("audit")
    console.click("#audit-verify-button")
    console.wait("(document.getElementById('audit-verify').innerText || '').includes('Events checked')")
    assert "intact" in console.text("#audit-verify"), console.text("#audit-verify")
    console.check("audit-verify")
    import jwt

    requester_sub = jwt.decode(
        e2e_stack.deployment.id_token("requester"), options={"verify_signature": False}
    )["sub"]
    _type(console, "subject-user", requester_sub)
    console.click("#subject-submit")
    console.wait("document.querySelectorAll('#subject-events tbody tr').length > 0")
    console.check("audit-subject-export")
    summary = {name: len(found) for name, found in console.axe_results.items()}
    print(f"axe violations by page (none serious or critical): {summary}")
