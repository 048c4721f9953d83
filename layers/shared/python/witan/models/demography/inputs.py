"""Reading and checking the demography model's ten input tables (CSV or Parquet), by role.

Headers are matched after lower-casing and turning `.`, space and `-` into `_`, so witan's R files
(`GSS.Code,Sex,Age,Year,Popn`) read as gss_code, sex, age, year and one value column. The eight
per-council tables become dense arrays [council, year, sex, age] over one shared council list and one
contiguous year axis; the two national trend tables become arrays by scenario column.

Every problem raises `ModelInputError` naming the file, the 1-based data row and the column.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from witan.modelrun.errors import ModelInputError

SEXES = ("F", "M")
MAX_AGE = 90  # 90 means 90 and over
AGES = MAX_AGE + 1

# role -> value column name used in our outputs and schemas
COUNCIL_ROLES: dict[str, str] = {
    "population": "population",
    "births": "births",
    "births_by_age_of_mother": "births",
    "deaths": "deaths",
    "domestic_in": "domestic_in",
    "domestic_out": "domestic_out",
    "international_in": "international_in",
    "international_out": "international_out",
}
FERTILITY_SCENARIOS = ("principal", "low", "high", "principal_2012", "low_2012", "high_2012")
MORTALITY_SCENARIOS = ("principal", "low", "high")
TREND_COLUMNS: dict[str, tuple[str, ...]] = {
    "fertility_trend": ("age", "year", *FERTILITY_SCENARIOS),
    "mortality_trend": ("sex", "age", "year", *MORTALITY_SCENARIOS),
}
ROLES: tuple[str, ...] = (*COUNCIL_ROLES, *TREND_COLUMNS)
# The R reference's Bristol domestic files list every row twice; its averages are row means, so
# duplicate rows are kept (and counted) there rather than refused.
DUPLICATES_ALLOWED = frozenset({"domestic_in", "domestic_out"})
KEYS = ("gss_code", "sex", "age", "year")
_TRANS = str.maketrans({".": "_", " ": "_", "-": "_"})


def normalise_header(label: str) -> str:
    """`GSS.Code` -> gss_code, `Principal.2012` -> principal_2012."""
    return label.strip().lower().translate(_TRANS)


@dataclass
class CouncilTable:
    """One per-council input as dense arrays over the run's councils and the file's years.

    values: [council, year, sex, age] sums of the rows' values; rows: the same shape, how many rows
    each cell had (0 = absent; 2 in the duplicated domestic files); present: [council, year] whether
    the council has any row that year."""

    file: str
    years: npt.NDArray[np.int64]  # contiguous year labels for axis 1
    values: npt.NDArray[np.float64]
    rows: npt.NDArray[np.int64]
    present: npt.NDArray[np.bool_]

    def year_index(self, year: int) -> int:
        return int(year - self.years[0])

    def has_year(self, year: int) -> bool:
        return bool(self.years.size) and int(self.years[0]) <= year <= int(self.years[-1])

    def at(self, year: int) -> npt.NDArray[np.float64]:
        """[council, sex, age] values of one year (the caller has checked every council has it)."""
        return self.values[:, self.year_index(year)]


@dataclass
class TrendTable:
    """A national trend: values [scenario, sex, age, year] (sex axis of length 1 for fertility),
    present the same shape without the scenario axis. Ages are offset by `age_offset` (the mortality
    file starts at -1)."""

    file: str
    scenarios: tuple[str, ...]
    years: npt.NDArray[np.int64]
    age_offset: int
    values: npt.NDArray[np.float64]
    present: npt.NDArray[np.bool_]

    def column(self, scenario: str) -> npt.NDArray[np.float64]:
        column: npt.NDArray[np.float64] = self.values[self.scenarios.index(scenario)]
        return column


@dataclass
class DemographyInputs:
    """Every input, read and checked; `councils` in sorted order (axis 0 of each CouncilTable)."""

    councils: tuple[str, ...]
    tables: dict[str, CouncilTable]
    fertility_trend: TrendTable | None
    mortality_trend: TrendTable | None
    files: dict[str, str] = field(default_factory=dict)  # role -> file name
    sources: dict[str, bytes] = field(default_factory=dict, repr=False)  # file name -> bytes

    def file(self, role: str) -> str:
        return self.files.get(role, role)

    @property
    def hashes(self) -> dict[str, str]:
        """file name -> sha256 (computed when asked: a run's plan records them)."""
        return {name: hashlib.sha256(data).hexdigest() for name, data in self.sources.items()}


# ---------------------------------------------------------------- reading one file into an Arrow table


def _csv_header(data: bytes) -> list[str]:
    text = data[:65536].decode("utf-8-sig", errors="replace")
    first = text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 1)[0]
    return next(csv.reader([first]), [])


def read_table(name: str, data: bytes, numeric: tuple[str, ...], integer: tuple[str, ...]) -> pa.Table:
    """A file's table with normalised column names; `integer` columns as int64, `numeric` as float64,
    the rest as text. Cells that are not numbers raise ModelInputError naming the first one."""
    if name.lower().endswith(".parquet"):
        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowInvalid, OSError) as exc:
            raise ModelInputError(name, f"not a readable Parquet file: {exc}", code="unreadable") from exc
        table = table.rename_columns([normalise_header(c) for c in table.column_names])
        _check_labels(name, table.column_names)
        return _typed(name, table, numeric, integer)
    header = _csv_header(data)
    labels = [normalise_header(h) for h in header]
    _check_labels(name, labels)
    types: dict[str, pa.DataType] = {}
    for raw, label in zip(header, labels, strict=True):
        types[raw] = (
            pa.int64()
            if label in integer
            else pa.float64()
            if label in numeric
            else pa.dictionary(pa.int32(), pa.string())
        )
    opts = pacsv.ReadOptions(use_threads=False, block_size=1 << 24)
    try:
        table = pacsv.read_csv(
            io.BytesIO(data), read_options=opts, convert_options=pacsv.ConvertOptions(column_types=types)
        )
    except pa.ArrowInvalid:
        # A cell that is not a number: read as text to say which one.
        text_types = {raw: pa.string() for raw in header}
        try:
            table = pacsv.read_csv(
                io.BytesIO(data),
                read_options=opts,
                convert_options=pacsv.ConvertOptions(column_types=text_types),
            )
        except pa.ArrowInvalid as exc:
            raise ModelInputError(name, f"not a readable CSV file: {exc}", code="unreadable") from exc
    table = table.rename_columns(labels)
    return _typed(name, table, numeric, integer)


def _check_labels(name: str, labels: list[str]) -> None:
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            raise ModelInputError(name, "the column appears twice", column=label, code="duplicate-label")
        seen.add(label)


_INT_RE = r"^\s*[-+]?[0-9]+\s*$"
_FLOAT_RE = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"


def _typed(name: str, table: pa.Table, numeric: tuple[str, ...], integer: tuple[str, ...]) -> pa.Table:
    """Cast to the wanted types, naming the first cell that is blank or not a number."""
    columns = []
    for label in table.column_names:
        col = table.column(label)
        want = pa.int64() if label in integer else pa.float64() if label in numeric else None
        if want is None:
            if not (
                pa.types.is_dictionary(col.type)
                or pa.types.is_string(col.type)
                or pa.types.is_large_string(col.type)
            ):
                col = pc.cast(col, pa.string())
            columns.append(col)
            continue
        if col.type != want:
            if (
                pa.types.is_string(col.type)
                or pa.types.is_large_string(col.type)
                or pa.types.is_dictionary(col.type)
            ):
                text = pc.cast(col, pa.string()) if pa.types.is_dictionary(col.type) else col
                ok = pc.match_substring_regex(text, _INT_RE if want == pa.int64() else _FLOAT_RE)
                ok = np.asarray(pc.fill_null(ok, False))
                if not ok.all():
                    row = int(np.flatnonzero(~ok)[0])
                    value = text[row].as_py()
                    what = "a whole number" if want == pa.int64() else "a number"
                    if value is None or not str(value).strip():
                        raise ModelInputError(
                            name, "blank cell", row=row + 1, column=label, code="blank-cell"
                        )
                    raise ModelInputError(
                        name, f"{value!r} is not {what}", row=row + 1, column=label, code="type-error"
                    )
                col = pc.cast(pc.utf8_trim_whitespace(text), want)
            else:
                try:
                    col = pc.cast(col, want)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise ModelInputError(
                        name, f"not {want}: {exc}", column=label, code="type-error"
                    ) from exc
        if col.null_count:
            row = int(np.flatnonzero(np.asarray(pc.is_null(col)))[0])
            raise ModelInputError(name, "blank cell", row=row + 1, column=label, code="blank-cell")
        columns.append(col)
    return pa.table(columns, names=table.column_names)


def _codes(name: str, col: pa.ChunkedArray, column: str) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Integer codes per row and the distinct labels (a text column, dictionary-encoded)."""
    if col.null_count:
        row = int(np.flatnonzero(np.asarray(pc.is_null(col)))[0])
        raise ModelInputError(name, "blank cell", row=row + 1, column=column, code="blank-cell")
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    if isinstance(col, pa.ChunkedArray):
        col = col.unify_dictionaries()
        chunks = col.chunks
    else:
        chunks = [col]
    if not chunks:
        return np.zeros(0, np.int64), []
    labels = [str(v).strip() for v in chunks[0].dictionary.to_pylist()]
    indices = np.concatenate([np.asarray(c.indices.fill_null(0), dtype=np.int64) for c in chunks])
    return indices, labels


def _sex_index(name: str, col: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Each row's sex as an index into SEXES (F, M), refusing the first row with another label."""
    codes, labels = _codes(name, col, "sex")
    bad_sex = [i for i, s in enumerate(labels) if s not in SEXES]
    if bad_sex:
        row = int(np.flatnonzero(np.isin(codes, bad_sex))[0])
        raise ModelInputError(
            name,
            f"sex {labels[codes[row]]!r} is not F or M",
            row=row + 1,
            column="sex",
            code="invalid-sex",
        )
    return np.array([SEXES.index(s) for s in labels], dtype=np.int64)[codes] if labels else codes


# ---------------------------------------------------------------- per-council tables


def _value_column(name: str, labels: list[str]) -> str:
    extra = [c for c in labels if c not in KEYS]
    missing = [k for k in KEYS if k not in labels]
    if missing:
        raise ModelInputError(
            name,
            f"missing column(s) {', '.join(missing)}; expected gss_code, sex, age, year and one value column",
            column=missing[0],
            code="missing-column",
        )
    if len(extra) != 1:
        if not extra:
            raise ModelInputError(
                name, "no value column after gss_code, sex, age, year", code="missing-column"
            )
        raise ModelInputError(
            name,
            f"unknown column {extra[1]!r}: expected gss_code, sex, age, year and one value column "
            f"(found {', '.join(extra)})",
            column=extra[1],
            code="unknown-column",
        )
    return extra[0]


@dataclass
class _Parsed:
    """A per-council file as row arrays, before the shared council list is known."""

    file: str
    role: str
    gss: npt.NDArray[np.int64]  # code per row into `labels`
    labels: list[str]
    sex: npt.NDArray[np.int64]
    age: npt.NDArray[np.int64]
    year: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    value_column: str


def parse_council_file(role: str, name: str, data: bytes) -> _Parsed:
    header = (
        [normalise_header(c) for c in pq.read_schema(io.BytesIO(data)).names]
        if name.lower().endswith(".parquet")
        else [normalise_header(h) for h in _csv_header(data)]
    )
    value_col = _value_column(name, header)
    table = read_table(name, data, numeric=(value_col,), integer=("age", "year"))
    gss, labels = _codes(name, table.column("gss_code"), "gss_code")
    sex = _sex_index(name, table.column("sex"))
    age = np.asarray(table.column("age"), dtype=np.int64)
    bad = (age < 0) | (age > MAX_AGE)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ModelInputError(
            name,
            f"age {age[row]} is outside 0..{MAX_AGE} (90 means 90 and over)",
            row=row + 1,
            column="age",
            code="invalid-age",
        )
    year = np.asarray(table.column("year"), dtype=np.int64)
    value = np.asarray(table.column(value_col), dtype=np.float64)
    bad = ~np.isfinite(value) | (value < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ModelInputError(
            name,
            f"{value[row]!r} is not a count (negative or not finite)",
            row=row + 1,
            column=value_col,
            code="negative-count",
        )
    if role == "births":
        bad = age != 0
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ModelInputError(
                name, "births are newborns: age must be 0", row=row + 1, column="age", code="invalid-age"
            )
    return _Parsed(name, role, gss, labels, sex, age, year, value, value_col)


def _dense(p: _Parsed, councils: tuple[str, ...]) -> CouncilTable:
    index = {c: i for i, c in enumerate(councils)}
    council = np.array([index[c] for c in p.labels], dtype=np.int64)[p.gss] if p.labels else p.gss
    n = len(councils)
    if p.year.size:
        y0, y1 = int(p.year.min()), int(p.year.max())
    else:
        raise ModelInputError(p.file, "the file has no data rows", code="empty-file")
    years = np.arange(y0, y1 + 1)
    ny = years.size
    flat = ((council * ny + (p.year - y0)) * 2 + p.sex) * AGES + p.age
    size = n * ny * 2 * AGES
    rows = np.bincount(flat, minlength=size)
    if p.role not in DUPLICATES_ALLOWED and (rows > 1).any():
        _, first = np.unique(flat, return_index=True)
        later = np.ones(flat.size, bool)
        later[first] = False
        row = int(np.flatnonzero(later)[0])
        raise ModelInputError(
            p.file,
            f"duplicate row for {p.labels[p.gss[row]]}, {SEXES[p.sex[row]]}, age {p.age[row]}, "
            f"year {p.year[row]}",
            row=row + 1,
            column="gss_code",
            code="duplicate-key",
        )
    # (numpy's stubs type a weighted bincount as integers; it is float64: asarray only retypes it)
    values = np.asarray(np.bincount(flat, weights=p.value, minlength=size), dtype=np.float64)
    values = values.reshape(n, ny, 2, AGES)
    rows = rows.reshape(n, ny, 2, AGES)
    present = np.asarray(rows.any(axis=(2, 3)), dtype=np.bool_)
    # Every (sex, age) a council-year needs: all 182 cells, births both sexes at age 0; births by age
    # of mother list only the ages with births (absent = none).
    if p.role == "births":
        need = np.zeros((2, AGES), bool)
        need[:, 0] = True
    elif p.role == "births_by_age_of_mother":
        need = np.zeros((2, AGES), bool)
    else:
        need = np.ones((2, AGES), bool)
    gap = present[:, :, None, None] & need & (rows == 0)
    if gap.any():
        c, y, s, a = (int(v[0]) for v in np.nonzero(gap))
        raise ModelInputError(
            p.file,
            f"no row for {councils[c]}, {SEXES[s]}, age {a}, year {years[y]} (the council has other "
            "rows that year; every sex and age 0..90 is needed)",
            column="age",
            code="missing-rows",
        )
    return CouncilTable(p.file, years, values, rows, present)


# ---------------------------------------------------------------- trend tables


def parse_trend_file(role: str, name: str, data: bytes) -> TrendTable:
    wanted = TREND_COLUMNS[role]
    scenarios = FERTILITY_SCENARIOS if role == "fertility_trend" else MORTALITY_SCENARIOS
    table = read_table(name, data, numeric=scenarios, integer=("age", "year"))
    labels = table.column_names
    for label in labels:
        if label not in wanted:
            raise ModelInputError(
                name,
                f"unknown column {label!r}; expected {', '.join(wanted)}",
                column=label,
                code="unknown-column",
            )
    for label in wanted:
        if label not in labels:
            raise ModelInputError(name, f"missing column {label!r}", column=label, code="missing-column")
    age = np.asarray(table.column("age"), dtype=np.int64)
    year = np.asarray(table.column("year"), dtype=np.int64)
    if not year.size:
        raise ModelInputError(name, "the file has no data rows", code="empty-file")
    if role == "mortality_trend":
        sex = _sex_index(name, table.column("sex"))
        nsex, offset = 2, -1  # ONS age -1 (births in the year) .. 89 feed model ages 0..90
    else:
        sex, nsex, offset = np.zeros(age.size, np.int64), 1, 0
    vals = np.stack([np.asarray(table.column(s), dtype=np.float64) for s in scenarios])
    bad = ~np.isfinite(vals) | (vals < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=0))[0])
        j = int(np.flatnonzero(bad[:, row])[0])
        raise ModelInputError(
            name,
            "rates must be finite and not negative",
            row=row + 1,
            column=scenarios[j],
            code="negative-count",
        )
    keep = (age - offset >= 0) & (age - offset < AGES)  # ages the model uses; the rest are ignored
    y0, y1 = int(year.min()), int(year.max())
    ny = y1 - y0 + 1
    flat = ((sex * AGES + (age - offset)) * ny + (year - y0))[keep]
    size = nsex * AGES * ny
    counts = np.bincount(flat, minlength=size)
    if (counts > 1).any():
        kept_rows = np.flatnonzero(keep)
        _, first = np.unique(flat, return_index=True)
        later = np.ones(flat.size, bool)
        later[first] = False
        row = int(kept_rows[np.flatnonzero(later)[0]])
        raise ModelInputError(
            name,
            f"duplicate row for age {age[row]}, year {year[row]}",
            row=row + 1,
            column="age",
            code="duplicate-key",
        )
    values = np.zeros((len(scenarios), size))
    for j in range(len(scenarios)):
        values[j] = np.bincount(flat, weights=vals[j][keep], minlength=size)
    return TrendTable(
        name,
        scenarios,
        np.arange(y0, y1 + 1),
        offset,
        values.reshape(len(scenarios), nsex, AGES, ny),
        (counts > 0).reshape(nsex, AGES, ny),
    )


# ---------------------------------------------------------------- the whole set


def read_inputs(files: Mapping[str, tuple[str, bytes]]) -> DemographyInputs:
    """Inputs from {role: (file name, bytes)}. Trend roles may be absent (checked when a variant needs
    them); every per-council role is required and every council must be in every per-council file."""
    for role in files:
        if role not in ROLES:
            raise ModelInputError(
                role, f"unknown input role {role!r}; roles: {', '.join(ROLES)}", code="unknown-input"
            )
    for role in COUNCIL_ROLES:
        if role not in files:
            raise ModelInputError(f"{role}.csv", f"the {role} input is missing", code="missing-input")
    names = {role: name for role, (name, _) in files.items()}
    parsed = {role: parse_council_file(role, *files[role]) for role in COUNCIL_ROLES}
    every = sorted({c for p in parsed.values() for c in p.labels})
    for p in parsed.values():
        have = set(p.labels)
        missing = [c for c in every if c not in have]
        if missing:
            other = next(q.file for q in parsed.values() if missing[0] in q.labels)
            raise ModelInputError(
                p.file,
                f"no rows for GSS code {missing[0]} (in {other}); every council must be in every file"
                + (f" ({len(missing)} codes missing)" if len(missing) > 1 else ""),
                column="gss_code",
                code="missing-council",
            )
    councils = tuple(every)
    tables = {role: _dense(p, councils) for role, p in parsed.items()}
    trends = {role: parse_trend_file(role, *files[role]) for role in TREND_COLUMNS if role in files}
    return DemographyInputs(
        councils,
        tables,
        trends.get("fertility_trend"),
        trends.get("mortality_trend"),
        names,
        {name: data for name, data in files.values()},
    )


def find_input_files(folder: Path) -> dict[str, Path]:
    """role -> its file in `folder` (`population.csv` or `population.parquet`)."""
    found: dict[str, Path] = {}
    for role in ROLES:
        for ext in (".csv", ".parquet"):
            path = folder / f"{role}{ext}"
            if path.is_file():
                found[role] = path
                break
    return found


def read_inputs_dir(folder: str | Path) -> DemographyInputs:
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelInputError(str(folder), "not a folder", code="missing-input")
    return read_inputs(
        {role: (path.name, path.read_bytes()) for role, path in find_input_files(folder).items()}
    )
