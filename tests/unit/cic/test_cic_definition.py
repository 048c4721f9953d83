"""The platform adapter: schemas, CLI flags, and plan -> simulate -> measures on synthetic returns."""

from __future__ import annotations

import argparse
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from witan.modelrun.definition import BASELINE, InputFile
from witan.modelrun.errors import ModelInputError
from witan.modelrun.storage import LocalStorage
from witan.modelrun.summaries import compare, measure_table
from witan.models.cic import definition as d
from witan.models.cic import states as st
from witan.models.cic.definition import DEFINITION

STEP_DOWN = {
    "name": "step-down",
    "rates": [{"from_placement": "residential", "to_placement": "fostering", "multiply": 2}],
}


def test_the_schemas_name_the_model_states() -> None:
    assert d.SCENARIO_SCHEMA["properties"]["entrants"]["items"]["properties"]["age_band"]["enum"] == list(
        st.AGE_BANDS
    )
    assert d.PARAMETERS_SCHEMA["properties"]["weekly_costs"]["propertyNames"]["enum"] == list(st.COST_ITEMS)


def test_schemas_are_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(DEFINITION.parameters_schema)
    jsonschema.Draft202012Validator.check_schema(DEFINITION.scenario_schema)
    jsonschema.validate(STEP_DOWN, DEFINITION.scenario_schema)


def test_cli_flags(tmp_path: Path) -> None:
    costs = tmp_path / "costs.csv"
    costs.write_text("item,weekly_cost\nresidential-external,6100\nfostering-ifa,850\n")
    parser = argparse.ArgumentParser()
    DEFINITION.add_arguments(parser)
    args = parser.parse_args(
        [
            "--reference-start",
            "2021-04-01",
            "--uncertainty",
            "faithful",
            "--costs",
            str(costs),
            "--filter",
            "la=Bromley",
            "--filter",
            "uasc=false",
            "--filter",
            "la=Southwark",
        ]
    )
    params = DEFINITION.parameters_from_args(args)
    assert params == {
        "reference_start": "2021-04-01",
        "uncertainty": "faithful",
        "weekly_costs": {"residential-external": 6100.0, "fostering-ifa": 850.0},
        "filters": {"la": ["Bromley", "Southwark"], "uasc": False},
    }
    jsonschema.validate(params, DEFINITION.parameters_schema)
    with pytest.raises(ModelInputError):
        DEFINITION.parameters_from_args(parser.parse_args(["--filter", "colour=red"]))


def _inputs(folder: Path) -> dict[str, list[InputFile]]:
    return {
        r: [InputFile(f"{r}.csv", (folder / f"{r}.csv").read_bytes())] for r in ("episodes", "header", "uasc")
    }


def _run(folder: Path, tmp: Path, parameters: dict, sims: range) -> dict[str, dict]:
    store = LocalStorage(tmp)
    planned = DEFINITION.plan(_inputs(folder), parameters, [STEP_DOWN], store, simulations=len(sims), seed=1)
    out = {}
    for name in (BASELINE, "step-down"):
        chunks = [DEFINITION.simulate(store, planned.plan, name, sims, 1)]
        import pyarrow as pa

        out[name] = DEFINITION.measures(store, planned.plan, name, pa.concat_tables(chunks))
    charts = DEFINITION.charts(planned.plan, out)
    assert charts["costs.png"][:4] == b"\x89PNG"
    return out


@pytest.mark.parametrize("mode", ["exact", "faithful"])
def test_deterministic_run(synthetic_dir: Path, tmp_path: Path, mode: str) -> None:
    out = _run(synthetic_dir, tmp_path, {"uncertainty": mode, "rate_uncertainty": True}, range(1))
    population = measure_table(out[BASELINE]["population"], stochastic=True)
    assert population.column_names == ["date", "age_band", "placement", "mean", "variance", "lower", "upper"]
    in_care = out[BASELINE]["in_care"]
    n_days = len(set(in_care.keys["date"].tolist()))
    assert n_days in (730, 731)  # 24 months
    # the step-down scenario moves children from residential to fostering and costs less
    diff = compare(out["step-down"]["costs"], out[BASELINE]["costs"], True)
    total = [r for r in diff.to_pylist() if r["item"] == "total"]
    assert all(r["mean"] < 0 for r in total[1:])
    assert all(r["upper"] > r["mean"] > r["lower"] for r in total[1:])


def test_monte_carlo_run(synthetic_dir: Path, tmp_path: Path) -> None:
    out = _run(synthetic_dir, tmp_path, {"uncertainty": "monte-carlo", "rate_uncertainty": True}, range(20))
    population = out[BASELINE]["population"]
    assert population.values.shape[0] == 20 and population.variance is None
    table = measure_table(out[BASELINE]["in_care"], stochastic=True)
    assert "p97_5" in table.column_names


def test_deterministic_chunk_without_simulation_0_is_empty(synthetic_dir: Path, tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    planned = DEFINITION.plan(
        _inputs(synthetic_dir), {"uncertainty": "exact"}, [], store, simulations=200, seed=1
    )
    assert DEFINITION.simulate(store, planned.plan, BASELINE, range(100, 200), 1).num_rows == 0


def test_exact_means_equal_faithful_means(synthetic_dir: Path, tmp_path: Path) -> None:
    a = _run(synthetic_dir, tmp_path / "a", {"uncertainty": "exact"}, range(1))
    b = _run(synthetic_dir, tmp_path / "b", {"uncertainty": "faithful"}, range(1))
    assert np.array_equal(a[BASELINE]["population"].values, b[BASELINE]["population"].values)


def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from witan.models.cic import demo

    assert demo.main(simulations=10) == 0
    assert "over the projection" in capsys.readouterr().out
