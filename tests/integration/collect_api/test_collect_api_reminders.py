"""The daily schedule through the real access_api handler: an EventBridge scheduled event runs the
reminders (each with a fresh link) and the digests as of the event's time, once a day, audited."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from aws_stack import LambdaContext
from ca_harness import PARTNER, RITA, Api, request_body


def scheduled(day: date) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"sched-{day.isoformat()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.combine(day, time(8, 0)).isoformat() + "Z",
        "region": "eu-west-2",
        "resources": ["arn:aws:events:eu-west-2:123456789012:rule/witan-collect-daily"],
        "detail": {},
        "link_base_url": "https://links.council.example/v1",  # added by the rule's input (infra/api.py)
    }


def test_scheduled_event_reminds_outstanding_recipients_once_a_day(api: Api) -> None:
    due = date.today() + timedelta(days=5)
    status, created, _ = api.call("POST", "/requests", RITA, request_body(due_date=due.isoformat()))
    assert status == 201
    rid = created["request"]["request_id"]
    before = {a: len(api.tokens_for(a)) for a in ("ann@school.example", "bob@school.example")}

    run_day = due + timedelta(days=2)  # after the due date: outstanding recipients are reminded
    result = api.module.lambda_handler(scheduled(run_day), LambdaContext())
    assert result["reminders"] == {"sent": 2, "failed": 0, "skipped": 0}
    for address, count in before.items():
        assert len(api.tokens_for(address)) == count + 1
    # The reminder's link is new and works (the run's clock is the event's time, so "today" is then).
    fresh = api.tokens_for("ann@school.example")[-1]
    assert f"https://links.council.example/v1/collect/{fresh}" in api.sent()[-1].body + api.sent()[-2].body
    status, view, _ = api.call("GET", f"/collect/{fresh}", PARTNER)
    assert status == 200 and view["request"]["title"] == "Pupil census"
    status, tracking, _ = api.call("GET", f"/requests/{rid}", RITA)
    assert {r["last_reminded_on"] for r in tracking["recipients"]} == {run_day.isoformat()}

    runs = [e for e in api.audit_items() if e["action"] == "collect.reminders.run"]
    assert len(runs) == 1 and runs[0]["detail"]["reminders"]["sent"] == 2
    assert fresh not in json.dumps(api.audit_items(), default=str)

    again = api.module.lambda_handler(scheduled(run_day), LambdaContext())
    assert again["reminders"]["sent"] == 0
    assert len(api.tokens_for("ann@school.example")) == before["ann@school.example"] + 1
