"""Scenario checks that need no data (and no numpy: the API runs them before a run starts)."""

from __future__ import annotations

from typing import Any

from witan.modelrun.errors import ModelInputError


def check_adjustment(adj: dict[str, Any], where: str) -> tuple[float | None, float | None]:
    mult, add = adj.get("multiply"), adj.get("add")
    if (mult is None) == (add is None):
        raise ModelInputError(
            "scenario", f"{where}: give exactly one of multiply or add", column=where, code="bad-adjustment"
        )
    if mult is not None and mult < 0:
        raise ModelInputError("scenario", f"{where}: a negative factor", column=where, code="bad-adjustment")
    if add is not None and add > 1:
        raise ModelInputError(
            "scenario", f"{where}: an added rate above 1", column=where, code="bad-adjustment"
        )
    return mult, add


def validate(scenarios: list[dict[str, Any]]) -> None:
    """Checks needing no data: names unique and not 'baseline', every adjustment well formed."""
    from witan.modelrun.definition import BASELINE

    seen: set[str] = set()
    for s in scenarios:
        name = s["name"]
        if name == BASELINE or name in seen:
            raise ModelInputError(
                "scenario", f"scenario name {name!r} is taken", column="name", code="bad-scenario"
            )
        seen.add(name)
        for i, change in enumerate(s.get("rates", [])):
            check_adjustment(change, f"rates[{i}]")
        for i, change in enumerate(s.get("entrants", [])):
            check_adjustment(change, f"entrants[{i}]")
