"""The platform adapter: a whole run (plan, chunks, measures, comparisons, charts) on generated data,
the request checks, and the CLI flags."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from witan.modelrun import registry
from witan.modelrun.definition import InputFile
from witan.modelrun.errors import ModelInputError
from witan.models.demography.definition import DEFINITION
from witan.models.demography.inputs import read_inputs
from witan.models.demography.projection import run
from witan.models.demography.synthetic import synthetic_files


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.MODULES, "demography", "witan.models.demography.definition")
    registry.get_model.cache_clear()
    yield
    registry.get_model.cache_clear()


def test_whole_run_on_the_platform(tmp_path: Path, registered: None) -> None:
    from witan.modelrun.local import run_local

    files = synthetic_files(2, seed=5)
    scenarios = [
        {"name": "fewer-arrivals", "in_migrant_multiplier": 0.5, "from_year": 2020},
        {"name": "high-fertility", "fertility_scenario": "high-2012"},
    ]
    meta = run_local(
        "demography",
        {role: [InputFile(name, data)] for role, (name, data) in files.items()},
        tmp_path,
        parameters={"last_year": 2025},
        scenarios=scenarios,
    )
    assert meta["years"] == list(range(2015, 2026)) and meta["gss_codes"] == 2
    population = pq.read_table(tmp_path / "population.parquet")
    assert population.column_names == ["gss_code", "sex", "age", "year", "population"]
    expected = run(read_inputs(files), {"last_year": 2025})
    last = population.filter(np.asarray(population.column("year")) == 2025)
    assert np.array_equal(np.asarray(last.column("population")).reshape(2, 2, 91), expected.population[:, -1])
    assert population.num_rows == 2 * (14 + 11) * 182
    for name in (
        "births",
        "deaths",
        "net_migration",
        "fertility_rates",
        "mortality_rates",
        "total_population",
    ):
        assert (tmp_path / f"{name}.csv").is_file()
    for name, value in (("births", "births"), ("deaths", "deaths"), ("net_migration", "net_migration")):
        assert pq.read_table(tmp_path / f"{name}.parquet").column_names == [
            "gss_code",
            "sex",
            "age",
            "year",
            value,
        ]
    rates = pq.read_table(tmp_path / "fertility_rates.parquet")
    assert rates.column_names == ["gss_code", "sex", "age", "year", "rate"]
    comparison = pq.read_table(tmp_path / "scenarios/fewer-arrivals/comparison.parquet").to_pylist()
    totals = {(r["gss_code"], r["year"]): r for r in comparison if r["measure"] == "total_population"}
    assert len(totals) == 2 * 25  # 2001-2014 historic, 2015-2025 projected
    assert all(r["difference"] == 0 for (_, year), r in totals.items() if year < 2020)
    assert all(r["difference"] < 0 for (_, year), r in totals.items() if year >= 2020)
    for chart in ("population_pyramid.png", "total_population.png"):
        assert (tmp_path / "charts" / chart).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "summaries.xlsx").is_file()
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["model_plan"]["settings"]["fewer-arrivals"]["multiplier_from_year"] == 2020


def test_check_request() -> None:
    DEFINITION.check_request(
        {"first_year": 2015, "last_year": 2020}, [{"name": "a", "migration_years": "2010-2014"}]
    )
    cases = [
        ({"first_year": 2020, "last_year": 2015}, [], "parameters", "invalid-parameter"),
        ({"mortality_years": "2014-2010"}, [], "parameters", "invalid-parameter"),
        ({"migration_years": "last ten"}, [], "parameters", "invalid-parameter"),
        ({"in_migrant_multiplier": -1}, [], "parameters", "invalid-parameter"),
        ({}, [{"name": "a", "in_migrant_multiplier": -0.5}], "scenarios", "invalid-scenario"),
        ({}, [{"name": "a", "from_year": 2020}], "scenarios", "invalid-scenario"),
        (
            {"last_year": 2030},
            [{"name": "a", "in_migrant_multiplier": 0, "from_year": 2031}],
            "scenarios",
            "invalid-scenario",
        ),
        ({}, [{"name": "a", "migration_years": "2014-2003"}], "scenarios", "invalid-scenario"),
    ]
    for parameters, scenarios, file, code in cases:
        with pytest.raises(ModelInputError) as info:
            DEFINITION.check_request(parameters, scenarios)
        assert (info.value.file, info.value.code) == (file, code), (parameters, scenarios)


def test_schemas_are_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(DEFINITION.parameters_schema)
    Draft202012Validator.check_schema(DEFINITION.scenario_schema)
    assert DEFINITION.scenario_schema["additionalProperties"] is False
    scenario = {"name": "x", "fertility_scenario": "low", "in_migrant_multiplier": 0.5, "from_year": 2020}
    assert not list(Draft202012Validator(DEFINITION.scenario_schema).iter_errors(scenario))


def test_input_schemas_exist_and_load() -> None:
    from witan.validation import load_schema

    root = Path(__file__).resolve().parents[3] / "schemas/models/demography"
    for role in DEFINITION.inputs:
        assert role.schema is not None
        load_schema(root / role.schema)


def test_cli_flags_become_parameters() -> None:
    parser = argparse.ArgumentParser()
    DEFINITION.add_arguments(parser)
    args = parser.parse_args(
        [
            "--first-year",
            "2015",
            "--last-year",
            "2030",
            "--fertility-variant",
            "fixed",
            "--mortality-years",
            "2010-2014",
            "--in-migrant-multiplier",
            "0.5",
        ]
    )
    assert DEFINITION.parameters_from_args(args) == {
        "first_year": 2015,
        "last_year": 2030,
        "fertility_variant": "fixed",
        "mortality_years": "2010-2014",
        "in_migrant_multiplier": 0.5,
    }
    assert DEFINITION.parameters_from_args(parser.parse_args([])) == {}


def test_fitted_tables() -> None:
    files = {role: [InputFile(name, data)] for role, (name, data) in synthetic_files(2).items()}
    tables = DEFINITION.fitted_tables(files, {"last_year": 2020})
    assert {"historic_asfr", "fertility_rates", "historic_asmr", "mortality_rates", "net_migration"} <= set(
        tables
    )
    assert tables["historic_asmr"].num_rows == 2 * 13 * 182
    assert tables["domestic_in_mean"].column_names == ["gss_code", "sex", "age", "domestic_in"]
