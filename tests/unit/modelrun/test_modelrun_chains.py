"""Runs that feed runs: a demography run's population as SEND's and adult social care's input."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pytest
from witan.modelrun.errors import ModelInputError
from witan.modelrun.registry import get_model


def demography_population() -> pa.Table:
    rows = [
        (gss, sex, age, year, 100.0 * (age + 1) + (0.4 if sex == "F" else 0.0) + (year - 2020))
        for gss in ("E06000001", "E06000002")
        for sex in ("F", "M")
        for age in range(0, 91)
        for year in (2020, 2021)
    ]
    return pa.table(
        dict(zip(["gss_code", "sex", "age", "year", "population"], zip(*rows, strict=True), strict=True))
    )


def test_send_takes_academic_year_as_age_minus_five_both_sexes_whole_people() -> None:
    chain = get_model("send").chains["population"]
    assert (chain.model, chain.output) == ("demography", "population")
    converted = chain.convert(demography_population(), {"gss_code": "E06000002"})
    rows = list(csv.DictReader(io.StringIO(converted.data.decode())))
    assert list(rows[0]) == ["calendar-year", "academic-year", "population"]
    by_key = {(int(r["calendar-year"]), int(r["academic-year"])): int(r["population"]) for r in rows}
    # Age 10 in 2021 is academic year 5: 2 x (1100 + 1) + 0.4, rounded to whole people.
    assert by_key[(2021, 5)] == round(2 * 1101 + 0.4)
    assert min(a for _, a in by_key) == -5 and max(a for _, a in by_key) == 20
    assert "E06000002" in converted.name


def test_a_council_must_be_named_when_the_run_projected_several() -> None:
    for model in ("send", "asc"):
        convert = get_model(model).chains["population"].convert
        with pytest.raises(ModelInputError) as info:
            convert(demography_population(), {})
        assert (info.value.code, info.value.column) == ("missing-input", "gss_code")
        assert "E06000001, E06000002" in info.value.detail


def test_adult_social_care_takes_one_councils_rows_as_they_are() -> None:
    converted = (
        get_model("asc").chains["population"].convert(demography_population(), {"gss_code": "E06000001"})
    )
    rows = list(csv.DictReader(io.StringIO(converted.data.decode())))
    assert len(rows) == 2 * 91 * 2 and {r["sex"] for r in rows} == {"F", "M"}
