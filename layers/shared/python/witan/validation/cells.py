"""Vectorised reading of text cells as schema types, with pyarrow.compute.

`read_column(field, values)` returns the typed array (null where blank or unreadable), and numpy masks
for blank (missing) and type-failed cells. Semantics follow frictionless: integers and numbers may have
surrounding spaces; dates follow Python's strptime, including rejecting impossible calendar dates
(2023-02-30). Directives we cannot vectorise fall back to a per-cell strptime loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from witan.validation.schema import Field

_INT_RE = r"^[+-]?[0-9]{1,19}$"  # longer cannot fit int64 (the Parquet type): a type error
_NUM_RE = r"(?i)^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?|nan|inf|infinity)$"
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
# Python's own _strptime patterns for the directives we vectorise.
_DIRECTIVES = {
    "Y": r"(?P<Y>\d\d\d\d)",
    "y": r"(?P<y>\d\d)",
    "m": r"(?P<m>1[0-2]|0[1-9]|[1-9])",
    "d": r"(?P<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])",
    "H": r"(?P<H>2[0-3]|[0-1]\d|\d)",
    "M": r"(?P<M>[0-5]\d|\d)",
    "S": r"(?P<S>6[0-1]|[0-5]\d|\d)",
    "f": r"(?P<f>[0-9]{1,6})",
    "b": "(?P<b>" + "|".join(m[:3] for m in _MONTHS) + ")",
    "B": "(?P<B>" + "|".join(_MONTHS) + ")",
}
ANY_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%d %b %Y", "%d %B %Y")
ANY_DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y",
)
_ISO_DATETIME = (
    r"^(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})T(?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2})"
    r"(?:\.(?P<f>\d{1,6})\d*)?(?P<z>Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass
class ReadColumn:
    typed: pa.Array  # the field's Arrow type; null where blank or unreadable
    missing: npt.NDArray[np.bool_]  # the cell is one of the missing values
    bad: npt.NDArray[np.bool_]  # not blank and not readable as the field's type


def arrow_type(field_type: str) -> pa.DataType:
    return {
        "string": pa.string(),
        "integer": pa.int64(),
        "year": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "datetime": pa.timestamp("us"),
    }[field_type]


def _np(mask: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def read_column(f: Field, values: pa.Array) -> ReadColumn:
    values = values.cast(pa.string()) if values.type != pa.string() else values
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if f.missing_values == ("",):  # the default: an empty cell (a length test is cheaper than is_in)
        missing = _np(pc.equal(pc.binary_length(values), 0))
    else:
        missing = _np(pc.is_in(values, value_set=pa.array(list(f.missing_values), pa.string())))
    present = pa.array(~missing)
    null = pa.scalar(None, pa.string())
    kept = pc.if_else(present, values, null)
    if f.type == "string":
        typed = kept
        ok = ~missing
    elif f.type in ("integer", "year"):
        typed, ok = _read_int(kept, f.type == "year")
    elif f.type == "number":
        typed, ok = _read_number(kept, f)
    elif f.type == "boolean":
        is_true = _np(pc.is_in(kept, value_set=pa.array(list(f.true_values), pa.string())))
        is_false = _np(pc.is_in(kept, value_set=pa.array(list(f.false_values), pa.string())))
        ok = is_true | is_false
        typed = pa.array(np.where(is_true, True, False), pa.bool_(), mask=~ok)
    elif f.type == "date":
        typed, ok = read_dates(kept, f.format, want_date=True)
    else:
        typed, ok = read_dates(kept, f.format, want_date=False)
    bad = ~missing & ~ok
    return ReadColumn(typed=typed, missing=missing, bad=bad)


def _read_int(kept: pa.Array, year: bool) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    if year:  # exactly four ASCII digits, as frictionless
        good = pc.and_(pc.equal(pc.binary_length(kept), 4), pc.ascii_is_decimal(kept))
        typed = pc.cast(pc.if_else(good, kept, pa.scalar(None, pa.string())), pa.int64())
        return typed, _np(good)
    try:  # fast path: every present cell is a plain integer
        typed = pc.cast(kept, pa.int64())
        return typed, _np(pc.is_valid(typed))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Cast the plain digit strings directly; only the rest (signs, spaces, typos) goes through the regex.
    plain = _np(pc.ascii_is_decimal(kept))
    rest = ~plain & _np(pc.is_valid(kept))
    typed_np = np.zeros(len(kept), np.int64)
    ok = np.zeros(len(kept), bool)
    for mask, direct in ((plain, True), (rest, False)):
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        subset = kept.take(pa.array(idx))
        try:
            if not direct:
                raise pa.ArrowInvalid("signs, spaces or typos")
            part = pc.cast(subset, pa.int64())
            part_ok = _np(pc.is_valid(part))
        except pa.ArrowInvalid:  # too long for int64, or not plain digits
            part, part_ok = _read_int_general(subset)
        typed_np[idx] = pc.fill_null(part, 0).to_numpy(zero_copy_only=False)
        ok[idx] = part_ok
    return pa.array(typed_np, pa.int64(), mask=~ok), ok


def _read_int_general(kept: pa.Array) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    stripped = pc.utf8_trim_whitespace(kept)
    good = pc.match_substring_regex(stripped, _INT_RE)
    clean = pc.if_else(good, pc.utf8_ltrim(stripped, characters="+"), pa.scalar(None, pa.string()))
    # Numbers beyond int64 do not fit the column type: read one by one to null them out.
    try:
        typed = pc.cast(clean, pa.int64())
    except pa.ArrowInvalid:
        py = []
        for v in clean.to_pylist():
            n = int(v) if v is not None else None  # at most 19 digits here
            py.append(n if n is not None and -(2**63) <= n < 2**63 else None)
        typed = pa.array(py, pa.int64())
    return typed, _np(pc.is_valid(typed))


def _read_number(kept: pa.Array, f: Field) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    text = kept
    if f.group_char:
        text = pc.replace_substring(text, f.group_char, "")
    if f.decimal_char != ".":
        text = pc.replace_substring(text, f.decimal_char, ".")
    if not f.group_char and f.decimal_char == ".":
        try:
            typed = pc.cast(text, pa.float64())
            return typed, _np(pc.is_valid(typed))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    stripped = pc.utf8_trim_whitespace(text)
    good = pc.match_substring_regex(stripped, _NUM_RE)
    typed = pc.cast(pc.if_else(good, stripped, pa.scalar(None, pa.string())), pa.float64())
    return typed, _np(good)


def _strptime_regex(fmt: str) -> str | None:
    """Python strptime format -> anchored RE2 pattern with named groups; None if not vectorisable."""
    out = ["(?i)^"]
    seen: set[str] = set()
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            if i + 1 >= len(fmt):
                return None
            d = fmt[i + 1]
            if d == "%":
                out.append("%")
            elif d in _DIRECTIVES and d not in seen:
                out.append(_DIRECTIVES[d])
                seen.add(d)
            else:
                return None
            i += 2
        elif ch.isspace():
            out.append(r"\s+")
            while i < len(fmt) and fmt[i].isspace():
                i += 1
            continue
        else:
            out.append(re.escape(ch))
            i += 1
    out.append("$")
    return "".join(out)


def _civil(
    parts: dict[str, npt.NDArray[np.int64]], n: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Component arrays -> (microseconds since epoch, calendar-valid mask), vectorised."""
    year = parts.get("Y")
    if year is None:
        yy = parts.get("y")
        year = np.where(yy < 69, 2000 + yy, 1900 + yy) if yy is not None else np.full(n, 1900)
    month = parts.get("m", np.ones(n, np.int64))
    day = parts.get("d", np.ones(n, np.int64))
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (year >= 1) & (year <= 9999)
    m = np.where(valid, month, 1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[m - 1] + ((m == 2) & leap)
    valid &= day <= month_days
    # Days since 1970-01-01 from the civil date (H. Hinnant's algorithm), in integer numpy ops.
    y = year - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + np.where(valid, day, 1) - 1
    days = era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468
    seconds = parts.get("H", 0) * 3600 + parts.get("M", 0) * 60 + parts.get("S", 0)
    valid &= parts.get("S", np.zeros(n, np.int64)) <= 59  # strptime accepts :60/:61 but datetime does not
    valid &= (parts.get("H", np.zeros(n, np.int64)) <= 23) & (parts.get("M", np.zeros(n, np.int64)) <= 59)
    micros = days * 86_400_000_000 + seconds * 1_000_000 + parts.get("f", 0)
    return micros, valid


def _extract(
    kept: pa.Array, pattern: str
) -> tuple[dict[str, npt.NDArray[np.int64]], npt.NDArray[np.bool_], pa.StructArray]:
    st = pc.extract_regex(kept, pattern)
    matched = _np(pc.is_valid(st))
    parts: dict[str, npt.NDArray[np.int64]] = {}
    for j in range(st.type.num_fields):
        name = st.type.field(j).name
        if name in ("b", "B"):
            text = pc.utf8_lower(st.field(j))
            names = _MONTHS if name == "B" else [m[:3] for m in _MONTHS]
            idx = pc.index_in(text, value_set=pa.array(names))
            parts["m"] = np.asarray(pc.fill_null(idx, 0).to_numpy(zero_copy_only=False), np.int64) + 1
            continue
        if name == "z":
            continue
        col = pc.if_else(pc.is_valid(st), st.field(j), pa.scalar("0"))
        col = pc.utf8_trim_whitespace(col)
        col = pc.if_else(pc.equal(col, ""), pa.scalar("0"), col)
        arr = np.asarray(pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False), np.int64)
        if name == "f":
            lengths = np.asarray(
                pc.utf8_length(pc.fill_null(st.field(j), "0")).to_numpy(zero_copy_only=False)
            )
            arr = arr * (10 ** (6 - np.clip(lengths, 0, 6)))
        parts[name] = arr
    return parts, matched, st


def read_dates(kept: pa.Array, fmt: str, *, want_date: bool) -> tuple[pa.Array, npt.NDArray[np.bool_]]:
    n = len(kept)
    if fmt == "any":
        formats = ANY_DATE_FORMATS if want_date else ANY_DATETIME_FORMATS
        micros = np.zeros(n, np.int64)
        ok = np.zeros(n, bool)
        for candidate in formats:
            m, good = _read_strptime(kept, candidate)
            take = good & ~ok
            micros = np.where(take, m, micros)
            ok |= take
    elif fmt == "default" and not want_date:
        micros, ok = _read_iso_datetime(kept)
    else:
        micros, ok = _read_strptime(kept, "%Y-%m-%d" if fmt == "default" else fmt)
    if want_date:
        ok &= micros % 86_400_000_000 == 0
        typed = pa.array((micros // 86_400_000_000).astype(np.int32), pa.int32(), mask=~ok).cast(pa.date32())
    else:
        typed = pa.array(micros, pa.int64(), mask=~ok).cast(pa.timestamp("us"))
    return typed, ok


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)
_FIXED_WIDTH = {"Y": 4, "y": 2, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}


def _fixed_layout(fmt: str) -> tuple[list[tuple[int, int]], list[tuple[str, int, int]], int] | None:
    """For formats of fixed-width numbers and ASCII literals: (literal positions, digit spans, width)."""
    literals: list[tuple[int, int]] = []
    spans: list[tuple[str, int, int]] = []
    pos = i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            d = fmt[i + 1 : i + 2]
            if d not in _FIXED_WIDTH or any(name == d for name, _, _ in spans):
                return None
            spans.append((d, pos, _FIXED_WIDTH[d]))
            pos += _FIXED_WIDTH[d]
            i += 2
        else:
            if ord(fmt[i]) > 127 or fmt[i].isspace():
                return None
            literals.append((pos, ord(fmt[i])))
            pos += 1
            i += 1
    return literals, spans, pos


def _read_fixed(
    kept: pa.Array, layout: tuple[list[tuple[int, int]], list[tuple[str, int, int]], int]
) -> tuple[dict[str, npt.NDArray[np.int64]], npt.NDArray[np.bool_]]:
    """Zero-padded cells read straight from the Arrow buffers with numpy: no per-cell Python, no regex."""
    literals, spans, width = layout
    n = len(kept)
    arr = kept.cast(pa.string())
    fast_pa = pc.fill_null(pc.equal(pc.binary_length(arr), width), False)
    fast = _np(fast_pa)
    if not fast.any():
        return {}, fast
    # Cells of the right length become one fixed-width byte block (others: a filler), read as an
    # (n, width) uint8 matrix without copying again.
    fixed = pc.if_else(fast_pa, arr, pa.scalar("0" * width)).cast(pa.binary()).cast(pa.binary(width))
    raw = np.frombuffer(fixed.buffers()[1], np.uint8, count=(fixed.offset + n) * width)
    block = raw[fixed.offset * width :].reshape(n, width)
    if literals:
        lit_pos = [p for p, _ in literals]
        fast &= (block[:, lit_pos] == np.array([c for _, c in literals], np.uint8)).all(axis=1)
    digit_pos = [pos + j for _, pos, length in spans for j in range(length)]
    digits = block[:, digit_pos] - np.uint8(48)  # non-digits wrap round to values above 9
    fast &= (digits <= 9).all(axis=1)
    parts: dict[str, npt.NDArray[np.int64]] = {}
    col = 0
    for name, _, length in spans:
        weights = 10 ** np.arange(length - 1, -1, -1, dtype=np.int64)
        value = digits[:, col : col + length].astype(np.int64) @ weights
        parts[name] = np.where(fast, value, 0)
        col += length
    return parts, fast


def _read_strptime(kept: pa.Array, fmt: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    n = len(kept)
    layout = _fixed_layout(fmt)
    if layout is not None:
        parts, fast = _read_fixed(kept, layout)
        micros, valid = _civil(parts, n) if parts else (np.zeros(n, np.int64), np.zeros(n, bool))
        ok = fast & valid
        rest = ~fast & _np(pc.is_valid(kept))
        if rest.any():  # cells not in the zero-padded layout (1/2/2023, typos): the general path
            idx = np.flatnonzero(rest)
            sub_micros, sub_ok = _read_strptime_general(kept.take(pa.array(idx)), fmt)
            micros[idx] = sub_micros
            ok[idx] = sub_ok
        return micros, ok
    return _read_strptime_general(kept, fmt)


def _read_strptime_general(kept: pa.Array, fmt: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    n = len(kept)
    pattern = _strptime_regex(fmt)
    if pattern is None:  # per-cell fallback, exact but slow (rare directives such as %j, %p, %z)
        micros = np.zeros(n, np.int64)
        ok = np.zeros(n, bool)
        epoch = datetime(1970, 1, 1)
        for k, v in enumerate(kept.to_pylist()):
            if v is None:
                continue
            try:
                parsed = datetime.strptime(v, fmt)
            except ValueError:
                continue
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(tz=None).replace(tzinfo=None)
            delta = parsed - epoch
            micros[k] = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
            ok[k] = True
        return micros, ok
    parts, matched, _ = _extract(kept, pattern)
    micros, valid = _civil(parts, n)
    return micros, matched & valid


def _read_iso_datetime(kept: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    n = len(kept)
    layout = _fixed_layout("%Y-%m-%dT%H:%M:%S")
    assert layout is not None  # every directive of this format has a fixed width
    parts, fast = _read_fixed(kept, layout)
    micros, valid = _civil(parts, n) if parts else (np.zeros(n, np.int64), np.zeros(n, bool))
    ok = fast & valid & (parts.get("H", np.zeros(n)) <= 23) & (parts.get("M", np.zeros(n)) <= 59)
    rest = ~fast & _np(pc.is_valid(kept))
    if rest.any():  # fractions of a second, time zones, typos
        idx = np.flatnonzero(rest)
        sub_micros, sub_ok = _read_iso_general(kept.take(pa.array(idx)))
        micros[idx] = sub_micros
        ok[idx] = sub_ok
    return micros, ok


def _read_iso_general(kept: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    n = len(kept)
    parts, matched, st = _extract(kept, _ISO_DATETIME)
    micros, valid = _civil(parts, n)
    ok = matched & valid & (parts.get("H", np.zeros(n)) <= 23) & (parts.get("M", np.zeros(n)) <= 59)
    # A UTC offset moves the instant to UTC (the stored timestamps are UTC).
    zone = st.field("z")
    if zone.null_count < len(zone):
        z = zone.to_pylist()
        for k, tz in enumerate(z):
            if tz and tz != "Z":
                sign = -1 if tz[0] == "+" else 1
                digits = tz[1:].replace(":", "")
                micros[k] += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 1_000_000
    return micros, ok
