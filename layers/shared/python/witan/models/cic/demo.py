"""Demo: a council's synthetic 903 returns -> baseline and a 'step down from residential to fostering'
scenario, with the cost difference by quarter and its 95% interval (`python -m witan.models.cic.demo`).

Monte Carlo: simulation i of the scenario and of the baseline share their draw of the rates, so the
paired difference is the policy's effect given what the data say about the rates."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from witan.modelrun.definition import BASELINE
from witan.models.cic.inputs import read_returns_dir
from witan.models.cic.run import project_measures
from witan.models.cic.synthetic import generate, write_synthetic

# Weekly costs nearer England's 2023-24 figures than Social Finance's placeholders (note s.7).
WEEKLY = {
    "fostering-friend-relative": 350.0,
    "fostering-in-house": 650.0,
    "fostering-ifa": 850.0,
    "residential-in-house": 5000.0,
    "residential-external": 6100.0,
    "supported-accommodation": 1500.0,
}
STEP_DOWN = {
    "name": "step-down",
    "description": "twice the moves from residential to foster care, for children aged 10 and over",
    "rates": [
        {"from_age_band": band, "from_placement": "residential", "to_placement": "fostering", "multiply": 2}
        for band in ("10-15", "16+")
    ],
}


def main(simulations: int = 300) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data = generate(starts_per_year=200, first_year=2019, last_year=2024, seed=5)
        returns = read_returns_dir(write_synthetic(Path(tmp), data))
    params = {"weekly_costs": WEEKLY, "uncertainty": "monte-carlo"}
    out = project_measures(returns, params, [STEP_DOWN], simulations=simulations, seed=1)
    base, step = out[BASELINE]["costs"], out["step-down"]["costs"]
    rows = np.flatnonzero(np.asarray(base.keys["item"]) == "total")
    quarters = np.asarray(base.keys["quarter"])[rows]
    b, s = base.values[:, rows], step.values[:, rows]
    diff = s - b
    print(f"{simulations} simulations; cost per quarter (pounds), mean and 95% of simulations")
    print("quarter   baseline     step-down    difference (95% interval)")
    for q, column in enumerate(quarters):
        lo, hi = np.percentile(diff[:, q], [2.5, 97.5])
        means = f"{b[:, q].mean():11,.0f}  {s[:, q].mean():11,.0f}  {diff[:, q].mean():10,.0f}"
        print(f"{column}  {means} ({lo:,.0f} to {hi:,.0f})")
    total = diff.sum(axis=1)
    lo, hi = np.percentile(total, [2.5, 97.5])
    print(f"over the projection: {total.mean():,.0f} pounds (95% interval {lo:,.0f} to {hi:,.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
