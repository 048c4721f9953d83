"""The models story of `make demo`: runs that feed runs. A population projection (demography) for one
council, then a SEND run whose population is that projection's, through the API and the state machine;
the SEND run's record names the run it took its population from."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from local.story import Demo, StepFailed, api_call, require_handler

RUN_TIMEOUT_S = 300
DEMOGRAPHY_GSS = "E09900000"  # the synthetic council of witan.models.demography.synthetic


def dataset_with_file(demo: Demo, user: str, title: str, file_name: str, data: bytes, tags: list[str]) -> str:
    """A new dataset holding `data` as its first file version; returns its id."""
    d = demo.deployment
    status, body = api_call(
        demo, "POST", "datasets", user, {"title": title, "file_name": file_name, "tags": tags}
    )
    if status != 201:
        raise StepFailed(f"expected 201 creating dataset {title!r}, got {status}: {json.dumps(body)[:200]}")
    # The file goes to the key the presigned POST allows (in-process moto takes no HTTP form posts).
    d.client("s3").put_object(Bucket=d.outputs["DataBucketName"], Key=body["upload"]["key"], Body=data)
    return str(body["dataset"]["id"])


def run_to_the_end(demo: Demo, user: str, request: dict[str, Any]) -> dict[str, Any]:
    """POST /model-runs, then GET /model-runs/{id} until it is no longer RUNNING; the final view."""
    started = time.monotonic()
    status, body = api_call(demo, "POST", "model-runs", user, request)
    demo.say(f"{user} POST /model-runs ({request['model']}) -> {status} {body.get('code', '')}".rstrip())
    if status != 202:
        raise StepFailed(
            f"expected 202 starting the {request['model']} run, got {status}: {json.dumps(body)[:300]}"
        )
    view: dict[str, Any] = {"status": "RUNNING", "id": body["id"]}
    while view.get("status") == "RUNNING" and time.monotonic() - started < RUN_TIMEOUT_S:
        time.sleep(0.5)
        status, view = api_call(demo, "GET", f"model-runs/{body['id']}", user)
        if status != 200:
            raise StepFailed(f"GET /model-runs/{body['id']} -> {status}: {json.dumps(view)[:300]}")
    demo.say(
        f"{request['model']} run {body['id']} {view.get('status')} after {time.monotonic() - started:.1f}s"
    )
    if view.get("status") != "SUCCEEDED":
        raise StepFailed(
            f"{request['model']} run {view.get('status')}: {json.dumps(view.get('error'))[:400]}"
        )
    return view


def _csv_rows(demo: Demo, key: str) -> list[dict[str, str]]:
    import csv
    import io

    d = demo.deployment
    body = d.client("s3").get_object(Bucket=d.outputs["DataBucketName"], Key=key)["Body"].read()
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def step_demography_feeds_send(demo: Demo) -> None:
    """A demography run projects one council; a SEND run takes its population from that run."""
    require_handler("model_run")
    from witan.models.demography.synthetic import synthetic_files
    from witan.models.send.synthetic import SyntheticSpec, synthetic_tables

    inputs: dict[str, Any] = {}
    for role, (file_name, data) in synthetic_files(councils=1).items():
        inputs[role] = {
            "dataset": dataset_with_file(
                demo, "requester", f"Demography {role}", file_name, data, ["demography"]
            )
        }
    demo.say(f"requester created {len(inputs)} demography input datasets ({', '.join(inputs)})")
    parameters = {"last_year": 2025}
    scenario = {"name": "half-international-in", "in_migrant_multiplier": 0.5, "from_year": 2018}
    population_run = run_to_the_end(
        demo,
        "requester",
        {
            "model": "demography",
            "inputs": inputs,
            "parameters": parameters,
            "scenarios": [scenario],
            "notify": False,
        },
    )
    links = {link["name"]: link for link in population_run.get("outputs", [])}
    totals = [r for r in _csv_rows(demo, links[f"scenarios/{scenario['name']}/comparison.csv"]["key"])]
    last = [r for r in totals if r.get("measure") == "total_population" and r.get("year") == "2025"]
    if last:
        demo.say(
            f"{scenario['name']} vs baseline, total population 2025: {float(last[0]['difference']):+,.0f}"
        )

    send_inputs: dict[str, Any] = {}
    for name, text in synthetic_tables(SyntheticSpec(children=200, population=1500)).items():
        if name == "population":
            continue
        role = name.replace("-", "_")
        send_inputs[role] = {
            "dataset": dataset_with_file(
                demo, "requester", f"SEND {name}", f"{name}.csv", text.encode(), ["send"]
            )
        }
    send_inputs["population"] = {
        "model_run": population_run["id"],
        "output": "population",
        "gss_code": DEMOGRAPHY_GSS,
    }
    send_run = run_to_the_end(
        demo,
        "requester",
        {"model": "send", "inputs": send_inputs, "simulations": 20, "seed": 5, "notify": False},
    )
    source = (send_run.get("inputs") or {}).get("population") or {}
    demo.say(
        f"SEND run {send_run['id']} took its population from run {source.get('model_run')} "
        f"({source.get('gss_code')})"
    )
    if source.get("model_run") != population_run["id"]:
        raise StepFailed(f"the SEND run does not name its population's run: {json.dumps(source)}")
    count = _csv_rows(demo, {link["name"]: link for link in send_run["outputs"]}["count.csv"]["key"])
    demo.say(
        "SEND count by year: " + ", ".join(f"{r['calendar_year']} {float(r['mean']):,.0f}" for r in count)
    )
    demo.facts["chained_runs"] = (population_run["id"], send_run["id"])


def _comparison(demo: Demo, run: dict[str, Any], scenario: str) -> list[dict[str, str]]:
    links = {link["name"]: link for link in run.get("outputs", [])}
    return _csv_rows(demo, links[f"scenarios/{scenario}/comparison.csv"]["key"])


def step_asc_prevention(demo: Demo) -> None:
    """Adult social care from a council's quarterly CLD files: baseline and a prevention scenario
    (fewer residential entries, some supported in the community instead), cost difference with its
    interval."""
    require_handler("model_run")
    from witan.models.asc.synthetic import PREVENTION_SCENARIO, SyntheticSpec, generate

    synthetic = generate(SyntheticSpec(adults=60_000, years=2, seed=4))
    cld = [
        {"dataset": dataset_with_file(demo, "requester", f"CLD {name}", name, data, ["asc", "cld"])}
        for name, data in sorted(synthetic.files.items())
    ]
    population = dataset_with_file(
        demo, "requester", "Adult population", "population.csv", synthetic.population_csv, ["asc"]
    )
    demo.say(f"requester created {len(cld)} quarterly CLD datasets and a population dataset")
    run = run_to_the_end(
        demo,
        "requester",
        {
            "model": "asc",
            "inputs": {"cld": cld, "population": {"dataset": population}},
            "parameters": {"years": 5},
            "scenarios": [PREVENTION_SCENARIO],
            "simulations": 200,
            "seed": 11,
            "notify": False,
        },
    )
    rows = [r for r in _comparison(demo, run, PREVENTION_SCENARIO["name"]) if r.get("measure") == "cost"]
    demo.say("prevention - baseline, gross cost (mean over simulations; 95% of simulations):")
    for r in rows:
        if r.get("setting") in ("all", "residential", "community-commissioned"):
            demo.say(
                f"  {r['year']} {r['setting']:<24} {float(r['mean']):>+14,.0f}  "
                f"[{float(r['p2_5']):>+14,.0f}, {float(r['p97_5']):>+14,.0f}]"
            )
    if not rows:
        raise StepFailed("the prevention run has no cost comparison")


def step_cic_step_down(demo: Demo) -> None:
    """Children looked after from a council's synthetic SSDA903 returns: baseline and a step-down from
    residential to foster care (Monte Carlo, paired with the baseline), cost difference per quarter."""
    require_handler("model_run")
    import tempfile
    from pathlib import Path

    from witan.models.cic.demo import STEP_DOWN, WEEKLY
    from witan.models.cic.synthetic import generate, write_synthetic

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_synthetic(
            Path(tmp), generate(starts_per_year=200, first_year=2019, last_year=2024, seed=5)
        )
        inputs = {
            path.stem: {
                "dataset": dataset_with_file(
                    demo, "requester", f"SSDA903 {path.stem}", path.name, path.read_bytes(), ["cic"]
                )
            }
            for path in sorted(folder.glob("*.csv"))
        }
    demo.say(f"requester created the 903 return datasets ({', '.join(inputs)})")
    run = run_to_the_end(
        demo,
        "requester",
        {
            "model": "cic",
            "inputs": inputs,
            "parameters": {"weekly_costs": WEEKLY, "uncertainty": "monte-carlo"},
            "scenarios": [STEP_DOWN],
            "simulations": 200,
            "seed": 1,
            "notify": False,
        },
    )
    rows = [
        r
        for r in _comparison(demo, run, STEP_DOWN["name"])
        if r.get("measure") == "costs" and r.get("item") == "total"
    ]
    if not rows:
        raise StepFailed("the step-down run has no cost comparison")
    demo.say("step-down - baseline, cost per quarter (mean over simulations; 95% of simulations):")
    for r in rows:
        demo.say(
            f"  {r['quarter']}  {float(r['mean']):>+12,.0f}  "
            f"[{float(r['p2_5']):>+12,.0f}, {float(r['p97_5']):>+12,.0f}]"
        )


MODEL_STEPS: list[tuple[str, Callable[[Demo], None]]] = [
    (
        "Runs that feed runs: a population projection feeds a SEND run (demography -> SEND)",
        step_demography_feeds_send,
    ),
    ("Children looked after: stepping down from residential to foster care", step_cic_step_down),
    (
        "Adult social care: a prevention scenario against the baseline, with its cost interval",
        step_asc_prevention,
    ),
]
