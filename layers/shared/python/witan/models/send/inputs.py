"""Reading and checking the SEND model's four input tables (witan.send column names, CSV or Parquet).

Every problem that makes a run meaningless raises `ModelInputError` naming the file, the data row
(1-based, header excluded) and the column. Problems witan.send only warned about become
`InputWarning`s carried on the result, so a run can go on and still report them.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from witan.modelrun.errors import InputWarning
from witan.modelrun.errors import ModelInputError as ModelInputError  # re-exported: the readers' error

NONSEND = "NONSEND"
MAX_ACADEMIC_YEAR = 20  # anyone reaching academic year 21 leaves

TABLES: dict[str, tuple[str, ...]] = {
    "transitions": (
        "calendar-year",
        "setting-1",
        "need-1",
        "academic-year-1",
        "setting-2",
        "need-2",
        "academic-year-2",
    ),
    "population": ("calendar-year", "academic-year", "population"),
    "costs": ("need", "setting", "cost"),
    "valid-states": (
        "setting",
        "setting-group",
        "min-academic-year",
        "max-academic-year",
        "needs",
        "setting->setting",
    ),
}


@dataclass(frozen=True)
class ValidSetting:
    setting: str
    group: str
    min_ay: int
    max_ay: int
    needs: tuple[str, ...]
    moves_to: tuple[str, ...]


@dataclass
class Transitions:
    """Columnar transitions; `weight` is 1 per row unless a scenario scaled matching rows."""

    calendar_year: npt.NDArray[np.int64]
    setting1: npt.NDArray[np.object_]
    need1: npt.NDArray[np.object_]
    ay1: npt.NDArray[np.int64]
    setting2: npt.NDArray[np.object_]
    need2: npt.NDArray[np.object_]
    ay2: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.calendar_year)

    def select(self, mask: npt.NDArray[np.bool_]) -> Transitions:
        return Transitions(**{f: getattr(self, f)[mask] for f in _TRANSITION_FIELDS})

    def with_weight(self, weight: npt.NDArray[np.float64]) -> Transitions:
        return replace(self, weight=weight)


_TRANSITION_FIELDS = ("calendar_year", "setting1", "need1", "ay1", "setting2", "need2", "ay2", "weight")


@dataclass
class SendInputs:
    transitions: Transitions
    population: dict[tuple[int, int], int]
    costs: dict[tuple[str, str], float]
    valid_states: tuple[ValidSetting, ...]
    hashes: dict[str, str] = field(default_factory=dict)
    warnings: list[InputWarning] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # table -> file name, for error messages

    def file(self, table: str) -> str:
        return self.files.get(table, table)

    @property
    def settings(self) -> tuple[str, ...]:
        return tuple(v.setting for v in self.valid_states)

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(sorted({n for v in self.valid_states for n in v.needs}))

    @property
    def seed_year(self) -> int:
        return int(self.transitions.calendar_year.max()) + 1

    def population_years_after_seed(self) -> list[int]:
        return sorted({cy for cy, _ in self.population if cy > self.seed_year})

    def projection_years(self, count: int | None = None) -> list[int]:
        """Calendar years to project. Default: every population year after the seed year. With `count`,
        the `count` years straight after the seed year, each of which needs population rows (joiners
        into year y are drawn from year y's general population, so no year can be projected without
        it); the error names every missing year.

        The default projects year by year up to the last population year, so a year missing in between
        (a gap) is a missing year of the projection too: refused with the same code, naming the gap and
        how many years could be projected instead. Skipping it would age everyone one year per step
        while labelling the step two calendar years on."""
        available = self.population_years_after_seed()
        present = set(available)
        if count is None:
            last = available[-1] if available else self.seed_year
            gap = [y for y in range(self.seed_year + 1, last) if y not in present]
            if gap:
                straight = gap[0] - self.seed_year - 1  # years before the first missing one
                instead = (
                    f"or project {straight} year(s) (projection_years / --years {straight})"
                    if straight
                    else "as no year straight after the seed year has population, nothing can be projected"
                )
                raise ModelInputError(
                    self.file("population"),
                    f"population years after the seed year {self.seed_year} have a gap: missing "
                    f"{years_text(gap)} (present: {years_text(available)}); every year up to "
                    f"{available[-1]} is projected and each needs population. Add the missing year(s), "
                    f"{instead}",
                    column="calendar-year",
                    code="missing-population",
                )
            return available
        wanted = list(range(self.seed_year + 1, self.seed_year + 1 + count))
        missing = [y for y in wanted if y not in present]
        if missing:
            raise ModelInputError(
                self.file("population"),
                f"projecting {count} year(s) after the seed year {self.seed_year} needs population for "
                f"calendar years {years_text(wanted)}; missing: {years_text(missing)} "
                f"(population years after the seed year: {years_text(available) or 'none'})",
                column="calendar-year",
                code="missing-population",
            )
        return wanted


def years_text(years: list[int]) -> str:
    """Sorted years as runs: [2019, 2021, 2022, 2023] -> "2019, 2021..2023"."""
    runs: list[list[int]] = []
    for y in years:
        if runs and y == runs[-1][1] + 1:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs)


def _read_table(name: str, file_name: str, data: bytes) -> dict[str, list[str | None]]:
    """Read CSV or Parquet bytes into columns of strings (None for empty), header names normalised."""
    try:
        if file_name.endswith(".parquet"):
            table = pq.read_table(io.BytesIO(data))
            table = pa.table({c: table[c].cast(pa.string()) for c in table.column_names})
        else:
            probe = pacsv.read_csv(io.BytesIO(data), read_options=pacsv.ReadOptions(block_size=1 << 24))
            types = dict.fromkeys(probe.column_names, pa.string())
            table = pacsv.read_csv(io.BytesIO(data), convert_options=pacsv.ConvertOptions(column_types=types))
    except (pa.ArrowInvalid, OSError) as exc:
        raise ModelInputError(file_name, f"cannot be read as {name} ({exc})", code="unreadable") from exc
    columns = {c.strip().lower().replace("_", "-"): table[c].to_pylist() for c in table.column_names}
    # `setting->setting` is awkward to type; accept `setting-setting`/`setting_setting` too.
    if "setting-setting" in columns and "setting->setting" not in columns:
        columns["setting->setting"] = columns.pop("setting-setting")
    missing = [c for c in TABLES[name] if c not in columns]
    if missing:
        raise ModelInputError(
            file_name, f"missing column(s) {', '.join(missing)}", column=missing[0], code="missing-column"
        )
    return columns


def _ints(file: str, column: str, values: list[str | None]) -> npt.NDArray[np.int64]:
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        try:
            f = float(str(v).strip())
            if f != int(f):
                raise ValueError
            out[i] = int(f)
        except (TypeError, ValueError):
            raise ModelInputError(
                file, f"{v!r} is not a whole number", row=i + 1, column=column, code="not-an-integer"
            ) from None
    return out


def _texts(file: str, column: str, values: list[str | None]) -> npt.NDArray[np.object_]:
    texts = []
    for i, v in enumerate(values):
        if v is None or not v.strip():
            raise ModelInputError(file, "empty value", row=i + 1, column=column, code="missing-value")
        texts.append(v.strip())
    return np.array(texts, dtype=object)


def _split(v: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in v.split(",") if p.strip())


def parse_valid_states(file: str, cols: dict[str, list[str | None]]) -> tuple[ValidSetting, ...]:
    settings = _texts(file, "setting", cols["setting"])
    groups = [g or "" for g in cols["setting-group"]]
    lo = _ints(file, "min-academic-year", cols["min-academic-year"])
    hi = _ints(file, "max-academic-year", cols["max-academic-year"])
    needs = _texts(file, "needs", cols["needs"])
    moves = cols["setting->setting"]
    out: list[ValidSetting] = []
    seen: set[str] = set()
    for i, s in enumerate(settings):
        row = i + 1
        if s == NONSEND or s in seen:
            raise ModelInputError(
                file,
                f"setting {s!r} is reserved or repeated",
                row=row,
                column="setting",
                code="duplicate-setting",
            )
        seen.add(s)
        if lo[i] > hi[i] or hi[i] > MAX_ACADEMIC_YEAR:
            raise ModelInputError(
                file,
                f"academic years {lo[i]}..{hi[i]} are not a range within ..20",
                row=row,
                column="max-academic-year",
                code="bad-range",
            )
        out.append(
            ValidSetting(s, groups[i], int(lo[i]), int(hi[i]), _split(needs[i]), _split(moves[i] or ""))
        )
    for i, v in enumerate(out):
        unknown = [m for m in v.moves_to if m not in seen]
        if unknown:
            raise ModelInputError(
                file,
                f"unknown setting(s) {', '.join(unknown)}",
                row=i + 1,
                column="setting->setting",
                code="unknown-setting",
            )
    return tuple(out)


def _check_state(
    file: str, row: int, side: str, setting: str, need: str, ay: int, valid: dict[str, ValidSetting]
) -> None:
    v = valid.get(setting)
    if v is None:
        raise ModelInputError(
            file,
            f"setting {setting!r} is not in valid-states",
            row=row,
            column=f"setting-{side}",
            code="invalid-state",
        )
    if need not in v.needs:
        raise ModelInputError(
            file,
            f"need {need!r} is not valid in setting {setting!r}",
            row=row,
            column=f"need-{side}",
            code="invalid-state",
        )
    if not v.min_ay <= ay <= v.max_ay:
        raise ModelInputError(
            file,
            f"academic year {ay} is outside setting {setting}'s range {v.min_ay}..{v.max_ay}",
            row=row,
            column=f"academic-year-{side}",
            code="invalid-state",
        )


def parse_transitions(
    file: str,
    cols: dict[str, list[str | None]],
    valid: tuple[ValidSetting, ...],
    warnings: list[InputWarning],
) -> Transitions:
    cy = _ints(file, "calendar-year", cols["calendar-year"])
    if len(cy) == 0:
        raise ModelInputError(file, "no transitions", code="empty")
    s1, n1 = _texts(file, "setting-1", cols["setting-1"]), _texts(file, "need-1", cols["need-1"])
    s2, n2 = _texts(file, "setting-2", cols["setting-2"]), _texts(file, "need-2", cols["need-2"])
    a1 = _ints(file, "academic-year-1", cols["academic-year-1"])
    a2 = _ints(file, "academic-year-2", cols["academic-year-2"])
    by_name = {v.setting: v for v in valid}
    for i in range(len(cy)):
        row = i + 1
        for side, s, n in (("1", s1[i], n1[i]), ("2", s2[i], n2[i])):
            if (s == NONSEND) != (n == NONSEND):
                raise ModelInputError(
                    file,
                    "need and setting must both be NONSEND or both not",
                    row=row,
                    column=f"need-{side}",
                    code="nonsend-mismatch",
                )
        if s1[i] == NONSEND and s2[i] == NONSEND:
            raise ModelInputError(
                file, "row is NONSEND on both sides", row=row, column="setting-2", code="not-send"
            )
        if s1[i] != NONSEND:
            _check_state(file, row, "1", s1[i], n1[i], int(a1[i]), by_name)
        if s2[i] != NONSEND:
            _check_state(file, row, "2", s2[i], n2[i], int(a2[i]), by_name)
        if a2[i] != a1[i] + 1:
            warnings.append(
                InputWarning(
                    "academic-year-step",
                    file,
                    f"academic-year-2 {a2[i]} is not academic-year-1 {a1[i]} + 1",
                    row,
                )
            )
    for year in sorted(set(cy.tolist())):
        in_year = cy == year
        if not np.any(in_year & (s1 == NONSEND)):
            warnings.append(InputWarning("no-joiners", file, f"calendar year {year} has no joiners"))
        if not np.any(in_year & (s2 == NONSEND)):
            warnings.append(InputWarning("no-leavers", file, f"calendar year {year} has no leavers"))
    return Transitions(cy, s1, n1, a1, s2, n2, a2, np.ones(len(cy)))


def parse_population(file: str, cols: dict[str, list[str | None]]) -> dict[tuple[int, int], int]:
    cy = _ints(file, "calendar-year", cols["calendar-year"])
    ay = _ints(file, "academic-year", cols["academic-year"])
    pop = _ints(file, "population", cols["population"])
    out: dict[tuple[int, int], int] = {}
    for i in range(len(cy)):
        if pop[i] < 0:
            raise ModelInputError(
                file,
                f"population {pop[i]} is negative",
                row=i + 1,
                column="population",
                code="negative-count",
            )
        key = (int(cy[i]), int(ay[i]))
        if key in out:
            raise ModelInputError(
                file,
                f"calendar year {key[0]}, academic year {key[1]} appears twice",
                row=i + 1,
                column="academic-year",
                code="duplicate-row",
            )
        out[key] = int(pop[i])
    return out


def parse_costs(file: str, cols: dict[str, list[str | None]]) -> dict[tuple[str, str], float]:
    needs, settings = _texts(file, "need", cols["need"]), _texts(file, "setting", cols["setting"])
    out: dict[tuple[str, str], float] = {}
    for i, raw in enumerate(cols["cost"]):
        try:
            cost = float(str(raw).strip())
        except (TypeError, ValueError):
            raise ModelInputError(
                file, f"{raw!r} is not a number", row=i + 1, column="cost", code="not-a-number"
            ) from None
        if not np.isfinite(cost) or cost < 0:
            raise ModelInputError(
                file,
                f"cost {raw} must be a non-negative number",
                row=i + 1,
                column="cost",
                code="negative-cost",
            )
        out[(needs[i], settings[i])] = cost
    return out


def check_population(inputs: SendInputs, years: list[int], academic_years: list[int], why: str) -> None:
    """Raise naming the first (year, academic year) the model needs but the population file lacks."""
    for cy in years:
        for ay in academic_years:
            if (cy, ay) not in inputs.population:
                raise ModelInputError(
                    inputs.file("population"),
                    f"no population for calendar year {cy}, academic year {ay} (needed for {why})",
                    column="population",
                    code="missing-population",
                )


def load_inputs(files: Mapping[str, tuple[str, bytes]]) -> SendInputs:
    """Parse the four tables from {table name: (file name, bytes)} and check them against each other."""
    missing = [t for t in TABLES if t not in files]
    if missing:
        raise ModelInputError(missing[0], "input table not given", code="missing-table")
    cols = {t: _read_table(t, files[t][0], files[t][1]) for t in TABLES}
    names = {t: files[t][0] for t in TABLES}
    warnings: list[InputWarning] = []
    valid = parse_valid_states(names["valid-states"], cols["valid-states"])
    transitions = parse_transitions(names["transitions"], cols["transitions"], valid, warnings)
    population = parse_population(names["population"], cols["population"])
    costs = parse_costs(names["costs"], cols["costs"])
    for v in valid:
        absent = [n for n in v.needs if (n, v.setting) not in costs]
        if absent:
            warnings.append(
                InputWarning(
                    "missing-cost",
                    names["costs"],
                    f"no cost for setting {v.setting} with need(s) {', '.join(absent)}; costed at 0",
                )
            )
    hashes = {t: hashlib.sha256(files[t][1]).hexdigest() for t in TABLES}
    inputs = SendInputs(transitions, population, costs, valid, hashes, warnings, names)
    if not inputs.population_years_after_seed():
        raise ModelInputError(
            names["population"],
            f"no population years after the seed year {inputs.seed_year} to project",
            column="calendar-year",
            code="missing-population",
        )
    return inputs


def find_input_files(directory: Path) -> dict[str, Path]:
    """Map table names to `name.csv` or `name.parquet` (underscores allowed) inside `directory`."""
    if not directory.is_dir():
        raise ModelInputError(str(directory), "is not a directory", code="missing-table")
    found: dict[str, Path] = {}
    for table in TABLES:
        for stem in (table, table.replace("-", "_")):
            for ext in (".csv", ".parquet"):
                if (directory / f"{stem}{ext}").is_file():
                    found.setdefault(table, directory / f"{stem}{ext}")
        if table not in found:
            raise ModelInputError(
                str(directory / f"{table}.csv"), "input file not found", code="missing-table"
            )
    return found


def read_inputs_dir(directory: str | Path) -> SendInputs:
    paths = find_input_files(Path(directory))
    return load_inputs({t: (p.name, p.read_bytes()) for t, p in paths.items()})
