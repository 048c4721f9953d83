"""Reading the inputs: header spellings, line endings, quoting, Parquet, folders; and every bad input
refused with the file, row and column named."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from demography_fixtures import tiny_files
from witan.modelrun.errors import ModelInputError
from witan.models.demography.inputs import normalise_header, read_inputs, read_inputs_dir
from witan.models.demography.projection import run
from witan.models.demography.synthetic import synthetic_files, write_files

Files = dict[str, tuple[str, bytes]]


@pytest.fixture
def files() -> Files:
    return tiny_files()


def replace(files: Files, role: str, text: str, name: str | None = None) -> Files:
    return {**files, role: (name or files[role][0], text.encode())}


def edit(files: Files, role: str, old: str, new: str) -> Files:
    text = files[role][1].decode()
    assert old in text
    return replace(files, role, text.replace(old, new, 1))


def refused(files: Files, parameters: dict | None = None) -> ModelInputError:
    with pytest.raises(ModelInputError) as info:
        run(read_inputs(files), parameters or {"last_year": 2017, "mortality_years": "2013-2014"})
    return info.value


def test_headers_normalised() -> None:
    assert normalise_header("GSS.Code") == "gss_code"
    assert normalise_header("Principal.2012") == "principal_2012"
    assert normalise_header("Popn-at-risk") == "popn_at_risk"
    assert normalise_header(" Domestic In ") == "domestic_in"


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_line_endings_and_quoted_codes_read_the_same(files: Files, ending: str) -> None:
    base = run(read_inputs(files), {"last_year": 2016})
    changed = dict(files)
    for role in ("population", "deaths"):
        text = files[role][1].decode().replace("E09000001", '"E09000001"').replace("\n", ending)
        changed = replace(changed, role, text)
    assert np.array_equal(run(read_inputs(changed), {"last_year": 2016}).population, base.population)


def test_folder_and_parquet(tmp_path: Path, files: Files) -> None:
    folder = write_files(tmp_path / "in", files)
    table = pacsv.read_csv(io.BytesIO(files["population"][1]))
    (folder / "population.csv").unlink()
    pq.write_table(table, folder / "population.parquet")
    inputs = read_inputs_dir(folder)
    assert inputs.files["population"] == "population.parquet"
    assert np.array_equal(
        run(inputs, {"last_year": 2016}).population, run(read_inputs(files), {"last_year": 2016}).population
    )
    assert set(inputs.hashes) == {f"{r}.csv" for r in files if r != "population"} | {"population.parquet"}


def test_missing_role(files: Files) -> None:
    del files["deaths"]
    with pytest.raises(ModelInputError) as info:
        read_inputs(files)
    assert (info.value.code, info.value.file) == ("missing-input", "deaths.csv")


def test_missing_trend_when_the_variant_needs_it(files: Files) -> None:
    del files["mortality_trend"]
    error = refused(files)
    assert (error.code, error.file) == ("missing-input", "mortality_trend.csv")
    # a fixed variant needs no trend
    run(read_inputs(files), {"last_year": 2016, "mortality_variant": "average-fixed"})


def test_unknown_column(files: Files) -> None:
    error = refused(edit(files, "deaths", "Year,Value\n", "Year,Value,Note\n"))
    assert (error.code, error.file, error.column) == ("unknown-column", "deaths.csv", "note")


def test_unknown_trend_column(files: Files) -> None:
    text = files["fertility_trend"][1].decode()
    header, rest = text.split("\n", 1)
    error = refused(replace(files, "fertility_trend", header.replace('"Low"', '"Lowest"') + "\n" + rest))
    assert (error.code, error.column) == ("unknown-column", "lowest")


def test_negative_count(files: Files) -> None:
    error = refused(edit(files, "international_out", "E09000001,F,5,2013,1\n", "E09000001,F,5,2013,-1\n"))
    assert (error.code, error.file, error.row, error.column) == (
        "negative-count",
        "international_out.csv",
        6,
        "value",
    )


def test_not_a_number(files: Files) -> None:
    error = refused(edit(files, "population", "E09000001,F,2,2012,100\n", "E09000001,F,2,2012,lots\n"))
    assert (error.code, error.row, error.column) == ("type-error", 3, "value")


def test_year_missing_from_a_window(files: Files) -> None:
    error = refused(files, {"last_year": 2016, "migration_years": "2012-2014"})
    assert (error.code, error.file, error.column) == ("missing-year", "domestic_in.csv", "year")
    assert "2012" in error.detail


def test_gss_code_missing_from_a_file(files: Files) -> None:
    text = files["births"][1].decode() + "E09000002,F,0,2014,40\nE09000002,M,0,2014,42\n"
    error = refused(replace(files, "births", text))
    assert error.code == "missing-council" and error.column == "gss_code"
    assert error.file == "population.csv" and "E09000002" in error.detail


@pytest.mark.parametrize(
    ("parameters", "file"),
    [
        ({"last_year": 2051}, "mortality_trend.csv"),
        ({"last_year": 2115, "mortality_variant": "average-fixed"}, "fertility_trend.csv"),
    ],
)
def test_last_year_beyond_the_trend(files: Files, parameters: dict, file: str) -> None:
    error = refused(files, {**parameters, "mortality_years": "2013-2014"})
    assert (error.code, error.file, error.column) == ("trend-too-short", file, "year")


def test_age_outside_0_to_90(files: Files) -> None:
    error = refused(edit(files, "deaths", "E09000001,M,90,2014,1\n", "E09000001,M,91,2014,1\n"))
    assert (error.code, error.file, error.column) == ("invalid-age", "deaths.csv", "age")
    assert error.row == 2 * 182


def test_sex_not_f_or_m(files: Files) -> None:
    error = refused(edit(files, "population", "E09000001,M,0,2012,100\n", "E09000001,X,0,2012,100\n"))
    assert (error.code, error.row, error.column) == ("invalid-sex", 92, "sex")


def test_duplicate_key(files: Files) -> None:
    text = files["deaths"][1].decode() + "E09000001,F,3,2013,1\n"
    error = refused(replace(files, "deaths", text))
    assert (error.code, error.file, error.row) == ("duplicate-key", "deaths.csv", 2 * 182 + 1)


def test_missing_rows_in_a_year(files: Files) -> None:
    error = refused(edit(files, "population", "E09000001,F,7,2013,100\n", ""))
    assert (error.code, error.file) == ("missing-rows", "population.csv")
    assert "age 7, year 2013" in error.detail


def test_domestic_duplicates_accepted() -> None:
    read_inputs(synthetic_files(1, duplicate_domestic=True))


def test_parquet_types_checked(tmp_path: Path, files: Files) -> None:
    table = pacsv.read_csv(io.BytesIO(files["deaths"][1]))
    table = table.set_column(2, "Age", pa.array(["x"] * table.num_rows))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    error = refused({**files, "deaths": ("deaths.parquet", buf.getvalue())})
    assert (error.code, error.file, error.row, error.column) == ("type-error", "deaths.parquet", 1, "age")


@pytest.mark.parametrize("text", ["", "GSS.Code,Sex,Age,Year,Value\n", "just words\n"])
def test_empty_or_headerless_file(files: Files, text: str) -> None:
    with pytest.raises(ModelInputError) as info:
        read_inputs(replace(files, "deaths", text))
    assert info.value.file == "deaths.csv"
