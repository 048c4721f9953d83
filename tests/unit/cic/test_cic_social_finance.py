"""Whole projections against Social Finance's own code on their sample: run only when WITAN_SF_SOURCE
names a folder holding the regional repository's ssda903 package and WITAN_SF_PYTHON a Python with
pandas, python-dateutil and django (its imports need them)."""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from cic_fixtures import SAMPLE, needs_sample
from witan.models.cic import states as st
from witan.models.cic.inputs import read_returns_dir
from witan.models.cic.run import deterministic, fit, setup

SF_SOURCE, SF_PYTHON = os.environ.get("WITAN_SF_SOURCE"), os.environ.get("WITAN_SF_PYTHON")
pytestmark = [
    needs_sample,
    pytest.mark.skipif(not (SF_SOURCE and SF_PYTHON), reason="Social Finance's package not given"),
]

DRIVER = """
import contextlib, io, json, sys
from datetime import date
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import pandas as pd
from ssda903.datastore import DataFile, Metadata
from ssda903.datacontainer import DemandModellingDataContainer
from ssda903.population_stats import PopulationStats
from ssda903.predictor import predict

class Folder:
    def __init__(self, folder):
        self.paths = sorted(Path(folder).glob("*.csv"))
    @property
    def files(self):
        return [DataFile(p.name, Metadata(p.name, p.stat().st_size, path=str(p))) for p in self.paths]
    def to_dataframe(self, f):
        return pd.read_csv(f.metadata.path)

dc = DemandModellingDataContainer(Folder(sys.argv[1]))
stats = PopulationStats(dc.enriched_view, dc.data_start_date, dc.data_end_date)
rates, numbers = None, None
if sys.argv[3] == "scenario":
    rates = pd.DataFrame(
        {"multiply_value": [2.0, None], "add_value": [None, 0.999]},
        index=pd.MultiIndex.from_tuples(
            [
                ("10 to 16 - Residential", "10 to 16 - Fostering"),
                ("16 to 18+ - Supported", "16 to 18+ - Not in care"),
            ]
        ),
    )
    numbers = pd.DataFrame({"multiply_value": [3.0], "add_value": [None]}, index=["10 to 16 - Fostering"])
with contextlib.redirect_stdout(io.StringIO()):
    p = predict(
        stats, date(2021, 4, 1), date(2022, 3, 31), dc.data_end_date,
        rate_adjustment=rates, number_adjustment=numbers,
    )
print(json.dumps({"mean": {str(c): p.population[c].tolist() for c in p.population.columns},
                  "variance": {str(c): p.variance[c].tolist() for c in p.variance.columns}}))
"""
BANDS = {"under-1": "Birth to 1", "1-4": "1 to 5", "5-9": "5 to 10", "10-15": "10 to 16", "16+": "16 to 18+"}


# the same changes in our scenario format: a multiplied move, an exit pushed past 1 (renormalised), entrants
SCENARIO = {
    "name": "changed",
    "rates": [
        {
            "from_age_band": "10-15",
            "from_placement": "residential",
            "to_placement": "fostering",
            "multiply": 2,
        },
        {"from_age_band": "16+", "from_placement": "supported", "to_placement": "not-in-care", "add": 0.999},
    ],
    "entrants": [{"age_band": "10-15", "placement": "fostering", "multiply": 3}],
}


@pytest.mark.parametrize("scenario", [None, SCENARIO], ids=["baseline", "scenario"])
def test_faithful_projection_equals_social_finance(scenario: dict | None) -> None:
    which = "scenario" if scenario else "baseline"
    done = subprocess.run(
        [str(SF_PYTHON), "-c", DRIVER, str(SAMPLE), str(SF_SOURCE), which],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    params = {"reference_start": "2021-04-01", "reference_end": "2022-03-31"}
    fitted = fit(read_returns_dir(SAMPLE), params)
    su = setup(fitted, params, scenario)
    ours = deterministic(fitted.start, fitted.days, su, "faithful", rate_uncertainty=False)
    for j, state in enumerate(su.system.states):
        key = f"{BANDS[st.AGE_BANDS[state // 5]]} - {st.PLACEMENT_NAMES[state % 5].capitalize()}"
        assert np.allclose(ours.mean[:, j], theirs["mean"][key], rtol=1e-10, atol=0)
        assert np.allclose(ours.variance[:, j], theirs["variance"][key], rtol=1e-10, atol=0)
