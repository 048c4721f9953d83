"""Reproduce: a SEND run re-run from the pack's own inputs gives the sealed outputs byte for byte."""

from __future__ import annotations

import io
import json
import zipfile

from witan.datapacks.reproduce import CLOSE, DIFFERENT, IDENTICAL, SAME_VALUES, compare_output, reproduce_zip

from tests.unit.datapacks.pack_fixtures import Built
from tests.unit.datapacks.test_datapacks_bundle import _rezip


def test_reproduce_gives_identical_csv_and_parquet(built: Built) -> None:
    report = reproduce_zip(built.zip_bytes)
    assert report.ok, report.lines()
    (run,) = report.runs
    strict = [o for o in run.outputs if o.path.endswith((".csv", ".parquet"))]
    assert len(strict) >= 10 and all(o.status == IDENTICAL for o in strict)
    assert run.sealed_code_version["source_sha256"] and run.current_code_version["source_sha256"]
    assert report.lines()[-1] == "ok"


def test_reproduce_refuses_an_input_that_is_not_the_one_the_run_read(built: Built) -> None:
    path = "runs/run1/inputs/costs/costs.csv"
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        text = archive.read(path).replace(b"\n", b"\r\n")
    report = reproduce_zip(_rezip(built.zip_bytes, {path: text}))
    assert not report.ok
    assert any(f"changed: {path}" in p for p in report.verify_problems)
    assert "input costs is not the file the run read" in report.runs[0].problems[0]


def test_compare_outputs_names_float_formatting() -> None:
    sealed = b"year,mean\n2020,0.1\n2021,2.5\n"
    assert compare_output("a.csv", sealed, sealed).status == IDENTICAL
    assert compare_output("a.csv", sealed, b"year,mean\n2020,0.10000000000000001\n2021,2.5\n").status == CLOSE
    assert compare_output("a.csv", sealed, b"year,mean\n2020,0.1000001\n2021,2.5\n").status == DIFFERENT
    assert compare_output("a.csv", sealed, None).ok is False


def test_compare_parquet_by_values_when_bytes_differ() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"year": [2020, 2021], "mean": [0.1, 2.5]})
    one, two = io.BytesIO(), io.BytesIO()
    pq.write_table(table, one, compression="zstd")
    pq.write_table(table, two, compression="snappy")
    assert compare_output("a.parquet", one.getvalue(), two.getvalue()).status == SAME_VALUES
    shifted = pa.table({"year": [2020, 2021], "mean": [0.1 + 1e-15, 2.5]})
    three = io.BytesIO()
    pq.write_table(shifted, three)
    assert compare_output("a.parquet", one.getvalue(), three.getvalue()).status == CLOSE
    assert json.dumps(compare_output("a.png", b"x", b"y").status)


def test_plain_comparison_needs_no_pyarrow() -> None:
    from witan.datapacks.reproduce import PARQUET_BYTES, compare_output_plain

    sealed = b"year,mean\n2020,0.1\n2021,2.5\n"
    assert compare_output_plain("a.csv", sealed, sealed).status == IDENTICAL
    assert (
        compare_output_plain("a.csv", sealed, b"year,mean\n2020,0.10000000000000001\n2021,2.5\n").status
        == CLOSE
    )
    assert compare_output_plain("a.csv", sealed, b"year,mean\n2020,0.2\n2021,2.5\n").status == DIFFERENT
    assert compare_output_plain("a.csv", sealed, b"year,total\n2020,0.1\n2021,2.5\n").status == DIFFERENT
    assert compare_output_plain("a.csv", sealed, b"year,mean\n2020,0.1\n").status == DIFFERENT
    parquet = compare_output_plain("a.parquet", b"x", b"y")
    assert parquet.status == PARQUET_BYTES and not parquet.ok
    assert compare_output_plain("a.png", b"x", None).ok is False
