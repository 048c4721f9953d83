"""Scenario rules: multiply or add, renormalising (the method note's worked cases), entrants, proportions."""

from __future__ import annotations

import numpy as np
import pytest
from witan.modelrun.errors import ModelInputError
from witan.models.cic import scenarios as sc
from witan.models.cic import states as st

S = st.N_STATES_ALL
TEN_FOSTER = 3 * 5 + 0  # (10-15, fostering)
PAIRS = np.array(
    [
        TEN_FOSTER * S + 3 * 5 + st.NOT_IN_CARE,  # exit 0.1
        TEN_FOSTER * S + 3 * 5 + 1,  # residential 0.1
        TEN_FOSTER * S + 3 * 5 + 3,  # other 0.15
        TEN_FOSTER * S + 4 * 5 + 0,  # ageing 0.05
    ]
)
RATES = np.array([0.1, 0.1, 0.15, 0.05])


def change(to: str, value: float) -> dict[str, object]:
    return {"from_age_band": "10-15", "from_placement": "fostering", "to_placement": to, "add": value}


def test_exit_to_0_3_leaves_the_rest() -> None:
    out = sc.adjust_rates(PAIRS, RATES, [change("not-in-care", 0.2)], "s")
    assert np.allclose(out, [0.3, 0.1, 0.15, 0.05])


def test_exit_to_0_8_scales_the_others_to_fill() -> None:
    out = sc.adjust_rates(PAIRS, RATES, [change("not-in-care", 0.7)], "s")
    assert np.allclose(out, [0.8, 0.066667, 0.1, 0.033333], atol=1e-6)


def test_adjusted_reaching_1_are_scaled_and_the_others_zeroed() -> None:
    changes = [change("not-in-care", 0.5), change("residential", 0.5), change("other", 0.45)]
    out = sc.adjust_rates(PAIRS, RATES, changes, "s")
    assert np.allclose(out, [1 / 3, 1 / 3, 1 / 3, 0.0])


def test_multiply_and_floor() -> None:
    mult = {"from_placement": "fostering", "to_placement": "residential", "multiply": 2}
    assert np.allclose(sc.adjust_rates(PAIRS, RATES, [mult], "s"), [0.1, 0.2, 0.15, 0.05])
    assert np.allclose(sc.adjust_rates(PAIRS, RATES, [change("other", -1)], "s"), [0.1, 0.1, 0.0, 0.05])


@pytest.mark.parametrize(
    "bad",
    [
        {"from_placement": "fostering", "to_placement": "other", "multiply": 2, "add": 0.1},
        {"from_placement": "fostering", "to_placement": "other", "multiply": -1},
        {"from_placement": "fostering", "to_placement": "other", "add": 1.5},
        {"from_placement": "fostering", "to_placement": "other"},
    ],
)
def test_bad_adjustments(bad: dict[str, object]) -> None:
    with pytest.raises(ModelInputError):
        sc.adjust_rates(PAIRS, RATES, [bad], "s")


def test_multiplying_a_zero_rate_is_refused() -> None:
    with pytest.raises(ModelInputError, match="zero rate"):
        sc.adjust_rates(
            PAIRS,
            np.array([0.1, 0.0, 0.15, 0.05]),
            [{"from_placement": "fostering", "to_placement": "residential", "multiply": 3}],
            "s",
        )


def test_unknown_transition_is_refused() -> None:
    with pytest.raises(ModelInputError, match="no such transition"):
        sc.adjust_rates(
            PAIRS, RATES, [{"from_placement": "supported", "to_placement": "other", "add": 0.1}], "s"
        )


def test_entrants_multiply_add_floor_without_renormalising() -> None:
    entrants = np.zeros(S)
    entrants[TEN_FOSTER] = 0.5
    out = sc.adjust_entrants(entrants, [{"age_band": "10-15", "placement": "fostering", "multiply": 3}], "s")
    assert out[TEN_FOSTER] == 1.5
    out = sc.adjust_entrants(entrants, [{"placement": "fostering", "add": -1}], "s")
    assert out.max() == 0.0


def test_proportions_renormalised_within_placement() -> None:
    historic = np.array([0.2, 0.5, 0.3, 0.25, 0.75, 1.0, 0.1, 0.4, 0.5])
    out = sc.normalise_proportions(historic, {"fostering-ifa": 0.6})
    assert np.allclose(out[:3], [0.2 * 0.4 / 0.7, 0.5 * 0.4 / 0.7, 0.6])
    assert np.allclose(out[3:], historic[3:])
    out = sc.normalise_proportions(historic, {"residential-in-house": 0.8, "residential-external": 0.8})
    assert np.allclose(out[3:5], [0.5, 0.5])


def test_scenario_names() -> None:
    with pytest.raises(ModelInputError):
        sc.validate([{"name": "baseline"}])
    with pytest.raises(ModelInputError):
        sc.validate([{"name": "a"}, {"name": "a"}])
