"""The platform adapter: plan -> chunks -> measures -> charts on a local store, the demography chain,
parameters, and the `witan model params asc` tables."""

from __future__ import annotations

import argparse
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from witan.modelrun.definition import BASELINE, InputFile
from witan.modelrun.errors import ModelInputError
from witan.modelrun.storage import LocalStorage
from witan.models.asc.definition import DEFINITION
from witan.models.asc.inputs import read_inputs_dir, read_population
from witan.models.asc.synthetic import SyntheticSpec, generate

PREVENTION = {
    "name": "prevention",
    "description": "fewer residential entries, sent to community support instead",
    "entry_redirects": [
        {"from_setting": "residential", "to_setting": "community-commissioned", "share": 0.3}
    ],
}


@cache
def inputs() -> dict[str, list[InputFile]]:
    syn = generate(SyntheticSpec(adults=60_000, years=2, seed=8))
    return {
        "cld": [InputFile(k, v) for k, v in syn.files.items()],
        "population": [InputFile("population.csv", syn.population_csv)],
    }


def test_plan_chunks_measures_and_charts(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    params = {"years": 4, "prior_concentration": 1, "parameter_uncertainty": True}
    DEFINITION.check_request(params, [PREVENTION])
    planned = DEFINITION.plan(inputs(), params, [PREVENTION], store, simulations=12, seed=5)
    assert planned.meta["snapshots"] == ["2023-03-31", "2024-03-31", "2025-03-31"]
    assert planned.meta["years"] == [2026, 2027, 2028, 2029]
    from witan.modelrun.inputs import hashes

    # Every quarterly file is traceable by its own hash (the platform records them, each hashed once).
    assert set(hashes(inputs())) == {f.name for files in inputs().values() for f in files} | {
        "cld",
        "population",
    }
    measures = {}
    for name in (BASELINE, "prevention"):
        # two chunks, given out of order: a simulation's result does not depend on its chunk
        parts = [DEFINITION.simulate(store, planned.plan, name, r, 5) for r in (range(6, 12), range(0, 6))]
        whole = DEFINITION.simulate(store, planned.plan, name, range(0, 12), 5)
        ms = DEFINITION.measures(store, planned.plan, name, pa.concat_tables(parts))
        np.testing.assert_array_equal(
            ms["cost"].values, DEFINITION.measures(store, planned.plan, name, whole)["cost"].values
        )
        measures[name] = ms
    ms = measures[BASELINE]
    assert set(ms) == {o.name for o in DEFINITION.outputs}
    for m in ms.values():
        assert all(len(v) == m.values.shape[1] for v in m.keys.values())
        assert m.values.shape[0] == 12
    assert ms["stock"].values.shape[1] == 5 * 196
    assert ms["cost"].compare and ms["stock_by_setting"].compare
    assert set(ms["flows"].keys["flow"]) == {"entries", "moves", "endings", "deaths"}
    res = np.asarray(ms["stock_by_setting"].keys["setting"]) == "residential"
    later = res & (np.asarray(ms["stock_by_setting"].keys["year"]) == 2029)
    prev = measures["prevention"]["stock_by_setting"].values[:, later].mean()
    assert prev < ms["stock_by_setting"].values[:, later].mean()
    charts = DEFINITION.charts(planned.plan, measures)
    assert {"baseline/cost.png", "baseline/stock_by_setting.png", "scenarios/cost.png"} <= set(charts)
    assert all(png.startswith(b"\x89PNG") for png in charts.values())


def test_a_scenario_starting_after_the_projection_is_refused(tmp_path: Path) -> None:
    late = {"name": "late", "entry_multipliers": [{"factor": 0.5, "from_year": 2040}]}
    with pytest.raises(ModelInputError) as err:
        DEFINITION.plan(inputs(), {"years": 3}, [late], LocalStorage(tmp_path), simulations=2, seed=0)
    assert err.value.code == "scenario-outside-projection"


def test_parameters_schema_defaults_and_flags() -> None:
    import jsonschema

    schema = DEFINITION.parameters_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    defaults = {k: v["default"] for k, v in schema["properties"].items()}
    assert defaults == {"years": 10, "prior_concentration": 1, "parameter_uncertainty": True}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"prior_concentration": 0}, schema)
    parser = argparse.ArgumentParser()
    DEFINITION.add_arguments(parser)
    args = parser.parse_args(["--years", "5", "--no-parameter-uncertainty"])
    assert DEFINITION.parameters_from_args(args) == {"years": 5, "parameter_uncertainty": False}
    assert DEFINITION.parameters_from_args(parser.parse_args([])) == {}


def test_population_from_a_demography_run() -> None:
    rows = [
        (g, s, a, y, 100.0 + a)
        for g in ("E06000023", "E06000024")
        for s in "FM"
        for a in range(91)
        for y in (2024, 2025)
    ]
    table = pa.table(
        {k: [r[i] for r in rows] for i, k in enumerate(("gss_code", "sex", "age", "year", "population"))}
    )
    convert = DEFINITION.chains["population"].convert
    f = convert(table, {"gss_code": "E06000024"})
    pop = read_population(f)
    assert pop.years == [2024, 2025]
    assert pop.values[0, 0, 0] == pytest.approx(sum(100.0 + a for a in range(18, 25)))
    with pytest.raises(ModelInputError) as err:
        convert(table, {"gss_code": "E09999999"})
    assert err.value.column == "gss_code"
    with pytest.raises(ModelInputError):
        convert(table, {})  # two councils: the code must be given


def test_fitted_tables_from_a_folder(tmp_path: Path) -> None:
    for files in inputs().values():
        for f in files:
            (tmp_path / f.name).write_bytes(f.data)
    (tmp_path / "unit_costs.csv").write_text("setting,age_group,weekly_cost\nresidential,all,1111\n")
    found = read_inputs_dir(str(tmp_path))
    assert len(found["cld"]) == 8 and found["population"] and found["unit_costs"]
    tables = DEFINITION.fitted_tables(found, {})
    assert {"snapshots", "moves", "entries", "weekly_costs", "excluded"} <= set(tables)
    assert tables["moves"].column_names == [
        "year",
        "from_age_band",
        "reason",
        "from_setting",
        "to_age_band",
        "to_state",
        "people",
    ]
    assert tables["entries"].column_names == [
        "year",
        "age_band",
        "sex",
        "reason",
        "setting",
        "entries",
        "population",
        "rate_per_1000",
    ]
    costs = {(r["setting"], r["age_group"]): r["weekly_cost"] for r in tables["weekly_costs"].to_pylist()}
    assert costs[("residential", "65+")] == costs[("residential", "18-64")] == 1111
    assert set(tables["moves"]["year"].to_pylist()) == {2024, 2025}
    with pytest.raises(ModelInputError, match="population"):
        DEFINITION.fitted_tables({"cld": found["cld"]}, {})
