"""Fitted parameters against values worked out by hand from the method (docs/models/send.md)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from witan.models.send.fit import StateSpace, fit, parameter_tables, parameters_from_tables, start_population
from witan.models.send.inputs import read_inputs_dir


@pytest.fixture
def params(tiny_dir: Path):  # type: ignore[no-untyped-def]
    return fit(read_inputs_dir(tiny_dir))


def cell(p, ay: int, state: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    sp: StateSpace = p.space
    return ay - sp.ay_min, sp.state_names().index(state)


def test_leaver_betas_add_the_pooled_normalised_prior(params) -> None:  # type: ignore[no-untyped-def]
    # ay 0: pooled 1 leaver, 3 non-leavers -> prior (1.5/5, 3.5/5) = (0.3, 0.7)
    assert (
        params.leaver_alpha[cell(params, 0, "X-A")],
        params.leaver_beta[cell(params, 0, "X-A")],
    ) == pytest.approx((1.3, 2.7))
    assert params.leaver_alpha[cell(params, 0, "X-B")] == pytest.approx(0.3)
    assert params.leaver_beta[cell(params, 0, "X-B")] == pytest.approx(1.7)
    # ay 1: pooled 0 leavers, 1 non-leaver -> prior (0.25, 0.75)
    assert params.leaver_alpha[cell(params, 1, "X-A")] == pytest.approx(0.25)
    assert params.leaver_beta[cell(params, 1, "X-A")] == pytest.approx(1.75)
    # ay 2: no data -> (0.5, 0.5)
    assert params.leaver_alpha[cell(params, 2, "X-B")] == pytest.approx(0.5)
    assert params.leaver_beta[cell(params, 2, "X-B")] == pytest.approx(0.5)


def test_mover_betas(params) -> None:  # type: ignore[no-untyped-def]
    # ay 0 non-leavers: A has 1 mover, 1 stayer; B 1 stayer -> prior (1.5/4, 2.5/4)
    assert params.mover_alpha[cell(params, 0, "X-A")] == pytest.approx(1.375)
    assert params.mover_beta[cell(params, 0, "X-A")] == pytest.approx(1.625)
    assert params.mover_alpha[cell(params, 0, "X-B")] == pytest.approx(0.375)
    # ay 2: no data -> (1, 1)
    assert params.mover_alpha[cell(params, 2, "X-A")] == pytest.approx(1.0)
    assert params.mover_beta[cell(params, 2, "X-A")] == pytest.approx(1.0)


def test_mover_destinations(params) -> None:  # type: ignore[no-untyped-def]
    names = params.space.state_names()
    a, k = cell(params, 0, "X-A")
    # prior {A: .5, B: .5 + 1 pooled}; drop A; normalise -> {B: 1}; + 1 observed A->B = 2
    assert params.mover_dest[a, k, names.index("X-B")] == pytest.approx(2.0)
    assert params.mover_dest[a, k, names.index("X-A")] == 0.0
    a, k = cell(params, 0, "X-B")
    assert params.mover_dest[a, k, names.index("X-A")] == pytest.approx(1.0)
    # ay 1 has no movers: ay 0's pooled counts are used
    a, k = cell(params, 1, "X-A")
    assert params.mover_dest[a, k, names.index("X-B")] == pytest.approx(1.0)


def test_joiners(params) -> None:  # type: ignore[no-untyped-def]
    sp = params.space
    one = 1 - sp.ay_min
    # 1 historic year: ay 1 had 1 joiner of 100 -> Beta(1, 99); ay 0 none -> alpha 0.001
    assert (params.joiner_alpha[one], params.joiner_beta[one]) == pytest.approx((1.0, 99.0))
    assert (params.joiner_alpha[one - 1], params.joiner_beta[one - 1]) == pytest.approx((0.001, 100.0))
    names = sp.state_names()
    assert params.joiner_state[one, names.index("X-A")] == pytest.approx(1.5)
    assert params.joiner_state[one, names.index("X-B")] == pytest.approx(0.5)


def test_start_population_is_the_last_years_destinations(tiny_dir: Path) -> None:
    inputs = read_inputs_dir(tiny_dir)
    space = StateSpace.from_inputs(inputs)
    start = start_population(inputs, space)
    assert inputs.seed_year == 2021
    assert start.sum() == 5
    names = space.state_names()
    assert start[1 - space.ay_min, names.index("X-A")] == 2
    assert start[1 - space.ay_min, names.index("X-B")] == 2
    assert start[2 - space.ay_min, names.index("X-A")] == 1


def test_parameter_tables_round_trip(synthetic_dir: Path) -> None:
    p = fit(read_inputs_dir(synthetic_dir))
    back = parameters_from_tables(p.space, parameter_tables(p, valid_only=False))
    for name in (
        "leaver_alpha",
        "leaver_beta",
        "mover_alpha",
        "mover_beta",
        "mover_dest",
        "joiner_alpha",
        "joiner_beta",
        "joiner_state",
        "valid",
        "closed",
    ):
        np.testing.assert_array_equal(getattr(back, name), getattr(p, name), err_msg=name)


def test_cli_params_writes_witan_send_shaped_csvs(tiny_dir: Path, tmp_path: Path) -> None:
    from witan.cli import main

    assert main(["model", "params", "send", "--inputs", str(tiny_dir), "--out", str(tmp_path / "p")]) == 0
    header = {f.stem: f.read_text().splitlines()[0].replace('"', "") for f in (tmp_path / "p").glob("*.csv")}
    assert header == {
        "leaver_beta": "academic_year,state,alpha,beta",
        "mover_beta": "academic_year,state,alpha,beta",
        "mover_dirichlet": "academic_year,state,to_state,alpha",
        "joiner_beta": "academic_year,alpha,beta",
        "joiner_dirichlet": "academic_year,state,alpha",
    }
    with (tmp_path / "p" / "leaver_beta.csv").open() as fh:
        rows = {(r["academic_year"], r["state"]): r for r in csv.DictReader(fh)}
    assert (float(rows["0", "X-A"]["alpha"]), float(rows["0", "X-A"]["beta"])) == pytest.approx((1.3, 2.7))
    assert ("0", "NONSEND") not in rows and len(rows) == 6  # valid states only: 3 years x 2 states
