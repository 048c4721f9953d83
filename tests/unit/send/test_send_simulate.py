"""Simulation invariants, chunking independence and scenarios, on generated data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from send_fixtures import send_files, send_request
from witan.modelrun.pipeline import RunRequest, plan, run_chunk, scenario_results
from witan.modelrun.storage import LocalStorage
from witan.models.send.fit import StateSpace, fit, start_population
from witan.models.send.inputs import read_inputs_dir
from witan.models.send.run import dense_counts
from witan.models.send.scenarios import parse_scenario, prepare
from witan.models.send.simulate import Projection, simulate


def projection_for(inputs, scenario=None) -> tuple[StateSpace, Projection]:  # type: ignore[no-untyped-def]
    years = inputs.projection_years()
    prep = prepare(inputs, scenario, years)
    space = StateSpace.from_inputs(inputs)
    population = np.array(
        [[inputs.population.get((y, int(a)), 0) for a in space.academic_years] for y in years]
    )
    return space, Projection(
        start_population(inputs, space), years, population, [prep.param_sets[p] for p in prep.year_phase]
    )


def test_counts_are_non_negative_and_respect_academic_years(synthetic_dir: Path) -> None:
    inputs = read_inputs_dir(synthetic_dir)
    space, proj = projection_for(inputs)
    counts = simulate(proj, 1, "baseline", range(20))
    assert counts.shape == (20, len(proj.years), space.n_ay, space.n_states)
    assert counts.min() >= 0
    assert counts.sum() > 0
    # joiners only arrive in valid states, and nobody is older than academic year 20 (the last row)
    assert counts[:, :, space.n_ay - 1].sum() == 0  # synthetic settings end at 14
    # different simulations differ (it is random) but the same seed repeats exactly
    assert len({counts[i].sum() for i in range(20)}) > 1
    np.testing.assert_array_equal(simulate(proj, 1, "baseline", range(3)), counts[:3])


def test_leavers_only_when_nobody_joins(synthetic_dir: Path) -> None:
    inputs = read_inputs_dir(synthetic_dir)
    _, proj = projection_for(inputs)
    proj.population = np.zeros_like(proj.population)
    totals = simulate(proj, 3, "baseline", range(10)).sum(axis=(2, 3))
    start = proj.start.sum()
    assert (totals[:, 0] <= start).all()
    assert (np.diff(totals, axis=1) <= 0).all()


def run_chunks(
    tmp: Path, inputs_dir: Path, sims: int, chunk: int, scenarios=()
) -> tuple[LocalStorage, dict, list]:  # type: ignore[no-untyped-def]
    storage = LocalStorage(tmp)
    items = plan(storage, send_files(inputs_dir), send_request("t", sims, 42, chunk, scenarios))
    for item in items:
        run_chunk(storage, item)
    return storage, json.loads(storage.get_bytes("plan.json")), items


def test_results_do_not_depend_on_chunking(synthetic_dir: Path, tmp_path: Path) -> None:
    s1, p1, i1 = run_chunks(tmp_path / "a", synthetic_dir, 7, 3)
    s2, p2, i2 = run_chunks(tmp_path / "b", synthetic_dir, 7, 7)
    assert [i["sim_count"] for i in i1] == [3, 3, 1] and len(i2) == 1
    assert i1[0] == {"step": "chunk", "run_id": "t", "scenario": "baseline", "sim_start": 0, "sim_count": 3}
    a = dense_counts(p1["model_plan"], scenario_results(s1, p1, i1, "baseline"), 7)
    b = dense_counts(p2["model_plan"], scenario_results(s2, p2, i2, "baseline"), 7)
    np.testing.assert_array_equal(a, b)
    assert a[:, 1:].sum() > 0


def test_closing_a_setting_empties_it(synthetic_dir: Path) -> None:
    inputs = read_inputs_dir(synthetic_dir)
    space, proj = projection_for(inputs, parse_scenario({"name": "close", "invalid_settings": ["SPIB"]}))
    counts = simulate(proj, 5, "close", range(10))
    s = space.settings.index("SPIB")
    in_spib = counts.reshape(*counts.shape[:3], len(space.needs), len(space.settings))[..., s]
    assert proj.start.reshape(space.n_ay, len(space.needs), -1)[..., s].sum() > 0
    assert in_spib.sum() == 0  # from the first projected year nobody is there
    assert counts.sum() > 0


def test_modified_transitions_apply_from_their_year(synthetic_dir: Path) -> None:
    inputs = read_inputs_dir(synthetic_dir)
    years = inputs.projection_years()
    scenario = parse_scenario(
        {
            "name": "keep",
            "modify_transitions": [{"match": {"kind": "leaver"}, "factor": 0, "from_year": years[1]}],
        }
    )
    prep = prepare(inputs, scenario, years)
    assert prep.year_phase == ["base"] + ["modified0"] * (len(years) - 1)
    base, mod = prep.param_sets["base"], prep.param_sets["modified0"]
    # no leavers observed any more: leaver alphas fall to their prior, below the baseline's
    assert (mod.leaver_alpha <= base.leaver_alpha + 1e-12).all()
    assert mod.leaver_alpha.sum() < 0.5 * base.leaver_alpha.sum()
    np.testing.assert_array_equal(mod.joiner_alpha, base.joiner_alpha)  # joiner rates from unmodified data
    _, proj_base = projection_for(inputs)
    _, proj_mod = projection_for(inputs, scenario)
    last_base = simulate(proj_base, 9, "baseline", range(30)).sum(axis=(2, 3))[:, -1].mean()
    last_mod = simulate(proj_mod, 9, "keep", range(30)).sum(axis=(2, 3))[:, -1].mean()
    assert last_mod > last_base * 1.1


def test_filter_drops_historic_rows(synthetic_dir: Path) -> None:
    inputs = read_inputs_dir(synthetic_dir)
    first = int(inputs.transitions.calendar_year.min())
    scenario = parse_scenario(
        {"name": "recent", "filter_transitions": [{"calendar_year": {"lt": first + 1}}]}
    )
    prep = prepare(inputs, scenario, inputs.projection_years())
    kept = inputs.transitions.select(inputs.transitions.calendar_year >= first + 1)
    expected = fit(inputs, kept)
    np.testing.assert_allclose(prep.param_sets["base"].leaver_alpha, expected.leaver_alpha)
    assert not np.allclose(prep.param_sets["base"].leaver_alpha, fit(inputs).leaver_alpha)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "baseline"}, "not 'baseline'"),
        ({"name": "x", "invalid_settings": "A"}, "list of setting names"),
        (
            {"name": "x", "modify_transitions": [{"match": {"colour": "red"}, "factor": 2}]},
            "unknown field 'colour'",
        ),
        ({"name": "x", "modify_transitions": [{"match": {"need": "A"}, "factor": -1}]}, "non-negative"),
        ({"name": "x", "filter_transitions": [{"calendar_year": {"between": 1}}]}, "unknown test"),
        ({"name": "x", "extra": 1}, "unknown key"),
    ],
)
def test_bad_scenarios_are_named(data: dict, message: str) -> None:
    from witan.models.send.inputs import ModelInputError

    with pytest.raises(ModelInputError, match=message):
        parse_scenario(data, "s.json")


@pytest.mark.parametrize(
    ("event", "column", "code"),
    [
        ({"run_id": "a/b"}, "run_id", "invalid-request"),
        ({"run_id": "r", "simulations": 0}, "simulations", "invalid-request"),
        ({"run_id": "r", "simulations": "10"}, "simulations", "invalid-request"),
        ({"run_id": "r", "seed": -1}, "seed", "invalid-request"),
        ({"run_id": "r", "model": "care"}, "model", "unknown-model"),
        ({"run_id": "r", "simulations": 100_000, "chunk_size": 1}, "chunk_size", "invalid-request"),
        ({"run_id": "r", "scenarios": [{"name": "a"}, {"name": "a"}]}, "name", "invalid-scenario"),
        ({"run_id": "r", "parameters": {"projection_years": 0}}, "projection_years", "invalid-parameter"),
        (
            {"run_id": "r", "scenarios": [{"name": "a", "invalid_settings": "X"}]},
            "invalid_settings",
            "invalid-scenario",
        ),
    ],
)
def test_bad_run_requests_are_refused(event: dict, column: str, code: str) -> None:
    from witan.modelrun.errors import ModelInputError

    with pytest.raises(ModelInputError) as info:
        RunRequest.from_event(event)
    assert (info.value.column, info.value.code) == (column, code)


def test_aggregate_refuses_a_run_with_a_missing_chunk(synthetic_dir: Path, tmp_path: Path) -> None:
    from witan.modelrun.pipeline import aggregate, chunk_key

    storage, _, _ = run_chunks(tmp_path / "r", synthetic_dir, 4, 2)
    (tmp_path / "r" / chunk_key("baseline", 2)).unlink()
    with pytest.raises(RuntimeError, match=r"chunks/baseline/0000002\.parquet is missing"):
        aggregate(storage)
