"""Runs that feed runs, end to end: a demography run through the API and the state machine, then a SEND
run whose population is that run's output (local/story_models.py, the demo's step), on the stack of
this package."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from local.story import Demo
from local.story_models import DEMOGRAPHY_GSS, step_demography_feeds_send

pytestmark = pytest.mark.xdist_group("e2e")


def test_a_demography_run_feeds_a_send_run(e2e_stack: Any, capsys: pytest.CaptureFixture[str]) -> None:
    demo = Demo(e2e_stack.deployment, e2e_stack.gateway, e2e_stack.outbox_dir)
    step_demography_feeds_send(demo)
    population_run, send_run = demo.facts["chained_runs"]
    printed = capsys.readouterr().out
    assert f"took its population from run {population_run} ({DEMOGRAPHY_GSS})" in printed
    d = e2e_stack.deployment
    s3, bucket = d.client("s3"), d.outputs["DataBucketName"]
    plan = json.loads(s3.get_object(Bucket=bucket, Key=f"models/{send_run}/plan.json")["Body"].read())
    # The SEND run's population is the demography run's, converted: academic year = age - 5.
    import pyarrow.parquet as pq

    source = pq.read_table(
        io.BytesIO(
            s3.get_object(Bucket=bucket, Key=f"models/{population_run}/population.parquet")["Body"].read()
        )
    ).to_pylist()
    ages_10 = sum(r["population"] for r in source if r["year"] == 2020 and r["age"] == 10)
    population = plan["model_plan"]["population"]
    years = plan["model_plan"]["years"]
    space_min = plan["model_plan"]["space"]["ay_min"]
    assert population[years.index(2020)][5 - space_min] == round(ages_10)
    # The plan records where each input came from (the link a datapack pins) and what it hashed to.
    assert plan["inputs"]["population"]["model_run"] == population_run
    assert len(plan["input_hashes"]["population"]) == 64


def test_adult_social_care_from_quarterly_cld_with_a_prevention_scenario(
    e2e_stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from local.story_models import step_asc_prevention

    demo = Demo(e2e_stack.deployment, e2e_stack.gateway, e2e_stack.outbox_dir)
    step_asc_prevention(demo)
    printed = capsys.readouterr().out
    assert "asc run" in printed and "SUCCEEDED" in printed
    assert "residential" in printed and "all" in printed


def test_children_looked_after_with_a_step_down_scenario(
    e2e_stack: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from local.story_models import step_cic_step_down

    demo = Demo(e2e_stack.deployment, e2e_stack.gateway, e2e_stack.outbox_dir)
    step_cic_step_down(demo)
    printed = capsys.readouterr().out
    assert "cic run" in printed and "SUCCEEDED" in printed and "-Q" in printed
