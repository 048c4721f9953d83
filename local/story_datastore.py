"""`make demo`, Datastore part: describe, upload, share metadata only, share the data, audit it.

The requester (org-camden) owns a dataset, the analyst (org-hackney) is shared into it in two stages,
and the admin reads what the audit trail recorded. Every call goes through the local gateway to the
deployed access_api function, and files move through the presigned POST and GET it returns.

The steps use `requests` for presigned URLs (moto depends on it): in-process moto intercepts it, so
the real S3 POST and GET routes run in both modes; urllib would leave the process in in-process mode.

`Demo`, `StepFailed` and the API call helpers come from local/story.py (see there why not from
local.demo), so the same steps run from `make demo` and from tests/e2e.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from local.story import HTTP_TIMEOUT_S, Demo, StepFailed, call, call_json, shown, user_sub, who

FACTS = "datastore"  # key in Demo.facts shared by these steps
FILE_NAME = "camden-send-placements-2024.csv"
FILE_TEXT = "school-urn,phase,need,placements\n" + "".join(
    f"1000{n:02d},{phase},{need},{3 + (n * 7) % 11}\n"
    for n, (phase, need) in enumerate(
        (p, q) for p in ("primary", "secondary", "special") for q in ("ASD", "SEMH", "SLCN", "MLD")
    )
)
META_PURPOSE = {"code": "send-planning", "text": "Hackney SEND sufficiency planning: what Camden holds"}
FILE_PURPOSE = {"code": "send-benchmarking", "text": "Compare placements by need with Hackney's own"}
DOWNLOAD_PURPOSE = "SEND benchmarking for the 2025 sufficiency statement"
AUDIT_COLUMNS = ("time", "actor_email", "action", "decision", "reason", "purpose")


def _facts(demo: Demo) -> dict[str, Any]:
    return demo.facts.setdefault(FACTS, {})


def _need(demo: Demo, *names: str) -> list[Any]:
    """Facts an earlier step left; a plain failure when that step did not get that far."""
    facts = _facts(demo)
    missing = [n for n in names if n not in facts]
    if missing:
        raise StepFailed(f"an earlier Datastore step did not finish (no {', '.join(missing)})")
    return [facts[n] for n in names]


def _email(demo: Demo, user: str) -> str:
    return demo.deployment.users[user].email


def _expect(status: int, expected: int, what: str, body: dict[str, Any]) -> None:
    if status != expected:
        raise StepFailed(f"{what}: expected {expected}, got {status}: {json.dumps(body)[:300]}")


def audit_line(event: dict[str, Any]) -> str:
    """time, actor email, action, decision, reason, purpose: one readable line."""
    time = str(event.get("time", ""))[:19]
    return (
        f"{time} {event.get('actor_email') or '-'} {event.get('action')} {event.get('decision')} "
        f"({event.get('reason')})" + (f" purpose={event['purpose']}" if event.get("purpose") else "")
    )


# --- steps ----------------------------------------------------------------------------------------


def dataset_metadata() -> dict[str, Any]:
    """What the requester says about the dataset: every field of the metadata model."""
    return {
        "title": "Camden SEND placements by school, phase and need (2024)",
        "description": "Children with an EHC plan placed in each school, counted by phase and primary need.",
        "structure": {
            "fields": [
                {"name": "school-urn", "type": "string"},
                {
                    "name": "phase",
                    "type": "string",
                    "constraints": {"enum": ["primary", "secondary", "special"]},
                },
                {"name": "need", "type": "string"},
                {"name": "placements", "type": "integer", "constraints": {"minimum": 0}},
            ]
        },
        "licence": "Open Government Licence v3.0",
        "creator": "Camden SEND Team",
        "maintainer": "requester@camden.example",
        "source": "SEN2 return and Camden case management system",
        "location": "London Borough of Camden",
        "temporal_coverage": {"start": "2024-01-01", "end": "2024-12-31"},
        "tags": ["send", "ehcp", "placements"],
        "methodology": "Counts per school on census day; counts under 3 are not suppressed (synthetic data).",
        "ethical_use": "Planning only; no attempt to identify children.",
        "legal_use": "Children and Families Act 2014 s.27; shared under the London data sharing agreement.",
        "personal_data": False,
    }


def post_presigned(upload: dict[str, Any], file_name: str, body: bytes) -> requests.Response:
    """The presigned POST as a browser would send it: the form fields, then the file last."""
    content_type = upload["fields"].get("Content-Type", "application/octet-stream")
    return requests.post(
        upload["url"],
        data=upload["fields"],
        files={"file": (file_name, body, content_type)},
        timeout=HTTP_TIMEOUT_S,
    )


def step_create_and_upload(demo: Demo) -> None:
    """The requester describes a dataset, then uploads its file through the returned presigned POST."""
    facts = _facts(demo)
    content = FILE_TEXT.encode()
    metadata = dataset_metadata()
    request = {**metadata, "file_name": FILE_NAME, "content_type": "text/csv", "size_bytes": len(content)}
    status, body = call_json(demo, "POST", "datasets", "requester", request)
    _expect(status, 201, "creating the dataset", body)
    dataset, upload = body["dataset"], body["upload"]
    demo.say(
        f"dataset {dataset['id']} owned by {dataset['owner_org']}, metadata v{dataset['metadata_version']}, "
        f"you may: {', '.join(dataset['access'])}"
    )
    if dataset["owner_org"] != "org-camden":
        raise StepFailed(f"expected the dataset owned by org-camden, got {dataset['owner_org']}")
    differing = sorted(k for k, v in metadata.items() if dataset["metadata"].get(k) != v)
    if differing:
        raise StepFailed(f"the stored metadata differs from what was sent in: {', '.join(differing)}")
    demo.say(f"metadata stored as sent: {len(metadata)} fields ({', '.join(sorted(metadata))})")
    if upload["fields"].get("key") != upload["key"] or not upload["key"].startswith(
        f"datasets/{dataset['id']}/"
    ):
        raise StepFailed(f"the presigned POST names key {upload['fields'].get('key')!r}, not the dataset's")
    demo.say(
        f"presigned POST to {upload['url']} for {upload['key']} "
        f"(fields: {', '.join(sorted(upload['fields']))}; max {upload['max_bytes']} bytes; "
        f"expires {upload['expires_at'][:19]})"
    )
    posted = post_presigned(upload, FILE_NAME, content)
    demo.say(f"requester POST file ({len(content)} bytes) to the presigned URL -> {posted.status_code}")
    if posted.status_code not in (200, 201, 204):
        raise StepFailed(f"the presigned POST was refused: {posted.status_code} {posted.text[:300]}")
    d = demo.deployment
    head = d.client("s3").head_object(Bucket=d.outputs["DataBucketName"], Key=upload["key"])
    demo.say(
        f"s3://{d.outputs['DataBucketName']}/{upload['key']}: {head['ContentLength']} bytes, "
        f"{head.get('ContentType')}"
    )
    if head["ContentLength"] != len(content):
        raise StepFailed(f"S3 holds {head['ContentLength']} bytes at the key, {len(content)} were sent")
    facts.update(dataset_id=dataset["id"], key=upload["key"], content=content)


def step_share_metadata(demo: Demo) -> None:
    """The requester shares the metadata only with org-hackney: meta-read, with a purpose and an expiry."""
    (dataset_id,) = _need(demo, "dataset_id")
    expires = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    grant = {
        "grantee_type": "group",
        "grantee": "org-hackney",
        "activities": ["meta-read"],
        "purpose": META_PURPOSE,
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
    }
    status, body = call_json(demo, "PUT", f"datasets/{dataset_id}/grants", "requester", grant)
    _expect(status, 200, "granting meta-read to org-hackney", body)
    demo.say(
        f"grant {body['grantee_type']}:{body['grantee']} {body['activities']} purpose={body['purpose']} "
        f"expires {body['expires_at']}"
    )
    if body["activities"] != ["meta-read"] or body["purpose"] != META_PURPOSE or not body["expires_at"]:
        raise StepFailed(f"the grant came back different from the request: {json.dumps(body)}")


def step_analyst_reads_metadata_not_file(demo: Demo) -> None:
    """The analyst (org-hackney) reads the metadata, but the download is refused."""
    (dataset_id,) = _need(demo, "dataset_id")
    status, body = call_json(demo, "GET", f"datasets/{dataset_id}", "analyst")
    _expect(status, 200, "the analyst reading the metadata", body)
    demo.say(f"analyst sees {body['metadata']['title']!r}; may: {', '.join(body['access'])}")
    if body["metadata"] != dataset_metadata():
        raise StepFailed("the analyst's view of the metadata is not what the requester stored")
    if "file-read" in body["access"]:
        raise StepFailed("the analyst already holds file-read: the share was not metadata-only")
    status, body = call_json(
        demo, "GET", f"datasets/{dataset_id}/download", "analyst", query={"purpose": DOWNLOAD_PURPOSE}
    )
    demo.say(f"download refused: {body.get('code')}: {body.get('message')}")
    if status not in (403, 404) or body.get("code") not in ("forbidden", "not-found"):
        raise StepFailed(f"expected the download refused with 403/404 and a code, got {status}: {body}")
    if "url" in body:
        raise StepFailed("a refused download carried a URL")


def step_share_file_and_download(demo: Demo) -> None:
    """The requester grants file-read to the analyst with a purpose; the download now works."""
    dataset_id, content = _need(demo, "dataset_id", "content")
    analyst_sub = user_sub(demo, "analyst")
    grant = {
        "grantee_type": "user",
        "grantee": analyst_sub,
        "activities": ["file-read"],
        "purpose": FILE_PURPOSE,
    }
    status, body = call_json(demo, "PUT", f"datasets/{dataset_id}/grants", "requester", grant)
    _expect(status, 200, "granting file-read to the analyst", body)
    demo.say(f"grant user:{analyst_sub} (the analyst) {body['activities']} purpose={body['purpose']['code']}")
    status, body = call_json(
        demo, "GET", f"datasets/{dataset_id}/download", "analyst", query={"purpose": DOWNLOAD_PURPOSE}
    )
    _expect(status, 200, "the analyst's download", body)
    demo.say(f"presigned GET for {body['key']} v{body['version']}, expires {body['expires_at'][:19]}")
    fetched = requests.get(body["url"], timeout=HTTP_TIMEOUT_S)
    demo.say(
        f"analyst GET presigned URL -> {fetched.status_code}, {len(fetched.content)} bytes, "
        f"{fetched.headers.get('Content-Disposition')}"
    )
    if fetched.status_code != 200 or fetched.content != content:
        raise StepFailed(
            f"the downloaded file ({fetched.status_code}, {len(fetched.content)} bytes) is not the upload",
        )
    demo.say("the bytes match the upload")
    _facts(demo)["analyst_sub"] = analyst_sub


def step_owner_views_access(demo: Demo) -> None:
    """The owner sees who can do what, and through which grant; the analyst may not look."""
    dataset_id, analyst_sub = _need(demo, "dataset_id", "analyst_sub")
    status, body = call_json(demo, "GET", f"datasets/{dataset_id}/access", "requester")
    _expect(status, 200, "the owner viewing access", body)
    entries = {f"{e['grantee_type']}:{e['grantee']}": e for e in body["entries"]}
    for label, entry in entries.items():
        purpose = f" purpose={entry['purpose']['code']}" if entry.get("purpose") else ""
        expiry = f" until {entry['expires_at'][:10]}" if entry.get("expires_at") else ""
        notes = f" [{'; '.join(entry['notes'])}]" if entry.get("notes") else ""
        demo.say(f"  {label}: {', '.join(entry['activities'])} via {entry['via']}{purpose}{expiry}{notes}")
    hackney, analyst = entries.get("group:org-hackney"), entries.get(f"user:{analyst_sub}")
    if entries.get("group:org-camden", {}).get("via") != "owner":
        raise StepFailed("org-camden is not listed as the owner")
    if not hackney or "file-read" in hackney["activities"] or "meta-read" not in hackney["activities"]:
        raise StepFailed(f"org-hackney should hold meta-read without file-read: {hackney}")
    if not hackney.get("expires_at") or (hackney.get("purpose") or {}).get("code") != META_PURPOSE["code"]:
        raise StepFailed(f"org-hackney's grant lost its purpose or expiry: {hackney}")
    if not analyst or "file-read" not in analyst["activities"]:
        raise StepFailed(f"the analyst should hold file-read: {analyst}")
    status, body = call_json(demo, "GET", f"datasets/{dataset_id}/access", "analyst")
    if status not in (403, 404):
        raise StepFailed(f"the analyst (no share right) should not see the access list, got {status}")


def step_admin_audit(demo: Demo) -> None:
    """The admin reads the dataset's audit events and usage report, and verifies the hash chains."""
    dataset_id, analyst_sub = _need(demo, "dataset_id", "analyst_sub")
    status, body = call_json(
        demo, "GET", "audit/events", "admin", query={"dataset": dataset_id, "limit": "100"}
    )
    _expect(status, 200, "the admin reading the dataset's events", body)
    events = sorted(body["items"], key=lambda e: (str(e.get("time", "")), str(e.get("id", ""))))
    demo.say(f"{len(events)} events for dataset/{dataset_id} ({' | '.join(AUDIT_COLUMNS)}):")
    for event in events:
        demo.say("  " + audit_line(event))
    seen = {(e.get("action"), e.get("decision"), e.get("actor_email")) for e in events}
    requester, analyst = _email(demo, "requester"), _email(demo, "analyst")
    expected = {
        ("dataset.create", "allow", requester),
        ("grant.put", "allow", requester),
        ("dataset.read", "allow", analyst),
        ("dataset.download", "deny", analyst),
        ("dataset.download", "allow", analyst),
        ("dataset.access", "allow", requester),
    }
    if expected - seen:
        raise StepFailed(f"the trail lacks: {sorted(map(str, expected - seen))}")
    allowed = [e for e in events if e.get("action") == "dataset.download" and e.get("decision") == "allow"]
    if any(e.get("purpose") != DOWNLOAD_PURPOSE for e in allowed):
        raise StepFailed("the allowed download does not carry its stated purpose")

    status, body = call_json(demo, "GET", "audit/reports/usage", "admin", query={"dataset": dataset_id})
    _expect(status, 200, "the usage report", body)
    for row in body["rows"]:
        demo.say(
            f"  usage {row['day']} {row['actor_email'] or row['actor_sub']}: reads {row['reads']}, "
            f"downloads {row['downloads']}, denied {row['denied']}"
        )
    mine = [r for r in body["rows"] if r["actor_sub"] == analyst_sub]
    if sum(r["downloads"] for r in mine) < 1 or sum(r["denied"] for r in mine) < 1:
        raise StepFailed(f"the usage report should show the analyst's download and refusal: {mine}")

    status, body = call_json(demo, "GET", "audit/verify", "admin")
    _expect(status, 200, "verifying the trail", body)
    demo.say(
        f"verify: ok={body.get('ok')} items={body.get('items')} digests={body.get('digests')} "
        f"chains={len(body.get('chains') or {})} seals={body.get('seals')} "
        f"problems={len(body.get('problems') or [])}"
    )
    if body.get("ok") is not True or body.get("problems"):
        raise StepFailed(f"the audit trail does not verify: {json.dumps(body.get('problems'))[:300]}")
    if not body.get("seals"):  # audit_sealer signs the heads into the Object Lock bucket on every batch
        raise StepFailed("the audit trail was checked against no signed seal (docs/audit.md)")


def step_subject_access(demo: Demo) -> None:
    """The admin exports what the trail holds about the analyst (GDPR subject access), JSON and CSV."""
    analyst_sub, dataset_id = _need(demo, "analyst_sub", "dataset_id")
    query = {"email": _email(demo, "analyst")}
    status, body = call_json(demo, "GET", f"audit/subjects/{analyst_sub}", "admin", query=query)
    _expect(status, 200, "the subject access export (JSON)", body)
    events = body.get("events", [])
    demo.say(f"JSON: {body.get('count')} events about {body.get('subject')} <{body.get('email')}>; latest:")
    for event in events[-4:]:
        demo.say("  " + audit_line(event))
    if body.get("count") != len(events):
        raise StepFailed(f"count {body.get('count')} but {len(events)} events")
    as_actor = {e.get("action") for e in events if e.get("actor_sub") == analyst_sub}
    named = [e for e in events if (e.get("detail") or {}).get("subject") == analyst_sub]
    if not {"dataset.read", "dataset.download"} <= as_actor:
        raise StepFailed(f"the export lacks the analyst's own reads and downloads: {sorted(as_actor)}")
    if not any(
        e.get("action") == "grant.put" and e.get("resource") == f"dataset/{dataset_id}" for e in named
    ):
        raise StepFailed("the export lacks the grant that names the analyst")

    csv_query = {**query, "format": "csv"}
    path = f"audit/subjects/{analyst_sub}"
    status, content_type, raw = call(demo, "GET", path, "admin", query=csv_query)
    demo.say(f"{who(demo, 'admin')} GET {shown(path, csv_query)} -> {status} {content_type}")
    if status != 200 or not content_type.startswith("text/csv"):
        raise StepFailed(f"expected CSV, got {status} {content_type}: {raw[:200]!r}")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    json_ids = {e.get("id") for e in events}
    missing = sorted(json_ids - {r.get("id") for r in rows})
    if missing:
        raise StepFailed(f"the CSV lacks events of the JSON export: {missing[:5]}")
    # Reading the trail is audited, and the JSON export's own event names the analyst: the CSV has it.
    extra = [r.get("action") for r in rows if r.get("id") not in json_ids]
    if extra != ["audit.subject"]:
        raise StepFailed(f"expected the CSV to add only the JSON export's own event, got {extra}")
    demo.say(
        f"CSV: {len(rows)} rows (columns {', '.join(list(rows[0])[:6])}, ...): the JSON's {len(events)} "
        "and the JSON export's own audit.subject event"
    )


DATASTORE_STEPS: list[tuple[str, Callable[[Demo], None]]] = [
    ("Datastore: the requester describes a dataset and uploads it (presigned POST)", step_create_and_upload),
    ("Datastore: shared metadata-only with org-hackney (purpose, expiry)", step_share_metadata),
    (
        "Datastore: the analyst reads the metadata; the download is refused",
        step_analyst_reads_metadata_not_file,
    ),
    ("Datastore: file-read granted with a purpose; the analyst downloads", step_share_file_and_download),
    ("Datastore: the owner views who can access what", step_owner_views_access),
    ("Datastore: the admin reads the trail and usage, and verifies the chains", step_admin_audit),
    ("Datastore: subject access export for the analyst (JSON and CSV)", step_subject_access),
]
