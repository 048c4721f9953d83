"""Malformed uploads give one clear error each, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from validation_files import codes, write_xlsx
from witan.validation import check_file, parse_schema

S = parse_schema({"fields": [{"name": "a", "type": "integer"}, {"name": "b"}]})


def check(path: Path, name: str | None = None) -> tuple[list[tuple[int | None, str | None, str]], str]:
    report = check_file(path, S, file_name=name or path.name)
    return codes(report), (report.errors[0].message if report.errors else "")


def test_zero_bytes(tmp_path: Path) -> None:
    (tmp_path / "z.csv").write_bytes(b"")
    assert check(tmp_path / "z.csv") == ([(None, None, "empty-file")], "The file is empty (0 bytes).")


def test_whitespace_only(tmp_path: Path) -> None:
    (tmp_path / "w.csv").write_bytes(b"\n\n  \n")
    assert check(tmp_path / "w.csv")[0] == [(None, None, "empty-file")]


def test_truncated_zip(tmp_path: Path) -> None:
    good = write_xlsx(tmp_path / "g.xlsx", [["a", "b"], [1, "x"]])
    bad = tmp_path / "t.xlsx"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    found, message = check(bad)
    assert found == [(None, None, "format-error")]
    assert "not a valid Excel workbook" in message


def test_renamed_binary(tmp_path: Path) -> None:
    blob = bytes(range(256)) * 64
    (tmp_path / "photo.xlsx").write_bytes(blob)
    (tmp_path / "photo.csv").write_bytes(blob)
    assert check(tmp_path / "photo.xlsx") == (
        [(None, None, "format-error")],
        "This file is named as an Excel workbook but is not one: it may be damaged or renamed.",
    )
    found, message = check(tmp_path / "photo.csv")
    assert found == [(None, None, "format-error")]
    assert "binary" in message


def test_old_xls_and_plain_zip(tmp_path: Path) -> None:
    import zipfile

    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    assert ".xls" in check(tmp_path / "old.xls")[1]
    with zipfile.ZipFile(tmp_path / "plain.xlsx", "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert check(tmp_path / "plain.xlsx") == (
        [(None, None, "format-error")],
        "This is a zip file but not an Excel workbook (.xlsx).",
    )


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_header_only(tmp_path: Path, kind: str) -> None:
    if kind == "csv":
        path = tmp_path / "h.csv"
        path.write_text("a,b\n")
    else:
        path = write_xlsx(tmp_path / "h.xlsx", [["a", "b"]])
    report = check_file(path, S, file_name=path.name)
    assert report.valid and report.rows == 0


def test_empty_workbook(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "e.xlsx", [])
    assert check(path)[0] == [(None, None, "empty-file")]


def test_ten_thousand_columns(tmp_path: Path) -> None:
    header = ["a", "b"] + [f"c{i}" for i in range(9998)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(header) + "\n" + ",".join(["1", "x"] + ["y"] * 9998) + "\n")
    report = check_file(path, S, file_name=path.name, error_limit=10)
    # Beyond MAX_COLUMNS (702, A to ZZ) the file is refused before any column is built (issue 15).
    assert report.counts == {"too-many-columns": 1}
    assert "at most 702" in report.errors[0].message


def test_one_megabyte_cell(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("a,b\n1," + "x" * 1_000_000 + "\nnope,y\n")
    report = check_file(path, S, file_name=path.name)
    # A cell may hold at most 32,767 characters, as in Excel: the file is refused there (issue 15).
    assert [(e.row, e.code) for e in report.errors] == [(2, "cell-too-large")]
    assert "column B" in report.errors[0].message
    at_limit = tmp_path / "ok.csv"
    at_limit.write_text("a,b\n1," + "x" * 32_767 + "\n")
    assert check_file(at_limit, S, file_name=at_limit.name).valid


def test_unclosed_quote(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,"never closed\n2,x\n')
    report = check_file(path, S, file_name=path.name, parquet_path=tmp_path / "q.parquet")
    # As a spreadsheet does, the open quote runs to the end of the file: one record, no crash.
    assert report.valid and report.rows == 1


def test_missing_file_is_a_format_error(tmp_path: Path) -> None:
    report = check_file(tmp_path / "gone.csv", S, file_name="gone.csv")
    assert [e.code for e in report.errors] == ["format-error"]


def test_record_longer_than_a_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import witan.validation.readers as readers

    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 4096)
    path = tmp_path / "long.csv"
    path.write_text("a,b\n" + "1,x\n" * 2000 + "2," + "y" * 20_000 + "\n")
    report = check_file(path, S, file_name=path.name)
    assert [e.code for e in report.errors] == ["format-error"]
    assert "longer than" in report.errors[0].message
