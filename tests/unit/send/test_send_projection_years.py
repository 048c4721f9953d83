"""How many years a run projects: `projection_years` from the request (or `--years`) through the plan,
the chunks and every summary; missing population years are named, out-of-range requests refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from send_fixtures import send_files, send_request
from witan.cli import main
from witan.modelrun.limits import MAX_PROJECTION_YEARS
from witan.modelrun.local import run_local
from witan.modelrun.pipeline import RunRequest
from witan.models.send.inputs import ModelInputError, read_inputs_dir, years_text
from witan.models.send.synthetic import SyntheticSpec, write_synthetic

# 2 years of transitions (2015, 2016): seed year 2017; population for 2015..2022, so 5 years can be projected.
SPEC = SyntheticSpec(children=120, transition_years=2, projection_years=5)
SEED_YEAR = 2017


@pytest.fixture(scope="module")
def inputs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("years"), SPEC)


def calendar_years(path: Path) -> list[int]:
    with path.open() as fh:
        return sorted({int(row["calendar_year"]) for row in csv.DictReader(fh)})


def test_default_projects_every_population_year(inputs_dir: Path) -> None:
    inputs = read_inputs_dir(inputs_dir)
    assert inputs.seed_year == SEED_YEAR
    assert inputs.projection_years() == [2018, 2019, 2020, 2021, 2022]
    assert inputs.projection_years(5) == inputs.projection_years()


@pytest.mark.parametrize("years", [1, 3])
def test_a_run_with_n_years_has_exactly_n_projected_years_everywhere(
    inputs_dir: Path, tmp_path: Path, years: int
) -> None:
    meta = run_local(
        "send",
        send_files(inputs_dir),
        tmp_path,
        simulations=4,
        seed=1,
        scenarios=[{"name": "close-OOB", "invalid_settings": ["OOB"]}],
        chunk_size=2,
        parameters={"projection_years": years},
    )
    projected = list(range(SEED_YEAR + 1, SEED_YEAR + 1 + years))
    # count.csv: the seed year (the starting population) then exactly `years` projected years.
    with (tmp_path / "count.csv").open() as fh:
        assert [int(r["calendar_year"]) for r in csv.DictReader(fh)] == [SEED_YEAR, *projected]
    for name in (
        "by_state.csv",
        "cost.csv",
        "scenarios/close-OOB/count.csv",
        "scenarios/close-OOB/comparison.csv",
    ):
        assert calendar_years(tmp_path / name) == [SEED_YEAR, *projected], name
    # The chunks simulated only those years.
    for chunk in (tmp_path / "chunks").rglob("*.parquet"):
        assert set(pq.read_table(chunk)["calendar_year"].to_pylist()) <= set(projected)
    assert (meta["projection_years"], meta["projection_years_requested"], meta["years"]) == (
        years,
        years,
        projected,
    )
    assert json.loads((tmp_path / "metadata.json").read_text())["projection_years"] == years


def test_metadata_of_a_default_run_says_all_years_were_projected(inputs_dir: Path, tmp_path: Path) -> None:
    meta = run_local("send", send_files(inputs_dir), tmp_path, simulations=2, seed=1)
    assert (meta["projection_years"], meta["projection_years_requested"]) == (5, None)
    assert calendar_years(tmp_path / "count.csv") == [SEED_YEAR, 2018, 2019, 2020, 2021, 2022]


def test_more_years_than_the_population_covers_names_the_missing_years(inputs_dir: Path) -> None:
    inputs = read_inputs_dir(inputs_dir)
    with pytest.raises(ModelInputError) as info:
        inputs.projection_years(8)
    err = info.value
    assert (err.code, err.file, err.column) == ("missing-population", "population.csv", "calendar-year")
    assert "needs population for calendar years 2018..2025" in err.detail
    assert "missing: 2023..2025" in err.detail
    assert "population years after the seed year: 2018..2022" in err.detail


def test_a_gap_in_the_population_years_is_named(tmp_path: Path) -> None:
    directory = write_synthetic(tmp_path / "gap", SPEC)
    population = directory / "population.csv"
    lines = population.read_text().splitlines()
    population.write_text("\n".join(line for line in lines if not line.startswith("2019,")) + "\n")
    inputs = read_inputs_dir(directory)
    assert inputs.projection_years(1) == [2018]
    with pytest.raises(ModelInputError, match=r"missing: 2019 \(population years after the seed year: "):
        inputs.projection_years(3)


def test_years_text_collapses_runs() -> None:
    assert years_text([2019, 2021, 2022, 2023, 2025]) == "2019, 2021..2023, 2025"
    assert years_text([]) == ""


@pytest.mark.parametrize("value", [0, -1, MAX_PROJECTION_YEARS + 1, "3", 2.0, True])
def test_run_requests_with_projection_years_out_of_range_are_refused(value: object) -> None:
    with pytest.raises(ModelInputError) as info:
        RunRequest.from_event({"run_id": "r", "projection_years": value})
    assert (info.value.code, info.value.column) == ("invalid-parameter", "projection_years")


def test_run_requests_take_projection_years_or_leave_it_to_the_inputs() -> None:
    assert "projection_years" not in RunRequest.from_event({"run_id": "r"}).parameters
    assert (
        "projection_years" not in RunRequest.from_event({"run_id": "r", "projection_years": None}).parameters
    )
    assert RunRequest.from_event({"run_id": "r", "projection_years": 1}).parameters["projection_years"] == 1
    top = RunRequest.from_event({"run_id": "r", "parameters": {"projection_years": MAX_PROJECTION_YEARS}})
    assert top.parameters["projection_years"] == MAX_PROJECTION_YEARS


def test_a_run_too_large_to_aggregate_is_refused_before_any_work(inputs_dir: Path, tmp_path: Path) -> None:
    from witan.modelrun.limits import MAX_SIMULATION_YEARS
    from witan.modelrun.pipeline import plan
    from witan.modelrun.storage import LocalStorage

    inputs = send_files(inputs_dir)
    # 100,000 simulations x (baseline + 1 scenario) x (seed year + 5) = 1,200,000 > 1,000,000.
    scenario = [{"name": "other"}]
    request = send_request("big", 100_000, 0, 100_000, scenario, projection_years=5)
    with pytest.raises(ModelInputError) as info:
        plan(LocalStorage(tmp_path / "big"), inputs, request)
    assert (info.value.code, info.value.column) == ("run-too-large", "projection_years")
    assert (
        "1,200,000 simulation-years" in info.value.detail and f"{MAX_SIMULATION_YEARS:,}" in info.value.detail
    )
    assert not (tmp_path / "big").exists() or not any((tmp_path / "big").iterdir())
    # Local runs are bounded by the machine, not by what one Lambda call can aggregate.
    small = send_request("small", 2, 0, 2, scenario, projection_years=1)
    assert len(plan(LocalStorage(tmp_path / "small"), inputs, small, max_work=None)) == 2
    with pytest.raises(
        ModelInputError, match=r"= 8 simulation-years is more than one run may aggregate \(7\)"
    ):
        plan(LocalStorage(tmp_path / "small"), inputs, small, max_work=7)


# --- CLI ------------------------------------------------------------------------------------------


def run_cli(inputs_dir: Path, out: Path, *extra: str) -> int:
    return main(
        ["model", "run", "send", "--inputs", str(inputs_dir), "--out", str(out), "--simulations", "3", *extra]
    )


def test_cli_years_limits_the_projection(
    inputs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(inputs_dir, tmp_path / "out", "--years", "2") == 0
    printed = capsys.readouterr().out
    assert "2 projected year(s) after 2017" in printed
    assert "  2019: mean" in printed and "2020:" not in printed
    assert calendar_years(tmp_path / "out" / "count.csv") == [SEED_YEAR, 2018, 2019]
    assert json.loads((tmp_path / "out" / "metadata.json").read_text())["projection_years"] == 2


def test_cli_years_beyond_the_population_is_a_one_line_error(
    inputs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(inputs_dir, tmp_path / "out", "--projection-years", "7") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: population.csv, column 'calendar-year': projecting 7 year(s)")
    assert "missing: 2023..2024" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "count.csv").exists()


@pytest.mark.parametrize("value", ["0", str(MAX_PROJECTION_YEARS + 1), "two"])
def test_cli_years_out_of_range_is_refused_by_the_parser(
    inputs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli(inputs_dir, tmp_path / "out", "--years", value)
    assert info.value.code == 2
    assert "argument --years/--projection-years" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
