"""Scenarios: the renormalising rule's worked cases, entry multipliers and redirects, cost uplifts,
checks on scenario documents, and a prevention scenario's effect."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from witan.modelrun.definition import InputFile
from witan.modelrun.errors import ModelInputError
from witan.models.asc.fit import NC, ND, Fitted, derive, fit
from witan.models.asc.flows import NS
from witan.models.asc.inputs import SETTINGS, read_cld, read_population
from witan.models.asc.scenarios import SCENARIO_SCHEMA, check_scenarios, prepare, renormalise, stay_mask
from witan.models.asc.simulate import expected_entries, mean_moves, project, year_moves
from witan.models.asc.synthetic import SyntheticSpec, generate

# Worked cases of the children's model (cic-model.md section 6): stay 0.6 is the residual;
# exit 0.1, to residential 0.1, to other 0.15, ageing 0.05.
ROW = np.array([[0.6, 0.1, 0.1, 0.15, 0.05]])
RESIDUAL = np.array([[True, False, False, False, False]])


@pytest.mark.parametrize(
    ("factor", "expected"),
    [
        ([1, 3, 1, 1, 1], [0.4, 0.3, 0.1, 0.15, 0.05]),  # exit to 0.3 leaves the rest
        ([1, 8, 1, 1, 1], [0.0, 0.8, 0.066667, 0.1, 0.033333]),
        ([1, 6, 6, 4, 1], [0.0, 1 / 3, 1 / 3, 1 / 3, 0.0]),  # each to 0.6: scaled to 1, ageing 0
    ],
)
def test_renormalising_rule_worked_cases(factor: list[float], expected: list[float]) -> None:
    out = renormalise(ROW, np.array([factor], dtype=float), RESIDUAL)
    np.testing.assert_allclose(out[0], expected, atol=1e-6)
    assert out.sum() == pytest.approx(1.0)


def test_renormalise_leaves_unadjusted_rows_alone() -> None:
    p = np.random.default_rng(0).dirichlet(np.ones(ND), NC)
    factor = np.ones((NC, ND))
    factor[5, 3] = 2.0
    out = renormalise(p, factor, stay_mask())
    np.testing.assert_array_equal(np.delete(out, 5, axis=0), np.delete(p, 5, axis=0))
    assert out[5].sum() == pytest.approx(1.0)
    assert out[5, 3] == pytest.approx(2 * p[5, 3])


@cache
def small() -> Fitted:
    syn = generate(SyntheticSpec(adults=80_000, years=2, seed=4))
    pop = read_population(InputFile("population.csv", syn.population_csv))
    d = derive(read_cld([InputFile(k, v) for k, v in syn.files.items()]), pop)
    return fit(d.states, d.flows, pop)


def test_entry_multipliers_and_redirects() -> None:
    fitted = small()
    rates = np.divide(
        fitted.entry_shape,
        fitted.entry_rate,
        out=np.zeros(fitted.entry_shape.shape),
        where=fitted.entry_rate > 0,
    )
    first = fitted.last_year + 1
    base = expected_entries(fitted, rates, prepare(None, first, 3), 3).reshape(3, -1, NS)
    sc = {
        "name": "prevention",
        "entry_multipliers": [{"setting": "residential", "factor": 0.5, "from_year": first + 1}],
        "entry_redirects": [
            {
                "from_setting": "nursing",
                "to_setting": "community-commissioned",
                "share": 0.25,
                "age_band": "85-94",
            }
        ],
    }
    lam = expected_entries(fitted, rates, prepare(sc, first, 3), 3).reshape(3, -1, NS)
    res, nur, cc = (SETTINGS.index(s) for s in ("residential", "nursing", "community-commissioned"))
    assert lam[0, :, res].sum() == pytest.approx(base[0, :, res].sum())
    np.testing.assert_allclose(lam[1:, :, res], 0.5 * base[1:, :, res])
    # the redirect moves a quarter of 85-94 nursing entries and keeps the total
    np.testing.assert_allclose(lam[:, :, [nur, cc]].sum(axis=2), base[:, :, [nur, cc]].sum(axis=2))
    band = 5 * 7  # first cell row of 85-94 in the (band, reason) rows
    np.testing.assert_allclose(lam[:, band : band + 7, nur], 0.75 * base[:, band : band + 7, nur])


def test_cost_uplifts_compound_from_their_year() -> None:
    sc = {
        "name": "nlw",
        "cost_uplifts": [{"setting": "community-commissioned", "rate": 0.1, "from_year": 2027}],
    }
    prep = prepare(sc, 2026, 4)
    np.testing.assert_allclose(prep.cost_factor[:, 3], [1.0, 1.1, 1.21, 1.331])
    np.testing.assert_allclose(prep.cost_factor[:, :3], 1.0)


def test_move_multipliers_apply_from_their_year() -> None:
    fitted = small()
    sc = {
        "name": "stepdown",
        "move_multipliers": [
            {
                "from_setting": "residential",
                "to_state": "community-commissioned",
                "factor": 2,
                "from_year": 2027,
            }
        ],
    }
    p = mean_moves(fitted)
    moves = year_moves(p, prepare(sc, 2026, 3), 3)
    np.testing.assert_array_equal(moves[0], p)
    to_cc = np.arange(ND) % (NS + 2) == 3
    # rows whose moves still sum to at most 1 after doubling: the stay absorbs it, the rest as they were
    moving = np.where(stay_mask(), 0.0, p).sum(axis=1) + p[:, to_cc].sum(axis=1)
    rows = (np.arange(NC) % NS == 1) & (moving <= 1)
    assert rows.sum() > 10
    np.testing.assert_allclose(moves[1][np.ix_(rows, to_cc)], 2 * p[np.ix_(rows, to_cc)])
    np.testing.assert_allclose(moves[2].sum(axis=1)[p.sum(axis=1) > 0], 1.0)


def test_scenario_documents_are_checked() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(SCENARIO_SCHEMA)
    check_scenarios([{"name": "ok", "entry_multipliers": [{"factor": 0.9}]}])
    bad = [
        [{"name": "baseline"}],
        [{"name": "x", "entry_multipliers": [{"setting": "castle", "factor": 1}]}],
        [
            {
                "name": "x",
                "entry_redirects": [{"from_setting": "nursing", "to_setting": "nursing", "share": 0.5}],
            }
        ],
        [{"name": "x"}, {"name": "x"}],
        [{"name": "x", "surprise": 1}],
    ]
    for doc in bad:
        with pytest.raises(ModelInputError) as err:
            check_scenarios(doc)
        assert err.value.code == "invalid-scenario"


def test_prevention_lowers_residential_stock_and_its_cost() -> None:
    fitted = small()
    sc = {
        "name": "prevention",
        "entry_redirects": [
            {"from_setting": "residential", "to_setting": "community-commissioned", "share": 0.5}
        ],
    }
    out = project(fitted, [sc], years=5, simulations=200, seed=2)
    res = SETTINGS.index("residential")
    base = out["baseline"]["stock"][:, -1].reshape(200, -1, NS)[:, :, res].sum(axis=1)
    prev = out["prevention"]["stock"][:, -1].reshape(200, -1, NS)[:, :, res].sum(axis=1)
    assert prev.mean() < base.mean() - 3 * np.sqrt((prev.var() + base.var()) / 200)
    assert (
        out["prevention"]["cost"][:, -1].sum(axis=1).mean()
        < out["baseline"]["cost"][:, -1].sum(axis=1).mean()
    )
