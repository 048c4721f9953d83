"""Generated SEND inputs (made-up children), for tests, benchmarks and demos without real data.

Children are followed January to January: each year some leave, some move setting, the rest stay,
and new children join from the general population, so the four tables agree with each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class SyntheticSpec:
    settings: tuple[str, ...] = ("MMSIB", "MSSIB", "SPIB", "OOB")
    needs: tuple[str, ...] = ("ASD", "SEMH", "SLCN")
    min_ay: int = -1
    max_ay: int = 14
    children: int = 400
    first_year: int = 2015
    transition_years: int = 3
    projection_years: int = 3
    population: int = 3000
    leave_rate: float = 0.12
    move_rate: float = 0.06
    join_rate: float = 0.004
    seed: int = 7


def synthetic_tables(spec: SyntheticSpec = SyntheticSpec()) -> dict[str, str]:
    """CSV text of transitions, population, costs and valid-states (witan.send column names)."""
    rng = np.random.default_rng(spec.seed)
    ays = np.arange(spec.min_ay, spec.max_ay + 1)
    n_set, n_need = len(spec.settings), len(spec.needs)
    # children: (ay, need, setting)
    ay = rng.choice(ays[:-1], spec.children)
    need = rng.integers(0, n_need, spec.children)
    setting = rng.integers(0, n_set, spec.children)
    rows = ["calendar-year,setting-1,need-1,academic-year-1,setting-2,need-2,academic-year-2"]
    for year in range(spec.first_year, spec.first_year + spec.transition_years):
        nxt = ay + 1
        leave = (rng.random(len(ay)) < spec.leave_rate) | (nxt > spec.max_ay)
        move = ~leave & (rng.random(len(ay)) < spec.move_rate)
        new_setting = np.where(move, (setting + rng.integers(1, n_set, len(ay))) % n_set, setting)
        for i in range(len(ay)):
            s1, n1 = spec.settings[setting[i]], spec.needs[need[i]]
            if leave[i]:
                rows.append(f"{year},{s1},{n1},{ay[i]},NONSEND,NONSEND,{nxt[i]}")
            else:
                rows.append(f"{year},{s1},{n1},{ay[i]},{spec.settings[new_setting[i]]},{n1},{nxt[i]}")
        keep = ~leave
        ay, need, setting = nxt[keep], need[keep], new_setting[keep]
        joiners = rng.binomial(spec.population, spec.join_rate, len(ays))
        joiners[0] = 0  # nobody joins below the youngest year's predecessor
        j_ay = np.repeat(ays, joiners)
        j_need = rng.integers(0, n_need, len(j_ay))
        j_set = rng.integers(0, n_set, len(j_ay))
        for a, n, s in zip(j_ay, j_need, j_set, strict=True):
            rows.append(f"{year},NONSEND,NONSEND,{a - 1},{spec.settings[s]},{spec.needs[n]},{a}")
        ay, need, setting = (
            np.concatenate([ay, j_ay]),
            np.concatenate([need, j_need]),
            np.concatenate([setting, j_set]),
        )
    last = spec.first_year + spec.transition_years + spec.projection_years
    population = ["calendar-year,academic-year,population"]
    for year in range(spec.first_year, last + 1):
        for academic_year in range(spec.min_ay - 2, 26):
            population.append(f"{year},{academic_year},{spec.population + 10 * (year - spec.first_year)}")
    costs = ["need,setting,cost"] + [
        f"{n},{s},{1000.0 * (i + 1)}" for i, s in enumerate(spec.settings) for n in spec.needs
    ]
    all_settings = ",".join(spec.settings)
    valid = ["setting,setting-group,min-academic-year,max-academic-year,needs,setting->setting"] + [
        f'{s},group,{spec.min_ay},{spec.max_ay},"{",".join(spec.needs)}","{all_settings}"'
        for s in spec.settings
    ]
    return {
        "transitions": "\n".join(rows) + "\n",
        "population": "\n".join(population) + "\n",
        "costs": "\n".join(costs) + "\n",
        "valid-states": "\n".join(valid) + "\n",
    }


def write_synthetic(directory: str | Path, spec: SyntheticSpec = SyntheticSpec()) -> Path:
    """Write the four CSVs into `directory` (created) and return it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in synthetic_tables(spec).items():
        (out / f"{name}.csv").write_text(text, encoding="utf-8")
    return out


def demo_sized() -> SyntheticSpec:
    """About the size of witan.send's demo: 19 settings, 6 needs, ~2,000 children, 4 years."""
    return SyntheticSpec(
        settings=tuple("ABCDEFGHIJKLMNOPQRS"),
        needs=tuple("TUVWXY"),
        min_ay=-3,
        max_ay=19,
        children=1700,
        first_year=2013,
        transition_years=4,
        projection_years=5,
        population=9000,
        leave_rate=0.2,
        move_rate=0.05,
        join_rate=0.0025,
    )
