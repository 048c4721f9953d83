"""Social Finance's sample reproduces its expected/ figures (stock, 2021-22 rates, entrants, proportions)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from cic_fixtures import SAMPLE, needs_sample
from witan.models.cic import rates as rt
from witan.models.cic import states as st
from witan.models.cic.cleaning import clean
from witan.models.cic.inputs import read_returns_dir

pytestmark = needs_sample
TOLERANCE = 1e-6  # the expected figures are rounded to 6 places


def _rows(name: str) -> list[dict[str, str]]:
    with (SAMPLE / "expected" / name).open() as f:
        return list(csv.DictReader(f))


def _day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


@pytest.fixture(scope="module")
def fitted() -> tuple[rt.History, rt.Rates]:
    episodes = clean(read_returns_dir(SAMPLE))
    history = rt.history(episodes)
    return history, rt.estimate(history, episodes, _day("2021-04-01"), _day("2022-03-31"))


def _state(band: str, placement: str) -> int:
    return st.AGE_BANDS.index(band) * 5 + st.PLACEMENT_NAMES.index(placement)


def test_stock(fitted: tuple[rt.History, rt.Rates]) -> None:
    history, _ = fitted
    for row in _rows("stock.csv"):
        stock = history.stock[_day(row["date"]) - history.data_start]
        got = stock.sum() if row["age_band"] == "all" else stock[_state(row["age_band"], row["placement"])]
        assert got == float(row["children"]), row


def test_rates(fitted: tuple[rt.History, rt.Rates]) -> None:
    _, rates = fitted
    got = {(int(p // 25), int(p % 25)): r for p, r in zip(rates.pairs, rates.rate, strict=True)}
    expected = {
        (_state(r["from_age_band"], r["from_placement"]), _state(r["to_age_band"], r["to_placement"])): float(
            r["daily_rate"]
        )
        for r in _rows("rates_2021-04-01_2022-03-31.csv")
    }
    worst = max(abs(got[k] - v) for k, v in expected.items())
    assert worst <= TOLERANCE
    # every other rate the model carries rounds to 0
    assert all(abs(v) < 5e-7 for k, v in got.items() if k not in expected)


def test_entrants(fitted: tuple[rt.History, rt.Rates]) -> None:
    _, rates = fitted
    expected = np.zeros(st.N_STATES_ALL)
    for r in _rows("entrants_2021-04-01_2022-03-31.csv"):
        expected[_state(r["age_band"], r["placement"])] = float(r["daily_rate"])
    assert np.abs(rates.entrants - expected).max() <= TOLERANCE


def test_placement_proportions(fitted: tuple[rt.History, rt.Rates]) -> None:
    _, rates = fitted
    for r in _rows("placement_proportions_2021-04-01_2022-03-31.csv"):
        assert abs(rates.proportions[st.COST_ITEMS.index(r["item"])] - float(r["proportion"])) <= TOLERANCE, r


def test_cleaning_counts_every_row() -> None:
    episodes = clean(read_returns_dir(SAMPLE))
    report = dict(episodes.report)
    read = report["episodes read"]
    dropped = sum(n for reason, n in episodes.report if reason.startswith(("dropped", "merged")))
    added = report["added: pieces from splitting episodes at age-band birthdays"]
    assert read - dropped + added == len(episodes)
