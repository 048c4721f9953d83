"""Weekly costs after DHSC's cost fact: frequencies to units a week, absolute values, medians by setting
and age group, one-off costs counted once, national figures where CLD has none."""

from __future__ import annotations

import numpy as np
import pytest
from asc_fixtures import NURSING, RESIDENTIAL, cld_file
from witan.models.asc.costs import NATIONAL_WEEKLY, one_off_per_client, weekly_costs
from witan.models.asc.inputs import read_cld
from witan.models.asc.states import derive_states

Q1, Q4 = "2023-06-30", "2024-03-31"


def test_weekly_costs_from_frequencies_and_medians() -> None:
    res = {"service": RESIDENTIAL, "mech": ""}
    rows = [
        {"id": "R1", **res, "cost": "1100", "freq": "Weekly"},
        {"id": "R2", **res, "cost": "-1300", "freq": "Weekly"},  # negative: read as positive
        {"id": "R3", **res, "cost": "4400", "freq": "4-Weekly", "units": ""},
        {"id": "C1", "cost": "20", "freq": "Hourly", "units": "10"},
        {"id": "C2", "cost": "866.6666667", "freq": "Monthly", "units": ""},
        {"id": "C3", "cost": "0", "freq": "Weekly"},  # no cost: left out
        {"id": "C4", "cost": "25", "freq": "Hourly", "units": ""},  # no units: left out
        {"id": "Y1", "dob": "1990-01-01", "cost": "300", "freq": "Fortnightly", "units": ""},
    ]
    st = derive_states(read_cld([cld_file(rows)]))
    cost, count, warnings = weekly_costs(st)
    assert cost[1, 1] == pytest.approx(1100)  # median of 1100, 1300, 1100
    assert count[1, 1] == 3
    assert cost[3, 1] == pytest.approx(200)  # 20 x 10 hours; 866.67 x 12 / 52
    assert count[3, 1] == 2
    assert cost[3, 0] == pytest.approx(150)  # 300 a fortnight
    # nursing has no costed services: the national figure, with a warning
    assert cost[0, 1] == NATIONAL_WEEKLY[0, 1]
    assert any(w.code == "no-costs" and "nursing" in w.message for w in warnings)
    override = weekly_costs(st, {(1, 1): 999.0})[0]
    assert override[1, 1] == 999.0


def test_one_off_costs_count_once_per_client() -> None:
    rows = [
        {"id": "A", "service": NURSING, "mech": "", "start": "2020-01-01", "period": Q1},
        {"id": "A", "service": NURSING, "mech": "", "start": "2020-01-01", "period": Q4},
        {
            "id": "A",
            "service": NURSING,
            "mech": "",
            "start": "2023-09-01",
            "end": "2023-09-01",
            "cost": "600",
            "freq": "One-off",
            "period": Q4,
        },
        {"id": "B", "service": NURSING, "mech": "", "start": "2020-01-01", "period": Q4},
    ]
    st = derive_states(read_cld([cld_file(rows)]))
    np.testing.assert_allclose(one_off_per_client(st), [300.0, 0, 0, 0])  # 600 over two nursing clients
    assert np.isnan(weekly_costs(st)[0]).sum() == 0
