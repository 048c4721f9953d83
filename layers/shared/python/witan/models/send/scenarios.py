"""Scenarios: policy options compared with the baseline.

A scenario is JSON (one object, or a list of them in one file):

    {
      "name": "close-C",                        # required; letters, digits, '-', '_'; not "baseline"
      "description": "Close provision C from 2019",
      "modify_transitions": [                   # scale matching historic transitions by a factor
        {"match": {"setting": "A", "to_setting": "B", "academic_year": [5, 6]},
         "factor": 1.5, "from_year": 2019, "until_year": 2021}
      ],
      "invalid_settings": ["C"],                # everyone in C leaves; nobody joins or moves in
      "filter_transitions": [                   # drop historic rows matching ALL of an entry's tests
        {"calendar_year": {"lt": 2015}}
      ]
    }

`match` / filter fields: calendar_year, academic_year (year 1), to_academic_year, need, setting,
to_need, to_setting, state (NEED-SETTING, year 1), to_state, and kind (joiner, leaver, mover, stayer).
A value is a scalar (equals), a list (one of), or {"eq"|"ne"|"lt"|"le"|"gt"|"ge"|"in": value}.
`from_year`/`until_year` are projected calendar years (inclusive) in which the modified parameters are
used; other years use the baseline's. Joiner *rates* always come from the unmodified data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from witan.modelrun.definition import SCENARIO_NAME_PATTERN
from witan.models.send.definition import MATCH_FIELDS
from witan.models.send.fit import SendParameters, fit
from witan.models.send.inputs import NONSEND, ModelInputError, SendInputs, Transitions, years_text

BASELINE = "baseline"
_NAME = re.compile(SCENARIO_NAME_PATTERN)
_FIELDS = set(MATCH_FIELDS)
_OPS: dict[str, Callable[[npt.NDArray[np.generic], Any], npt.NDArray[np.bool_]]] = {
    "eq": lambda c, v: c == v,
    "ne": lambda c, v: c != v,
    "lt": lambda c, v: c < v,
    "le": lambda c, v: c <= v,
    "gt": lambda c, v: c > v,
    "ge": lambda c, v: c >= v,
    "in": lambda c, v: np.isin(c, list(v)),
}


@dataclass(frozen=True)
class Modification:
    match: dict[str, Any]
    factor: float
    from_year: int | None = None
    until_year: int | None = None

    def applies_in(self, year: int) -> bool:
        """Whether `year` is in the modification's from_year..until_year window (inclusive, open ends)."""
        return (self.from_year is None or year >= self.from_year) and (
            self.until_year is None or year <= self.until_year
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    modify_transitions: tuple[Modification, ...] = ()
    invalid_settings: tuple[str, ...] = ()
    filter_transitions: tuple[dict[str, Any], ...] = ()
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return self.source or {"name": self.name}


def _fail(file: str, message: str, column: str | None = None) -> ModelInputError:
    return ModelInputError(file, message, column=column, code="invalid-scenario")


def _check_predicates(file: str, where: str, pred: Any) -> dict[str, Any]:
    if not isinstance(pred, dict) or not pred:
        raise _fail(file, f"{where} must be a non-empty object of field tests")
    for key, test in pred.items():
        if key not in _FIELDS:
            raise _fail(file, f"{where}: unknown field {key!r} (known: {', '.join(sorted(_FIELDS))})", key)
        if isinstance(test, dict):
            bad = [op for op in test if op not in _OPS]
            if bad or not test:
                raise _fail(file, f"{where}: unknown test {bad or test!r} on {key!r}", key)
    return pred


def parse_scenario(data: Any, file: str = "scenario") -> Scenario:
    if not isinstance(data, dict):
        raise _fail(file, "a scenario must be a JSON object")
    unknown = set(data) - {
        "name",
        "description",
        "modify_transitions",
        "invalid_settings",
        "filter_transitions",
    }
    if unknown:
        raise _fail(file, f"unknown key(s) {', '.join(sorted(unknown))}", sorted(unknown)[0])
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or name == BASELINE:
        raise _fail(
            file, f"name {name!r} must be 1-64 letters, digits, '-' or '_' and not 'baseline'", "name"
        )
    mods = []
    for i, m in enumerate(data.get("modify_transitions") or []):
        where = f"modify_transitions[{i}]"
        if not isinstance(m, dict):
            raise _fail(file, f"{where} must be an object")
        factor = m.get("factor")
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor < 0:
            raise _fail(file, f"{where}: factor must be a non-negative number", "factor")
        for k in ("from_year", "until_year"):
            if m.get(k) is not None and (isinstance(m[k], bool) or not isinstance(m[k], int)):
                raise _fail(file, f"{where}: {k} must be a calendar year", k)
        lo, hi = m.get("from_year"), m.get("until_year")
        if lo is not None and hi is not None and lo > hi:
            raise _fail(
                file, f"{where}: from_year {lo} is after until_year {hi}: it applies in no year", "from_year"
            )
        mods.append(
            Modification(
                _check_predicates(file, where, m.get("match")),
                float(factor),
                m.get("from_year"),
                m.get("until_year"),
            )
        )
    invalid = data.get("invalid_settings") or []
    if not isinstance(invalid, list) or not all(isinstance(s, str) for s in invalid):
        raise _fail(file, "invalid_settings must be a list of setting names", "invalid_settings")
    filters = [
        _check_predicates(file, f"filter_transitions[{i}]", f)
        for i, f in enumerate(data.get("filter_transitions") or [])
    ]
    return Scenario(name, str(data.get("description", "")), tuple(mods), tuple(invalid), tuple(filters), data)


def parse_scenarios(data: Any, file: str = "scenario") -> list[Scenario]:
    items = data if isinstance(data, list) else [data]
    return [parse_scenario(d, file) for d in items]


def load_scenario_file(path: str) -> list[Scenario]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ModelInputError(
            path, f"is not valid JSON ({exc.msg})", row=exc.lineno, code="invalid-json"
        ) from None
    return parse_scenarios(data, path)


def _column(t: Transitions, key: str) -> npt.NDArray[np.generic]:
    if key == "calendar_year":
        return t.calendar_year
    if key == "academic_year":
        return t.ay1
    if key == "to_academic_year":
        return t.ay2
    if key in ("need", "setting", "to_need", "to_setting"):
        return {"need": t.need1, "setting": t.setting1, "to_need": t.need2, "to_setting": t.setting2}[key]
    if key in ("state", "to_state"):
        n, s = (t.need1, t.setting1) if key == "state" else (t.need2, t.setting2)
        return np.array(
            [NONSEND if b == NONSEND else f"{a}-{b}" for a, b in zip(n, s, strict=True)], dtype=object
        )
    kind = np.full(len(t), "stayer", dtype=object)
    kind[t.setting1 != t.setting2] = "mover"
    kind[t.setting2 == NONSEND] = "leaver"
    kind[t.setting1 == NONSEND] = "joiner"
    return kind


def matches(t: Transitions, pred: dict[str, Any]) -> npt.NDArray[np.bool_]:
    mask = np.ones(len(t), dtype=bool)
    for key, test in pred.items():
        col = _column(t, key)
        if isinstance(test, dict):
            for op, value in test.items():
                mask &= _OPS[op](col, value)
        elif isinstance(test, list):
            mask &= np.isin(col, test)
        else:
            mask &= col == test
    return mask


class ScenarioOutsideProjection(ModelInputError):
    """A scenario's year window misses every projected year: it would change nothing, silently."""

    def __init__(self, scenario: str, where: str, window: tuple[int | None, int | None], years: list[int]):
        self.scenario, self.where, self.window, self.years = scenario, where, window, list(years)
        lo, hi = window
        span = (
            f"{lo}..{hi}"
            if lo is not None and hi is not None
            else f"from {lo}"
            if lo is not None
            else f"until {hi}"
        )
        super().__init__(
            f"scenario {scenario}",
            f"{where} applies in calendar years {span}, but the run projects {years_text(years)}: it "
            "would change nothing. Move its from_year/until_year into the projected years, or project "
            "more years",
            column="from_year" if lo is not None and (not years or lo > years[-1]) else "until_year",
            code="scenario-outside-projection",
        )

    def to_dict(self) -> dict[str, object]:
        return {
            **super().to_dict(),
            "scenario": self.scenario,
            "modification": self.where,
            "from_year": self.window[0],
            "until_year": self.window[1],
            "projected_years": self.years,
        }


def check_windows(scenarios: list[Scenario], years: list[int]) -> None:
    """Refuse a modification whose from_year/until_year window holds none of the projected years.

    A window that overlaps the projection only in part is fine: the years outside it use the baseline's
    parameters, as documented. One holding no projected year would make the scenario equal to the
    baseline with nothing saying so.
    """
    for scenario in scenarios:
        for i, m in enumerate(scenario.modify_transitions):
            if not any(m.applies_in(y) for y in years):
                window = (m.from_year, m.until_year)
                raise ScenarioOutsideProjection(scenario.name, f"modify_transitions[{i}]", window, years)


@dataclass
class PreparedScenario:
    """Parameter sets of a scenario and which one each projected year uses."""

    name: str
    param_sets: dict[str, SendParameters]
    year_phase: list[str]


def prepare(inputs: SendInputs, scenario: Scenario | None, years: list[int]) -> PreparedScenario:
    """Fit the parameter sets for a scenario (None: the baseline)."""
    if scenario is None:
        return PreparedScenario(BASELINE, {"base": fit(inputs)}, ["base"] * len(years))
    unknown = [s for s in scenario.invalid_settings if s not in inputs.settings]
    if unknown:
        raise _fail(
            scenario.name,
            f"invalid_settings names unknown setting(s) {', '.join(unknown)}",
            "invalid_settings",
        )
    t = inputs.transitions
    for pred in scenario.filter_transitions:
        t = t.select(~matches(t, pred))
    if len(t) == 0:
        raise _fail(scenario.name, "filter_transitions removed every transition", "filter_transitions")
    closed = scenario.invalid_settings
    base = fit(inputs, t, closed)
    phases = ["base"] * len(years)
    sets = {"base": base}
    if scenario.modify_transitions:
        # Modifications with the same year window share a parameter set.
        windows: dict[tuple[int | None, int | None], list[Modification]] = {}
        for m in scenario.modify_transitions:
            windows.setdefault((m.from_year, m.until_year), []).append(m)
        for w, mods in enumerate(windows.values()):
            weight = t.weight.copy()
            for m in mods:
                weight[matches(t, m.match)] *= m.factor
            key = f"modified{w}"
            sets[key] = fit(inputs, t.with_weight(weight), closed)
            for i, y in enumerate(years):
                if mods[0].applies_in(y):  # every modification in `mods` has this window
                    phases[i] = key
    return PreparedScenario(scenario.name, sets, phases)
