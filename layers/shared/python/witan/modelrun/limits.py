"""Limits on a model run's request, shared by the API (which must not import numpy) and the pipeline."""

from __future__ import annotations

# Calendar years a run may project after the seed year. Councils plan SEND places and budgets 5 to 10
# years ahead (witan.send's demo projects 5); by 15 years most children in the projection have not yet
# joined SEND, so it restates the general population's projection. Cost is linear in years: each is a
# step of every simulation, and Aggregate holds one scenario's counts [simulations, years + 1,
# academic years, states] as int32 (measured on demo-sized data, 100-simulation chunks: about 0.23 MiB
# per simulation at 15 years, so ~1.2 GB for the API's 5,000 simulations, within model_run's 2 GB).
MAX_PROJECTION_YEARS = 15

# Work of one run: simulations x scenarios (with the baseline) x calendar years (the seed year too).
# Aggregate, one Lambda call, takes about 0.5 ms per unit (measured here: 2,000 simulations x 16 years
# in 17 s, charts and workbook included), so this keeps it near 9 minutes of its 15. The API's largest
# run over witan.send's 5 demo years (5,000 x 21 x 6 = 630,000) fits; at 15 years, 5,000 simulations
# allow 11 scenarios besides the baseline.
MAX_SIMULATION_YEARS = 1_000_000


def run_work(simulations: int, scenarios: int, projection_years: int) -> int:
    """simulations x (baseline + scenarios) x (seed year + projected years)."""
    return simulations * (1 + scenarios) * (1 + projection_years)
