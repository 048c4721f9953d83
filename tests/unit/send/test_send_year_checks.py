"""Years a run cannot honour are refused before any work, naming what is wrong: a scenario whose
from_year/until_year window holds no projected year (`scenario-outside-projection`), a window that
ends before it starts (`invalid-scenario`), and a gap in the population years after the seed year
under the default "every population year" projection (`missing-population`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from send_fixtures import send_files
from witan.cli import main
from witan.modelrun.local import run_local
from witan.models.send.inputs import ModelInputError, read_inputs_dir
from witan.models.send.scenarios import (
    ScenarioOutsideProjection,
    check_windows,
    parse_scenario,
    parse_scenarios,
)
from witan.models.send.synthetic import SyntheticSpec, write_synthetic

# Transitions 2015..2016: seed year 2017; population for 2015..2022, so 2018..2022 are projected.
SPEC = SyntheticSpec(children=120, transition_years=2, projection_years=5)
YEARS = [2018, 2019, 2020, 2021, 2022]


def scenario(**window: int) -> dict[str, object]:
    return {
        "name": "more-movers",
        "modify_transitions": [
            {"match": {"kind": "mover"}, "factor": 2.0},
            {"match": {"kind": "joiner"}, "factor": 1.5, **window},
        ],
    }


@pytest.fixture(scope="module")
def inputs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("windows"), SPEC)


@pytest.mark.parametrize(
    ("window", "column"),
    [
        ({"from_year": 2030, "until_year": 2032}, "from_year"),
        ({"from_year": 2023}, "from_year"),
        ({"until_year": 2017}, "until_year"),
        ({"from_year": 2010, "until_year": 2012}, "until_year"),
    ],
)
def test_a_window_missing_every_projected_year_is_named(window: dict[str, int], column: str) -> None:
    with pytest.raises(ScenarioOutsideProjection) as info:
        check_windows(parse_scenarios([scenario(**window)]), YEARS)
    err = info.value
    assert (err.code, err.column, err.file) == ("scenario-outside-projection", column, "scenario more-movers")
    assert "modify_transitions[1]" in err.detail and "the run projects 2018..2022" in err.detail
    assert err.to_dict() | {"message": ""} == {
        "code": "scenario-outside-projection",
        "file": "scenario more-movers",
        "row": None,
        "column": column,
        "message": "",
        "scenario": "more-movers",
        "modification": "modify_transitions[1]",
        "from_year": window.get("from_year"),
        "until_year": window.get("until_year"),
        "projected_years": YEARS,
    }


@pytest.mark.parametrize(
    "window", [{}, {"from_year": 2022}, {"until_year": 2018}, {"from_year": 2010, "until_year": 2019}]
)
def test_a_window_holding_a_projected_year_is_accepted(window: dict[str, int]) -> None:
    check_windows(parse_scenarios([scenario(**window)]), YEARS)  # raises nothing


def test_a_window_ending_before_it_starts_is_refused_when_parsed() -> None:
    with pytest.raises(ModelInputError) as info:
        parse_scenario(scenario(from_year=2021, until_year=2019))
    assert (info.value.code, info.value.column) == ("invalid-scenario", "from_year")
    assert "from_year 2021 is after until_year 2019" in info.value.detail


def test_a_local_run_with_such_a_scenario_fails_before_writing_anything(
    inputs_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(ScenarioOutsideProjection):
        run_local("send", send_files(inputs_dir), out, simulations=2, scenarios=[scenario(from_year=2025)])
    assert not out.exists() or not any(out.rglob("*.parquet"))
    # With more years projected the same window is inside the projection, but only if the
    # population covers them: the error then is the population's, naming the missing years.
    with pytest.raises(ModelInputError, match=r"missing: 2023\.\.2025") as info:
        run_local(
            "send",
            send_files(inputs_dir),
            out,
            simulations=2,
            scenarios=[scenario(from_year=2025)],
            parameters={"projection_years": 8},
        )
    assert info.value.code == "missing-population"


def test_the_cli_refuses_it_in_one_line(
    inputs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_file = tmp_path / "late.json"
    scenario_file.write_text(json.dumps(scenario(from_year=2030, until_year=2031)))
    code = main(
        [
            "model",
            "run",
            "send",
            "--inputs",
            str(inputs_dir),
            "--out",
            str(tmp_path / "out"),
            "--simulations",
            "2",
            "--scenario",
            str(scenario_file),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: scenario more-movers, column 'from_year': modify_transitions[1] applies")
    assert "calendar years 2030..2031, but the run projects 2018..2022" in err
    assert "Traceback" not in err and "\n" not in err
    assert not (tmp_path / "out" / "count.csv").exists()


# --- gaps in the population years -----------------------------------------------------------------


def inputs_without(tmp_path: Path, *years: int) -> Path:
    directory = write_synthetic(tmp_path / "gap", SPEC)
    population = directory / "population.csv"
    lines = population.read_text().splitlines()
    kept = [line for line in lines if not any(line.startswith(f"{y},") for y in years)]
    population.write_text("\n".join(kept) + "\n")
    return directory


def test_a_gap_under_the_default_projection_is_missing_population(tmp_path: Path) -> None:
    inputs = read_inputs_dir(inputs_without(tmp_path, 2020))  # loading itself is fine
    with pytest.raises(ModelInputError) as info:
        inputs.projection_years()
    err = info.value
    assert (err.code, err.file, err.column) == ("missing-population", "population.csv", "calendar-year")
    assert "seed year 2017 have a gap: missing 2020 (present: 2018..2019, 2021..2022)" in err.detail
    assert "every year up to 2022 is projected" in err.detail
    assert "or project 2 year(s) (projection_years / --years 2)" in err.detail
    assert inputs.projection_years(2) == [2018, 2019]  # the years before the gap can still be run


def test_a_missing_first_year_says_nothing_can_be_projected(tmp_path: Path) -> None:
    inputs = read_inputs_dir(inputs_without(tmp_path, 2018, 2019))
    with pytest.raises(ModelInputError, match=r"missing 2018\.\.2019 .*nothing can be projected"):
        inputs.projection_years()


def test_without_a_gap_the_default_is_unchanged(inputs_dir: Path) -> None:
    assert read_inputs_dir(inputs_dir).projection_years() == YEARS


def test_the_cli_names_the_gap_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = inputs_without(tmp_path, 2020)
    args = ["model", "run", "send", "--inputs", str(directory), "--simulations", "2"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: population.csv, column 'calendar-year': population years after the seed")
    assert "missing 2020" in err and "--years 2" in err and "Traceback" not in err
    assert not (tmp_path / "a" / "count.csv").exists()
