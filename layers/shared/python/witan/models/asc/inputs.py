"""Reading the adult social care model's inputs: CLD files, population.csv, optional unit_costs.csv.

CLD comes as Release 1 or 2, under the submission's column names ("Event Start Date") or the underscore
names of NHS England's and DHSC's code ("Event_Start_Date"); both become `event_start_date`. Values are
matched after folding case, '&' and ' - ' so either release's spelling works. Rows left out are
counted in `excluded` by reason; where nothing usable is left, `ModelInputError` names file, row and
column of the first row that failed for the commonest reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from witan.modelrun.definition import InputFile
from witan.modelrun.errors import InputWarning, ModelInputError
from witan.models.asc.vocabulary import AGE_BANDS as AGE_BANDS  # the words, re-exported beside the codes
from witan.models.asc.vocabulary import AGE_GROUPS as AGE_GROUPS
from witan.models.asc.vocabulary import REASONS as REASONS
from witan.models.asc.vocabulary import SETTINGS as SETTINGS
from witan.models.asc.vocabulary import STATES as STATES

UNKNOWN_REASON = REASONS.index("unknown")
BAND_LOWER = np.array([18, 25, 45, 65, 75, 85, 95])
BAND_WIDTH = np.array([7, 20, 20, 10, 10, 10, 10])  # 95+: nominal, used only for the ageing prior
BAND_GROUP = np.array([0, 0, 0, 1, 1, 1, 1])
SEXES = ("F", "M", "U")  # U: gender neither male nor female; its rates use both sexes' population
# ONS mid-2022 (England): about 23% of people aged 90+ are 95+; splits a 90+ population row.
SHARE_95_OF_90_PLUS = 0.23
NO_DATE = np.int64(2**40)  # an open end (days since 1970)
MISSING = np.int64(-(2**40))  # a date not given or not parsed (births before 1970 are negative)
DAY0 = dt.date(1970, 1, 1)

# Service hierarchy ranks (LTS001b): 1 nursing, 2 residential, 3 community direct payment, 4 community
# CASSR-managed personal budget, 5 community commissioned, 6 community unknown mechanism, 7 prison.
RANK_SETTING = np.array([-1, 0, 1, 2, 2, 3, 3, -1])
PRISON_RANK = 7

# canonical field -> normalised header names it may have (submission names and underscore names fold
# to the same text; DHSC's pseudonymised names are listed beside them)
ALIASES: dict[str, tuple[str, ...]] = {
    "person_id": (
        "la_person_unique_identifier",
        "der_la_person_unique_identifier_pseudo",
        "la_person_unique_identifier_pseudo",
        "person_id",
    ),
    "nhs_number": (
        "nhs_number",
        "der_nhs_number_traced_pseudo",
        "der_nhs_number_pseudo",
        "nhs_number_pseudo",
    ),
    "date_of_birth": ("date_of_birth", "date_of_birth_dd_mm_yyyy", "person_date_of_birth"),
    "birth_year": ("der_birth_year", "birth_year"),
    "birth_month": ("der_birth_month", "birth_month"),
    "gender": ("gender",),
    "date_of_death": ("date_of_death", "der_date_of_death", "date_of_death_dd_mm_yyyy"),
    "client_type": ("client_type",),
    "primary_support_reason": ("primary_support_reason",),
    "event_type": ("event_type",),
    "event_start_date": ("event_start_date",),
    "event_end_date": ("event_end_date",),
    "event_outcome": ("event_outcome",),
    "service_type": ("service_type",),
    "service_component": ("service_component",),
    "delivery_mechanism": ("delivery_mechanism",),
    "unit_cost": ("unit_cost",),
    "cost_frequency": ("cost_frequency_unit_type", "cost_frequency", "unit_type"),
    "planned_units_per_week": ("planned_units_per_week",),
    "reporting_period_start_date": ("reporting_period_start_date",),
    "reporting_period_end_date": ("reporting_period_end_date",),
}
REQUIRED = (
    "client_type",
    "primary_support_reason",
    "event_type",
    "event_start_date",
    "event_end_date",
    "service_type",
    "reporting_period_end_date",
)
SUBMISSION_NAMES = {  # how messages name a canonical field
    k: " ".join(w.capitalize() if w not in ("of", "per") else w for w in k.split("_")) for k in ALIASES
}
SUBMISSION_NAMES.update(
    person_id="LA Person Unique Identifier",
    nhs_number="NHS Number",
    cost_frequency="Cost Frequency (Unit Type)",
    birth_year="Der_Birth_Year",
    birth_month="Der_Birth_Month",
)

EVENT_TYPES = {"request": 0, "assessment": 1, "service": 2, "review": 3}
SERVICE_EVENT = 2
CLIENT_TYPES = {"service user": 0, "carer": 1, "carer known by association": 1}
SERVICE_TYPES = {  # -> hierarchy rank before the delivery mechanism (3: community), 0: not long-term
    "long term support: nursing care": 1,
    "long term support: residential care": 2,
    "long term support: community": 3,
    "long term support: prison": 7,
    "short term support: st-max": 0,
    "short term support: ongoing low level": 0,
    "short term support: other short term": 0,
    "unpaid carer support: direct to unpaid carer": 0,
    "unpaid carer support: support involving the person cared-for": 0,
    "unpaid carer support: support involving the person cared for": 0,
}
MECHANISMS = {"direct payment": 0, "cassr managed personal budget": 1, "cassr commissioned support": 2}
REASON_PREFIXES = (  # folded PSR label prefix -> reason group
    ("physical", "physical"),
    ("sensory", "sensory"),
    ("support with memory", "memory"),
    ("memory", "memory"),
    ("learning disability", "learning-disability"),
    ("mental health", "mental-health"),
    ("social", "social"),
    ("unknown", "unknown"),
)
# cost frequency -> units a week (None: use Planned units per week; "one-off": counted once)
FREQUENCIES: tuple[tuple[str, float | None], ...] = (
    ("week", 1.0),
    ("fortnight", 0.5),
    ("4-week", 0.25),
    ("four-week", 0.25),
    ("4 week", 0.25),
    ("month", 12 / 52),
    ("quarter", 4 / 52),
    ("annual", 1 / 52),
    ("year", 1 / 52),
)
DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d-%m-%Y",
)


def fold(text: str) -> str:
    """A label in one spelling: lower case, '&' as 'and', ' - ' as ': ', single spaces."""
    t = text.strip().lower().replace("&", " and ").replace(" - ", ": ")
    return re.sub(r"\s+", " ", t).replace(" :", ":").strip()


def header_key(name: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", name.strip().lower())).strip("_")


@dataclass
class Excluded:
    """Rows and people left out, by reason (the `excluded` table). People are counted by the best id
    the rows carry (NHS number, else council id)."""

    rows: dict[str, int] = field(default_factory=dict)
    people: dict[str, set[str]] = field(default_factory=dict)
    first: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # why -> (file, row, column)

    def add(
        self,
        why: str,
        ids: npt.NDArray[np.object_],
        where: tuple[str, int, str] | None = None,
        rows: int | None = None,
    ) -> None:
        n = len(ids) if rows is None else rows
        if n == 0:
            return
        self.rows[why] = self.rows.get(why, 0) + n
        self.people.setdefault(why, set()).update(np.unique(ids.astype(str)).tolist())
        if where is not None and why not in self.first:
            self.first[why] = where

    def table(self) -> pa.Table:
        whys = sorted(self.rows)
        return pa.table(
            {
                "why": pa.array(whys, pa.string()),
                "rows": pa.array([self.rows[w] for w in whys], pa.int64()),
                "people": pa.array([len(self.people.get(w, ())) for w in whys], pa.int64()),
            }
        )


@dataclass
class CldRows:
    """Long-term support service rows that survived cleaning, as arrays (one element a row)."""

    file: npt.NDArray[np.int64]  # file index
    row: npt.NDArray[np.int64]  # 1-based data row in its file
    person_key: npt.NDArray[np.object_]  # person id used for de-duplication (council id, else NHS number)
    nhs: npt.NDArray[np.object_]  # object: NHS number or ""
    la_id: npt.NDArray[np.object_]  # object: council id or ""
    birth: npt.NDArray[np.int64]  # days since 1970 of the first of the birth month, or MISSING
    sex: npt.NDArray[np.int64]  # index into SEXES
    death: npt.NDArray[np.int64]  # days, NO_DATE when none
    reason: npt.NDArray[np.int64]  # index into REASONS
    rank: npt.NDArray[np.int64]  # hierarchy rank 1..7
    start: npt.NDArray[np.int64]  # days
    end: npt.NDArray[np.int64]  # days, NO_DATE when open
    period: npt.NDArray[np.int64]  # reporting period end, days
    weekly_cost: npt.NDArray[np.float64]  # pounds a week, NaN when unusable
    one_off: npt.NDArray[np.float64]  # pounds of a one-off cost (counted once), NaN for other rows

    def select(self, mask: npt.NDArray[np.bool_]) -> CldRows:
        return CldRows(**{k: v[mask] for k, v in self.__dict__.items()})

    def __len__(self) -> int:
        return len(self.row)


@dataclass
class Cld:
    rows: CldRows
    files: list[str]
    excluded: Excluded
    warnings: list[InputWarning]
    coverage: tuple[int, int]  # first and last day the files cover
    hashes: dict[str, str]


def _strings(table: pa.Table, name: str) -> npt.NDArray[np.object_]:
    col = table[name]
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = pc.cast(col, pa.string())
    texts: npt.NDArray[np.object_] = pc.fill_null(col, "").to_numpy(zero_copy_only=False).astype(object)
    return texts


def parse_dates(values: npt.NDArray[np.object_]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """(days since 1970 or MISSING, blank) for date strings in any of DATE_FORMATS."""
    arr = pa.array(values, pa.string())
    stripped = pc.utf8_trim_whitespace(arr)
    blank = pc.equal(stripped, "").to_numpy(zero_copy_only=False)
    out = None
    for fmt in DATE_FORMATS:
        parsed = pc.strptime(stripped, format=fmt, unit="s", error_is_null=True)
        out = parsed if out is None else pc.coalesce(out, parsed)
    days = pc.cast(pc.cast(out, pa.int64()), pa.int64()).to_numpy(zero_copy_only=False)
    days = np.where(np.isnan(days.astype(float)), MISSING, np.floor_divide(np.nan_to_num(days), 86400))
    return days.astype(np.int64), blank


def _numbers(values: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    arr = pc.utf8_trim_whitespace(pa.array(values, pa.string()))
    arr = pc.replace_substring(pc.replace_substring(arr, ",", ""), "£", "")
    num = pc.cast(pc.if_else(pc.equal(arr, ""), None, arr), pa.float64(), safe=False) if len(arr) else arr
    return np.asarray(num.to_numpy(zero_copy_only=False), dtype=float)


def _safe_numbers(values: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    try:
        return _numbers(values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = np.full(len(values), np.nan)
        for u in np.unique(values):  # one parse per distinct text, not per row
            with contextlib.suppress(ValueError):
                out[values == u] = float(str(u).replace(",", "").replace("£", ""))
        return out


def _lookup(
    values: npt.NDArray[np.object_], mapping: dict[str, int], default: int = -1
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Codes of labels (folded) through `mapping`; returns also the distinct unknown labels."""
    uniq, inv = np.unique(values.astype(str), return_inverse=True)
    codes = np.array([mapping.get(fold(u), default) for u in uniq], dtype=np.int64)
    unknown = [u for u, c in zip(uniq, codes, strict=True) if c == default and u.strip()]
    return codes[inv], unknown


def _reason_codes(values: npt.NDArray[np.object_]) -> tuple[npt.NDArray[np.int64], list[str]]:
    uniq, inv = np.unique(values.astype(str), return_inverse=True)
    codes, unknown = [], []
    for u in uniq:
        f = fold(u)
        group = next((g for p, g in REASON_PREFIXES if f.startswith(p)), None)
        if group is None:
            if f:
                unknown.append(u)
            group = "unknown"
        codes.append(REASONS.index(group))
    return np.array(codes, dtype=np.int64)[inv], unknown


def _units_a_week(freq: npt.NDArray[np.object_]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """(units a week or NaN to take Planned units per week, one-off) per row."""
    uniq, inv = np.unique(freq.astype(str), return_inverse=True)
    units, once = np.full(len(uniq), np.nan), np.zeros(len(uniq), dtype=bool)
    for i, u in enumerate(uniq):
        f = fold(u)
        if f.startswith("one"):
            once[i] = True
            continue
        units[i] = next((v for p, v in FREQUENCIES if f.startswith(p)), np.nan)
    return units[inv], once[inv]


def read_table(f: InputFile) -> pa.Table:
    """A CSV, Parquet or xlsx input as a table of strings."""
    name = f.name.lower()
    if name.endswith(".parquet"):
        t = pq.read_table(io.BytesIO(f.data))
        return pa.table({c: pc.cast(t[c], pa.string()) for c in t.column_names})
    if name.endswith(".xlsx"):
        return _read_xlsx(f)
    data = f.data[3:] if f.data.startswith(b"\xef\xbb\xbf") else f.data
    try:
        names = pacsv.open_csv(io.BytesIO(data)).schema.names
    except pa.ArrowInvalid as exc:
        raise ModelInputError(f.name, f"is not a readable CSV file ({exc})", code="unreadable-file") from None
    try:
        return pacsv.read_csv(
            io.BytesIO(data),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ModelInputError(f.name, f"is not a readable CSV file ({exc})", code="unreadable-file") from None


def _read_xlsx(f: InputFile) -> pa.Table:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(f.data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ModelInputError(
            f.name, f"is not a readable xlsx file ({exc})", code="unreadable-file"
        ) from None
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    if not rows:
        raise ModelInputError(f.name, "has no header row", code="missing-header")
    header = [str(h or "").strip() for h in rows[0]]

    def text(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, dt.datetime):
            return v.date().isoformat()
        if isinstance(v, dt.date):
            return v.isoformat()
        return str(v)

    cols = list(zip(*[[text(v) for v in r] + [""] * (len(header) - len(r)) for r in rows[1:]], strict=False))
    return pa.table({h: pa.array(list(cols[i]) if cols else [], pa.string()) for i, h in enumerate(header)})


def _columns(table: pa.Table, file: str) -> dict[str, str]:
    """canonical field -> the file's column name; ModelInputError for a missing required column."""
    by_key: dict[str, str] = {}
    for name in table.column_names:
        by_key.setdefault(header_key(name), name)
    found = {k: next((by_key[a] for a in aliases if a in by_key), "") for k, aliases in ALIASES.items()}
    missing = [SUBMISSION_NAMES[k] for k in REQUIRED if not found[k]]
    if not found["person_id"] and not found["nhs_number"]:
        missing.insert(0, "LA Person Unique Identifier (or NHS Number)")
    if not found["date_of_birth"] and not (found["birth_year"] and found["birth_month"]):
        missing.append("Date of Birth (or Der_Birth_Year and Der_Birth_Month)")
    if missing:
        raise ModelInputError(
            file,
            f"missing column(s) {', '.join(missing)} (CLD submission names such as 'Event Start Date' or "
            "underscore names such as 'Event_Start_Date')",
            column=missing[0],
            code="missing-column",
        )
    return {k: v for k, v in found.items() if v}


def read_cld(files: Sequence[InputFile]) -> Cld:
    """Every CLD file's long-term support service rows, cleaned, de-duplicated across submissions."""
    if not files:
        raise ModelInputError("cld.csv", "no CLD file given", code="missing-file")
    files = sorted(files, key=lambda f: f.name)  # a later name is a later submission
    warnings: list[InputWarning] = []
    excluded = Excluded()
    parts: list[dict[str, npt.NDArray[Any]]] = []  # column -> text (object), or file and row (int64)
    names = [f.name for f in files]
    for fi, f in enumerate(files):
        table = read_table(f)
        cols = _columns(table, f.name)
        n = table.num_rows
        if n == 0:
            warnings.append(InputWarning("empty-file", f.name, "has no data rows"))
            continue
        get = {k: _strings(table, c) for k, c in cols.items()}
        blank = np.full(n, "", dtype=object)
        part = {k: get.get(k, blank) for k in ALIASES}
        part["file"] = np.full(n, fi, dtype=np.int64)
        part["row"] = np.arange(1, n + 1, dtype=np.int64)
        parts.append(part)
        for k in ("gender", "date_of_death", "delivery_mechanism", "unit_cost"):
            if k not in cols:
                warnings.append(
                    InputWarning(
                        "missing-optional-column",
                        f.name,
                        f"no {SUBMISSION_NAMES[k]} column: "
                        + {
                            "gender": "every person's sex is unknown",
                            "date_of_death": "no deaths can be seen",
                            "delivery_mechanism": "community support counts as commissioned",
                            "unit_cost": "weekly costs come from unit_costs.csv or national figures",
                        }[k],
                    )
                )
    if not parts:
        raise ModelInputError(names[0], "no data rows in any CLD file", code="no-rows")
    cat = {k: np.concatenate([p[k] for p in parts]) for k in (*ALIASES, "file", "row")}
    return _clean(cat, names, excluded, warnings, files)


def _where(
    cat: dict[str, npt.NDArray[Any]], names: list[str], mask: npt.NDArray[np.bool_], column: str
) -> tuple[str, int, str] | None:
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return None
    i = idx[0]
    return names[int(cat["file"][i])], int(cat["row"][i]), SUBMISSION_NAMES.get(column, column)


def _clean(
    cat: dict[str, npt.NDArray[Any]],
    names: list[str],
    excluded: Excluded,
    warnings: list[InputWarning],
    files: Sequence[InputFile],
) -> Cld:
    n = len(cat["row"])
    nhs = np.char.strip(cat["nhs_number"].astype(str)).astype(object)
    la = np.char.strip(cat["person_id"].astype(str)).astype(object)
    best_id = np.where(nhs != "", "N:" + nhs.astype(str), "L:" + la.astype(str)).astype(object)
    keep = np.ones(n, dtype=bool)

    def drop(mask: npt.NDArray[np.bool_], why: str, column: str) -> None:
        m = mask & keep
        excluded.add(why, best_id[m], _where(cat, names, m, column))
        keep[m] = False

    # Submissions: each reporting period is taken from the last file that holds it.
    period, _ = parse_dates(cat["reporting_period_end_date"])
    drop(period == MISSING, "reporting period end date missing or not a date", "reporting_period_end_date")
    last_file = np.full(1, -1)
    if keep.any():
        pu, pinv = np.unique(period, return_inverse=True)
        last_file = np.full(len(pu), -1)
        np.maximum.at(last_file, pinv[keep], cat["file"][keep])
        drop(
            cat["file"] != last_file[pinv], "period resubmitted in a later file", "reporting_period_end_date"
        )
    pstart, _ = parse_dates(cat["reporting_period_start_date"])
    covered = period[keep]
    starts = np.where(pstart[keep] != MISSING, pstart[keep], covered - 91)
    coverage = (int(starts.min()), int(covered.max())) if keep.any() else (0, 0)

    etype, _ = _lookup(cat["event_type"], EVENT_TYPES)
    drop(etype < 0, "event type not a CLD label", "event_type")
    drop(etype != SERVICE_EVENT, "not a service event (request, assessment or review)", "event_type")
    ctype, _ = _lookup(cat["client_type"], CLIENT_TYPES)
    drop(ctype < 0, "client type not a CLD label", "client_type")
    drop(ctype == 1, "carer, not a service user", "client_type")
    stype, _ = _lookup(cat["service_type"], SERVICE_TYPES)
    drop(stype < 0, "service type missing or not a CLD label", "service_type")
    drop(stype == 0, "not long-term support (short-term or carer support)", "service_type")
    drop((nhs == "") & (la == ""), "no person identifier", "person_id")

    start, _ = parse_dates(cat["event_start_date"])
    end, end_blank = parse_dates(cat["event_end_date"])
    drop(start == MISSING, "event start date missing or not a date", "event_start_date")
    drop((end == MISSING) & ~end_blank, "event end date not a date", "event_end_date")
    end = np.where(end_blank, NO_DATE, end)
    drop(end < start, "event end date before its start", "event_end_date")

    # The same event in several submissions: the latest period's row wins.
    person_key = np.where(la != "", "L:" + la.astype(str), "N:" + nhs.astype(str))
    mech, unknown_mech = _lookup(cat["delivery_mechanism"], MECHANISMS, default=3)
    comp = np.unique(np.char.lower(cat["service_component"].astype(str)), return_inverse=True)[1]
    pk = np.unique(person_key.astype(str), return_inverse=True)[1]
    idx = np.flatnonzero(keep)
    order = idx[
        np.lexsort((cat["row"][idx], period[idx], mech[idx], comp[idx], stype[idx], start[idx], pk[idx]))
    ]
    same_next = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        a, b = order[:-1], order[1:]
        same_next[:-1] = (
            (pk[a] == pk[b])
            & (start[a] == start[b])
            & (stype[a] == stype[b])
            & (comp[a] == comp[b])
            & (mech[a] == mech[b])
        )
    superseded = np.zeros(n, dtype=bool)
    superseded[order[same_next]] = True
    drop(
        superseded,
        "same service in a later submission (duplicate across quarterly files)",
        "event_start_date",
    )
    latest_period = coverage[1]
    # An open service that stops appearing ends at the end of the quarter it last appeared in.
    end = np.where((end == NO_DATE) & (period < latest_period), period, end)

    # Birth: date of birth, else Der_Birth_Year/Month; first day of the month (as LTS001b).
    dob, _ = parse_dates(cat["date_of_birth"])
    by = _safe_numbers(cat["birth_year"])
    bm = _safe_numbers(cat["birth_month"])
    has_dob = dob != MISSING
    dob_dates = np.where(has_dob, dob, 0).astype("datetime64[D]")
    ym = np.where(has_dob, dob_dates.astype("datetime64[M]").astype(np.int64), -(10**9))
    alt = np.isfinite(by) & np.isfinite(bm) & (bm >= 1) & (bm <= 12)
    ym = np.where((ym == -(10**9)) & alt, (np.nan_to_num(by) - 1970) * 12 + np.nan_to_num(bm) - 1, ym)
    has_birth = ym > -(10**9)
    birth = np.where(has_birth, ym.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64), MISSING)
    birth_year = 1970 + np.floor_divide(np.where(has_birth, ym, 0), 12)
    # Dummy dates (1900-01-01 and the like) and births after the service started are not usable.
    birth = np.where(has_birth & ((birth_year <= 1901) | (birth > start)), MISSING, birth)

    sex_codes, _ = _lookup(cat["gender"], {"female": 0, "f": 0, "male": 1, "m": 1}, default=2)
    death, death_blank = parse_dates(cat["date_of_death"])
    bad_death = (death == MISSING) & ~death_blank & keep
    if bad_death.any():
        w = _where(cat, names, bad_death, "date_of_death")
        warnings.append(
            InputWarning(
                "date-not-parsed",
                w[0] if w else names[0],
                f"{int(bad_death.sum())} Date of Death value(s) are not dates: taken as no death",
                row=w[1] if w else None,
            )
        )
    death = np.where(death != MISSING, death, NO_DATE)
    reason, unknown_psr = _reason_codes(cat["primary_support_reason"])

    for label, unknown in (
        ("Primary Support Reason", unknown_psr),
        ("Delivery Mechanism", unknown_mech),
    ):
        if unknown:
            warnings.append(
                InputWarning(
                    "unknown-label",
                    names[0],
                    f"{label} value(s) not in the CLD lists, taken as "
                    + ("unknown" if label.startswith("Primary") else "an unknown mechanism")
                    + ": "
                    + ", ".join(repr(u) for u in unknown[:5]),
                )
            )
    rank = np.where(stype == 3, 3 + mech, stype)  # community: 3 DP, 4 MPB, 5 commissioned, 6 unknown

    cost = np.abs(_safe_numbers(cat["unit_cost"]))
    units, once = _units_a_week(cat["cost_frequency"])
    planned = np.abs(_safe_numbers(cat["planned_units_per_week"]))
    units = np.where(np.isnan(units), planned, units)
    weekly = cost * units
    weekly = np.where(once | ~(weekly > 0), np.nan, weekly)

    m = keep
    rows = CldRows(
        file=cat["file"][m],
        row=cat["row"][m],
        person_key=person_key[m],
        nhs=nhs[m],
        la_id=la[m],
        birth=birth[m],
        sex=sex_codes[m],
        death=death[m],
        reason=reason[m],
        rank=rank[m],
        start=start[m],
        end=end[m],
        period=period[m],
        weekly_cost=weekly[m],
        one_off=np.where(once & (cost > 0), cost, np.nan)[m],
    )
    if len(rows) == 0:
        why = max(excluded.rows, key=lambda w: excluded.rows[w]) if excluded.rows else "no rows"
        file, row, column = excluded.first.get(why, (names[0], None, None))
        raise ModelInputError(
            file,
            f"no usable long-term support service rows are left: {excluded.rows.get(why, 0)} row(s) left "
            f"out because {why} (first here)",
            row=row,
            column=column,
            code="no-usable-rows",
        )
    hashes = {f.name: hashlib.sha256(f.data).hexdigest() for f in files}
    return Cld(rows, names, excluded, warnings, coverage, hashes)


# --- population -------------------------------------------------------------------------------------


@dataclass
class Population:
    """population[year index, band, sex(F, M)] for years first..last."""

    first_year: int
    values: npt.NDArray[np.float64]
    file: str

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.first_year + len(self.values)))

    def at(self, year: int) -> npt.NDArray[np.float64]:
        """[band, sex F/M] of `year`, the nearest year held where it is outside the file's."""
        i = min(max(year - self.first_year, 0), len(self.values) - 1)
        at: npt.NDArray[np.float64] = self.values[i]
        return at


def read_population(f: InputFile) -> Population:
    """population.csv: year, sex (F/M, female/male, 1 male/2 female), age (90 = 90+), population."""
    table = read_table(f)
    by_key = {header_key(c): c for c in table.column_names}
    missing = [c for c in ("year", "sex", "age", "population") if c not in by_key]
    if missing:
        raise ModelInputError(
            f.name, f"missing column(s) {', '.join(missing)}", column=missing[0], code="missing-column"
        )
    year, age, pop = (_safe_numbers(_strings(table, by_key[c])) for c in ("year", "age", "population"))
    sex_text = _strings(table, by_key["sex"])
    sex, _ = _lookup(sex_text, {"f": 0, "female": 0, "2": 0, "m": 1, "male": 1, "1": 1})
    for name, ok in (
        ("year", np.isfinite(year) & (year == np.round(year))),
        ("age", np.isfinite(age) & (age >= 0) & (age == np.round(age))),
        ("population", np.isfinite(pop) & (pop >= 0)),
        ("sex", sex >= 0),
    ):
        bad = np.flatnonzero(~ok)
        if len(bad):
            raise ModelInputError(
                f.name,
                f"{name} {str(_strings(table, by_key[name])[bad[0]])!r} is not "
                + (
                    "F or M"
                    if name == "sex"
                    else "a non-negative number"
                    if name == "population"
                    else "a whole number"
                ),
                row=int(bad[0]) + 1,
                column=name,
                code="invalid-value",
            )
    if table.num_rows == 0:
        raise ModelInputError(f.name, "has no rows", code="no-rows")
    y0, y1 = int(year.min()), int(year.max())
    age = age.astype(np.int64)
    band = np.searchsorted(BAND_LOWER, age, side="right") - 1
    adult = age >= 18
    out = np.zeros((y1 - y0 + 1, len(AGE_BANDS), 2))
    max_age = int(age.max())
    if max_age <= 90:
        # 90 = 90+: part of it is 95+.
        top = adult & (age == 90)
        np.add.at(
            out, (year[top].astype(int) - y0, np.full(top.sum(), 6), sex[top]), pop[top] * SHARE_95_OF_90_PLUS
        )
        pop = np.where(top, pop * (1 - SHARE_95_OF_90_PLUS), pop)
    np.add.at(out, (year[adult].astype(int) - y0, band[adult], sex[adult]), pop[adult])
    return Population(y0, out, f.name)


def read_unit_costs(f: InputFile) -> dict[tuple[int, int], float]:
    """unit_costs.csv: setting, age_group, weekly_cost -> {(setting index, age group index): cost}."""
    table = read_table(f)
    by_key = {header_key(c): c for c in table.column_names}
    missing = [c for c in ("setting", "age_group", "weekly_cost") if c not in by_key]
    if missing:
        raise ModelInputError(
            f.name, f"missing column(s) {', '.join(missing)}", column=missing[0], code="missing-column"
        )
    setting = _strings(table, by_key["setting"])
    group = _strings(table, by_key["age_group"])
    cost = _safe_numbers(_strings(table, by_key["weekly_cost"]))
    out: dict[tuple[int, int], float] = {}
    for i in range(table.num_rows):  # a handful of rows (settings x age groups)
        s, g = str(setting[i]).strip(), str(group[i]).strip()
        if s not in SETTINGS:
            raise ModelInputError(
                f.name,
                f"setting {s!r} is not one of {', '.join(SETTINGS)}",
                row=i + 1,
                column="setting",
                code="invalid-value",
            )
        if g not in (*AGE_GROUPS, "all", ""):
            raise ModelInputError(
                f.name,
                f"age_group {g!r} is not 18-64, 65+ or all",
                row=i + 1,
                column="age_group",
                code="invalid-value",
            )
        if not (np.isfinite(cost[i]) and cost[i] >= 0):
            raise ModelInputError(
                f.name,
                "weekly_cost must be a non-negative number",
                row=i + 1,
                column="weekly_cost",
                code="invalid-value",
            )
        for gi in [AGE_GROUPS.index(g)] if g in AGE_GROUPS else range(len(AGE_GROUPS)):
            out[(SETTINGS.index(s), gi)] = float(cost[i])
    return out


def read_inputs_dir(path: str) -> dict[str, list[InputFile]]:
    """Input files by role from a folder: cld*.csv|.xlsx|.parquet, population.*, unit_costs.* (optional)."""
    from pathlib import Path

    folder = Path(path)
    found: dict[str, list[InputFile]] = {"cld": [], "population": [], "unit_costs": []}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in (".csv", ".xlsx", ".parquet"):
            continue
        role = "cld" if p.name.lower().startswith("cld") else p.stem.lower()
        if role in found:
            found[role].append(InputFile(p.name, p.read_bytes()))
    for role in ("cld", "population"):
        if not found[role]:
            raise ModelInputError(str(folder / f"{role}.csv"), "not found", code="missing-file")
    return found
