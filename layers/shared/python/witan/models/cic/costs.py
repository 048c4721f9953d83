"""Costs of the projected placements by item and quarter (note s.6).

Daily cost of an item = sum over the states of its placement of round(children) x weekly / 7 x the
item's proportion; the weekly cost grows by the inflation rate on each anniversary of the first
projected day (as Social Finance's model does). Reported per calendar quarter (e.g. 2022-Q2).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from witan.modelrun.errors import ModelInputError
from witan.models.cic import states as st
from witan.models.cic.cleaning import add_years


def read_costs(name: str, data: bytes) -> dict[str, float]:
    """A costs file: columns item and weekly_cost (item names as in the outputs)."""
    try:
        table = pacsv.read_csv(io.BytesIO(data))
    except pa.ArrowInvalid as exc:
        raise ModelInputError(name, f"not a readable CSV file ({exc})", code="unreadable-file") from exc
    for column in ("item", "weekly_cost"):
        if column not in table.column_names:
            raise ModelInputError(name, f"missing column {column}", column=column, code="missing-column")
    items = [str(v) for v in table["item"].to_pylist()]
    try:
        costs = pc.cast(table["weekly_cost"], pa.float64()).to_pylist()
    except pa.ArrowInvalid as exc:
        raise ModelInputError(
            name, "weekly_cost must be numbers", column="weekly_cost", code="bad-number"
        ) from exc
    out: dict[str, float] = {}
    for row, (item, cost) in enumerate(zip(items, costs, strict=True), start=1):
        if item not in st.COST_ITEMS:
            raise ModelInputError(
                name,
                f"unknown item {item!r} (known: {', '.join(st.COST_ITEMS)})",
                row=row,
                column="item",
                code="unknown-code",
            )
        if cost is None or cost < 0:
            raise ModelInputError(
                name, "a weekly cost must be 0 or more", row=row, column="weekly_cost", code="bad-number"
            )
        out[item] = float(cost)
    return out


def weekly_costs(base: dict[str, float] | None, scenario: dict[str, float] | None) -> npt.NDArray[np.float64]:
    merged = {**st.DEFAULT_WEEKLY_COST, **(base or {}), **(scenario or {})}
    return np.array([merged[i] for i in st.COST_ITEMS])


def inflation_factor(first_day: int, days: int, rate: float) -> npt.NDArray[np.float64]:
    """(1 + rate) ^ (anniversaries of the first projected day passed), per projected day."""
    dates = first_day + np.arange(days)
    years = np.arange(1, days // 365 + 2)
    anniversaries = add_years(np.full(len(years), first_day), years)
    passed = np.searchsorted(anniversaries, dates, side="right")
    return np.float64(1.0 + rate) ** passed


def cost_weights(
    states: npt.NDArray[np.integer[Any]],
    first_day: int,
    days: int,
    weekly: npt.NDArray[np.float64],
    proportions: npt.NDArray[np.float64],
    inflation: float,
) -> npt.NDArray[np.float64]:
    """A [days, items, states]: an item's daily cost per child in each carried state."""
    same = st.ITEM_PLACEMENT[:, None] == (states % 5)[None, :]
    per_child = (weekly / 7.0 * proportions)[:, None] * same
    weights: npt.NDArray[np.float64] = (
        inflation_factor(first_day, days, inflation)[:, None, None] * per_child[None, :, :]
    )
    return weights


def quarters(first_day: int, days: int) -> tuple[list[str], npt.NDArray[np.intp]]:
    """Calendar-quarter labels and each projected day's quarter index."""
    d = (first_day + np.arange(days)).astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64)
    q = (months // 3).astype(np.int64)  # quarters since 1970
    labels_q, idx = np.unique(q, return_inverse=True)
    labels = [f"{1970 + int(v) // 4}-Q{int(v) % 4 + 1}" for v in labels_q]
    return labels, idx.reshape(-1)


def quarterly(
    population: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    quarter: npt.NDArray[np.intp],
    n_quarters: int,
) -> npt.NDArray[np.float64]:
    """Cost per quarter and item from populations [..., days, states] (rounded as Social Finance does):
    [..., quarters, items]."""
    daily = np.einsum("...ts,tis->...ti", np.round(population), weights, optimize=True)
    one_hot = (np.arange(n_quarters)[:, None] == quarter[None, :]).astype(float)
    per_quarter: npt.NDArray[np.float64] = np.einsum("qt,...ti->...qi", one_hot, daily, optimize=True)
    return per_quarter
