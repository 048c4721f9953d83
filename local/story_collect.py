"""Demo story: Collect+Share end to end through the local gateway and the deployed handlers.

A requester asks three partners for population figures. A uploads a valid xlsx; B uploads an invalid
CSV, gets the error email and report, fixes it and uploads again; C does nothing and is reminded by the
daily schedule (run for a day after the due date); the requester's tracking view shows all of it.
Partners act only through their capability links (taken from the emails in the outbox). The browser's
POST to S3 is made with `requests` (moto intercepts it in-process, so its POST-object route runs).

`Demo`, `StepFailed` and the API call helpers come from local/story.py (see there why not from
local.demo).
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from local import lambda_runtime, outbox
from local.story import Demo, StepFailed, api_call, call_json, require_handler, user_sub

PARTNERS = {
    "A": ("ann@school-a.example", "Ann", "School A"),
    "B": ("bob@school-b.example", "Bob", "School B"),
    "C": ("cat@school-c.example", "Cat", "School C"),
}
HEADER = ["area-code", "area-name", "year", "sex", "age", "population"]
_LINK = re.compile(r"/collect/([A-Za-z0-9_-]{43})")
DUE_IN_DAYS = 7


def _messages(demo: Demo) -> list[Any]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in outbox.sent(demo.outbox_dir)
    ]


def _text(message: Any) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def _tokens_to(demo: Demo, address: str) -> list[str]:
    return [t for m in _messages(demo) if address in str(m["To"]) for t in _LINK.findall(_text(m))]


def partner_call(
    demo: Demo, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """A call as the partner page makes it: no sign-in, JSON asked for."""
    return api_call(demo, method, path, None, body, accept="application/json")


def _upload(demo: Demo, token: str, file_name: str, content: bytes) -> dict[str, Any]:
    """Presign through the partner route, store the file under the policy's key, wait for the check."""
    status, target = partner_call(demo, "POST", f"collect/{token}/uploads", {"file_name": file_name})
    if status != 200:
        raise StepFailed(f"presign {file_name}: {status} {target}")
    import requests

    # As the page does: the policy's fields, then the file last, as multipart/form-data.
    posted = requests.post(
        target["url"],
        data=target["fields"],
        files={"file": (file_name, content, target["content_type"])},
        timeout=60,
    )
    if int(posted.status_code) != 201:  # moto echoes success_action_status as text
        raise StepFailed(f"S3 refused the POST of {file_name}: {posted.status_code} {posted.text[:200]}")
    if not lambda_runtime.wait_until_idle(120):
        raise StepFailed("the upload queue was not drained within 120 s")
    status, history = partner_call(demo, "GET", f"collect/{token}/submissions")
    if status != 200:
        raise StepFailed(f"submissions: {status} {history}")
    links = sorted(history["submissions"][0]["report_links"])
    demo.say(
        f"  {file_name}: {history['status']}; {len(history['submissions'])} upload(s); "
        f"errors shown {len(history['errors'])}; report links {links}"
    )
    return history


def _rows(n: int) -> list[list[Any]]:
    return [["E09000007", "Camden", 2024, "persons", age, 2000 + age] for age in range(n)]


def step_collect_request(demo: Demo) -> None:
    """The requester asks three partners; each gets an invitation with their own link."""
    require_handler("access_api")
    due = date.today() + timedelta(days=DUE_IN_DAYS)
    body = {
        "title": "Population by age, autumn return",
        "message": "Please send this year's figures by single year of age.",
        "schema": "population-by-age",
        "due_date": due.isoformat(),
        "recipients": [{"email": e, "name": n, "organisation": o} for e, n, o in PARTNERS.values()],
    }
    status, created = api_call(demo, "POST", "requests", "requester", body)
    demo.say(f"requester POST /requests -> {status}")
    if status != 201:
        raise StepFailed(f"expected 201, got {status}: {json.dumps(created)[:300]}")
    demo.facts["collect_request_id"] = created["request"]["request_id"]
    demo.facts["collect_due"] = due
    tokens = {}
    for key, (address, _, _) in PARTNERS.items():
        found = _tokens_to(demo, address)
        if not found:
            raise StepFailed(f"no invitation with a link reached {address}")
        tokens[key] = found[-1]
        demo.say(f"  invitation to {address} (link ...{found[-1][-4:]})")
    demo.facts["collect_tokens"] = tokens


def step_collect_partner_a(demo: Demo) -> None:
    """Partner A opens the page and uploads a valid xlsx."""
    import openpyxl

    token = demo.facts["collect_tokens"]["A"]
    status, view = partner_call(demo, "GET", f"collect/{token}")
    if status != 200:
        raise StepFailed(f"A's link: {status} {view}")
    request = view["request"]
    fields = len(view["schema"]["fields"])
    demo.say(f"A sees {request['title']!r}, {fields} fields, due {request['due_date']}")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in _rows(8):
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    history = _upload(demo, token, "population.xlsx", data.getvalue())
    if history["status"] != "valid":
        raise StepFailed(f"A's xlsx should be valid, got {history['status']}: {history['errors'][:3]}")


def step_collect_partner_b(demo: Demo) -> None:
    """Partner B uploads an invalid CSV, gets the error email and report, fixes it and uploads again."""
    token = demo.facts["collect_tokens"]["B"]
    address = PARTNERS["B"][0]
    before = len(_messages(demo))
    bad = ",".join(HEADER) + "\nE09000007,Camden,2024,persons,1,2000\nX123,Camden,2024,people,-3,12\n"
    history = _upload(demo, token, "population.csv", bad.encode())
    if history["status"] != "invalid" or not history["errors"]:
        raise StepFailed(f"B's first file should be invalid with errors, got {history['status']}")
    for error in history["errors"][:3]:
        demo.say(f"    row {error.get('row')} {error.get('field')}: {error.get('code')}")
    mails = [m for m in _messages(demo)[before:] if address in str(m["To"])]
    if not mails:
        raise StepFailed("B got no email about the errors")
    demo.say(f"  email to B: {mails[-1]['Subject']!r}")
    good = ",".join(HEADER) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in _rows(5))
    history = _upload(demo, token, "population.csv", good.encode())
    if history["status"] != "valid":
        raise StepFailed(f"B's corrected file should be valid, got {history['status']}")


def step_collect_reminders(demo: Demo) -> None:
    """The daily schedule, run for two days after the due date: only C (nothing valid yet) is reminded."""
    due: date = demo.facts["collect_due"]
    day = due + timedelta(days=2)
    event = {
        "version": "0",
        "id": f"demo-{day.isoformat()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": datetime.combine(day, time(7, 0)).isoformat() + "Z",
        "resources": ["demo"],
        "detail": {},
    }
    before = {k: len(_tokens_to(demo, a)) for k, (a, _, _) in PARTNERS.items()}
    response = demo.deployment.client("lambda").invoke(
        FunctionName=demo.deployment.outputs["AccessApiFunctionName"], Payload=json.dumps(event).encode()
    )
    result = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        raise StepFailed(f"the scheduled run failed: {result}")
    demo.say(f"scheduled run for {day}: reminders {result['reminders']}, digests {result['digests']}")
    after = {k: len(_tokens_to(demo, a)) for k, (a, _, _) in PARTNERS.items()}
    reminded = sorted(k for k in PARTNERS if after[k] > before[k])
    demo.say(f"  reminded: {', '.join(reminded) or 'nobody'}")
    if reminded != ["C"]:
        raise StepFailed(f"expected only C to be reminded, got {reminded}")


def step_collect_tracking(demo: Demo) -> None:
    """The requester's tracking view: who opened, submitted, passed, failed, was reminded."""
    rid = demo.facts["collect_request_id"]
    status, view = api_call(demo, "GET", f"requests/{rid}", "requester")
    if status != 200:
        raise StepFailed(f"tracking: {status} {view}")
    demo.say(f"totals: {view['totals']}")
    states = {}
    for r in view["recipients"]:
        states[r["email"]] = r["state"]
        demo.say(
            f"  {r['email']:<24} {r['state']:<8} uploads={r.get('uploads', 0)} "
            f"errors={r.get('error_count', '-')} last={r.get('last_submission_at', '-')} "
            f"reminded={r.get('last_reminded_on', '-')}"
        )
    want = {PARTNERS["A"][0]: "valid", PARTNERS["B"][0]: "valid", PARTNERS["C"][0]: "invited"}
    if states != want:
        raise StepFailed(f"expected {want}, got {states}")
    status, _ = api_call(demo, "GET", f"requests/{rid}", "analyst")
    demo.say(f"analyst GET /requests/{rid} -> {status} (not theirs)")
    if status != 404:
        raise StepFailed("another user must not see the request")


DESTINATION_PARTNER = ("ann@school-a.example", "Ann", "School A")  # partner A, asked again
DOWNLOAD_PURPOSE = "Population planning from the autumn return"


def _population_xlsx(rows: list[list[Any]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def step_collect_destination_request(demo: Demo) -> None:
    """A request into a datastore dataset: the requester (org-camden) makes the dataset, then asks A for
    data that lands in it, to be shared with the analyst (org-hackney), who cannot see it yet."""
    status, created = call_json(
        demo,
        "POST",
        "datasets",
        "requester",
        {"title": "Population by age (collected returns)", "file_name": "population.csv"},
    )
    if status != 201:
        raise StepFailed(f"creating the destination dataset: {status} {created}")
    dataset_id = created["dataset"]["id"]
    analyst = user_sub(demo, "analyst")
    due = date.today() + timedelta(days=DUE_IN_DAYS)
    body = {
        "title": "Population by age into the datastore",
        "schema": "population-by-age",
        "due_date": due.isoformat(),
        "recipients": [{"email": DESTINATION_PARTNER[0], "name": "Ann", "organisation": "School A"}],
        "dataset_id": dataset_id,
        "share_with": [{"type": "user", "id": analyst}],
    }
    before = len(_tokens_to(demo, DESTINATION_PARTNER[0]))
    status, request = api_call(demo, "POST", "requests", "requester", body)
    demo.say(f"requester POST /requests (dataset_id {dataset_id[:8]}..., share_with the analyst) -> {status}")
    if status != 201:
        raise StepFailed(f"expected 201, got {status}: {json.dumps(request)[:300]}")
    # Someone who may not update the dataset cannot point a request at it.
    status, refused = api_call(demo, "POST", "requests", "analyst", body)
    demo.say(f"analyst POST /requests into the same dataset -> {status} {refused.get('code')}")
    if status < 400 or status >= 500:
        raise StepFailed(f"the analyst must be refused, got {status}: {refused}")
    tokens = _tokens_to(demo, DESTINATION_PARTNER[0])
    if len(tokens) <= before:
        raise StepFailed("A got no invitation for the datastore request")
    status, _ = call_json(demo, "GET", f"datasets/{dataset_id}", "analyst")
    if status not in (403, 404):
        raise StepFailed(f"before any upload the analyst must not see the dataset, got {status}")
    demo.facts["destination"] = {"dataset_id": dataset_id, "token": tokens[-1], "request": request}


def step_collect_destination_upload(demo: Demo) -> None:
    """A's valid xlsx becomes the dataset's next version (a CSV of the checked table); the analyst named
    in share_with can now download it, and nobody signed out can."""
    import requests

    facts = demo.facts.get("destination") or {}
    if not facts:
        raise StepFailed("the destination request step did not finish")
    dataset_id = facts["dataset_id"]
    rows = _rows(4)
    history = _upload(demo, facts["token"], "population.xlsx", _population_xlsx(rows))
    if history["status"] != "valid":
        raise StepFailed(f"A's xlsx should be valid, got {history['status']}")
    status, dataset = call_json(demo, "GET", f"datasets/{dataset_id}", "requester")
    file = dataset.get("file") or {}
    demo.say(
        f"dataset {dataset_id[:8]}...: file version {file.get('version')} {file.get('file_name')} "
        f"({file.get('content_type')}) by {file.get('created_by')}"
    )
    if status != 200 or not str(file.get("created_by", "")).startswith("collect:"):
        raise StepFailed(f"A's upload did not become a version of the dataset: {dataset}")
    status, access = call_json(demo, "GET", f"datasets/{dataset_id}/access", "requester")
    for entry in access.get("entries", access.get("access", [])) if isinstance(access, dict) else []:
        if str(entry.get("via", "")).startswith("grant:"):
            demo.say(
                f"  {entry['via']}: {entry['activities']} purpose={(entry.get('purpose') or {}).get('code')}"
            )
    status, link = call_json(
        demo, "GET", f"datasets/{dataset_id}/download", "analyst", query={"purpose": DOWNLOAD_PURPOSE}
    )
    if status != 200:
        raise StepFailed(f"the analyst (in share_with) should be able to download, got {status}: {link}")
    fetched = requests.get(link["url"], timeout=60)
    text = fetched.content.decode("utf-8")
    got = csv_rows(text)
    demo.say(f"analyst downloads {link['key']}: {fetched.status_code}, {len(got) - 1} rows, header {got[0]}")
    if fetched.status_code != 200 or got[0] != HEADER or len(got) != len(rows) + 1:
        raise StepFailed(f"the downloaded CSV is not A's table: {text[:200]!r}")
    status, _ = partner_call(demo, "GET", f"datasets/{dataset_id}/download")
    demo.say(f"signed-out GET /datasets/{dataset_id[:8]}.../download -> {status}")
    if status not in (401, 403):
        raise StepFailed(f"a caller without an account must be refused, got {status}")


def csv_rows(text: str) -> list[list[str]]:
    import csv

    return list(csv.reader(io.StringIO(text)))


DESTINATION_STEPS = [
    (
        "Collect: a request into a datastore dataset, shared with the analyst",
        step_collect_destination_request,
    ),
    (
        "Collect: A's valid upload becomes a dataset version the analyst can download",
        step_collect_destination_upload,
    ),
]

COLLECT_STEPS = [
    ("Collect: a requester asks three partners (POST /requests, invitations)", step_collect_request),
    ("Collect: partner A uploads a valid xlsx through their link", step_collect_partner_a),
    ("Collect: partner B fails, reads the report, fixes and re-uploads", step_collect_partner_b),
    ("Collect: the daily schedule reminds partner C", step_collect_reminders),
    ("Collect: the requester's tracking view", step_collect_tracking),
    *DESTINATION_STEPS,
]
