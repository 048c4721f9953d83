"""Bad input: every row or person left out is counted by reason; nothing usable left is an error that
names file, row and column; population and unit cost files are checked."""

from __future__ import annotations

import pytest
from asc_fixtures import COLUMNS, RESIDENTIAL, cld_file, population_csv
from witan.modelrun.definition import InputFile
from witan.modelrun.errors import ModelInputError
from witan.models.asc.inputs import read_cld, read_population, read_unit_costs
from witan.models.asc.states import derive_states


def test_missing_required_column_names_file_and_column() -> None:
    cols = tuple(c for c in COLUMNS if c != "Event Start Date")
    with pytest.raises(ModelInputError) as err:
        read_cld([cld_file([{}], "cld_q1.csv", columns=cols)])
    assert err.value.file == "cld_q1.csv"
    assert err.value.column == "Event Start Date"
    assert err.value.code == "missing-column"


def test_no_birth_columns_at_all_is_an_error() -> None:
    cols = tuple(c for c in COLUMNS if c != "Date of Birth")
    with pytest.raises(ModelInputError, match="Date of Birth"):
        read_cld([cld_file([{}], columns=cols)])


def test_each_bad_row_is_counted_by_reason() -> None:
    rows = [
        {"id": "OK"},
        {"id": "LABEL", "service": "Long Term Support: Spaceship"},
        {"id": "DATE", "start": "31st of June"},
        {"id": "END", "start": "2023-05-01", "end": "2023-04-01"},
        {"id": "", "nhs": ""},
        {"id": "NOBIRTH", "dob": ""},
        {"id": "DUMMY", "dob": "1900-01-01"},
        {"id": "EVENT", "event": "Telepathy"},
        {"id": "CARER", "client": "Carer", "service": "Unpaid Carer Support: Direct to Unpaid Carer"},
        {"id": "REQ", "event": "Request", "service": ""},
        {"id": "ST", "service": "Short Term Support: ST-Max"},
        {"id": "PSR", "psr": "Something else", "service": RESIDENTIAL, "mech": ""},
    ]
    cld = read_cld([cld_file(rows, "cld.csv")])
    st = derive_states(cld)
    rows_by = cld.excluded.rows
    assert rows_by["service type missing or not a CLD label"] == 1
    assert rows_by["event start date missing or not a date"] == 1
    assert rows_by["event end date before its start"] == 1
    assert rows_by["no person identifier"] == 1
    assert rows_by["no usable date of birth (missing, dummy or after the service started)"] == 2
    assert rows_by["event type not a CLD label"] == 1
    assert rows_by["carer, not a service user"] == 1
    assert rows_by["not a service event (request, assessment or review)"] == 1
    assert rows_by["not long-term support (short-term or carer support)"] == 1
    # the first offending row of each reason is kept for messages
    assert cld.excluded.first["event start date missing or not a date"] == ("cld.csv", 3, "Event Start Date")
    # An unknown support reason is kept (as unknown) with a warning, not dropped.
    assert sorted(st.people.ids.tolist()) == ["L:OK", "L:PSR"]
    assert any(w.code == "unknown-label" and "Something else" in w.message for w in cld.warnings)
    table = cld.excluded.table()
    assert table.column_names == ["why", "rows", "people"]
    assert sum(table["rows"].to_pylist()) == 10


def test_nothing_usable_left_names_file_row_and_column() -> None:
    rows = [
        {"id": "A", "start": "not a date"},
        {"id": "B", "start": "nor this"},
        {"id": "C", "event": "Request"},
    ]
    with pytest.raises(ModelInputError) as err:
        read_cld([cld_file(rows, "cld_2024q4.csv")])
    e = err.value
    assert (e.file, e.row, e.column, e.code) == ("cld_2024q4.csv", 1, "Event Start Date", "no-usable-rows")
    assert "2 row(s)" in str(e)


def test_unreadable_reporting_period_and_no_snapshot() -> None:
    with pytest.raises(ModelInputError) as err:
        derive_states(read_cld([cld_file([{"period": "2024-09-30", "start": "2024-08-01"}])]))
    assert err.value.code == "no-snapshot"


def test_population_checks() -> None:
    good = read_population(InputFile("population.csv", population_csv(range(2022, 2025))))
    assert good.values.shape == (3, 7, 2)
    # 18-24 is seven single years; 95+ is 23% of the 90+ row
    assert good.values[0, 0, 0] == 7000
    assert good.values[0, 6, 0] == pytest.approx(230)
    with pytest.raises(ModelInputError) as err:
        read_population(
            InputFile("population.csv", b"year,sex,age,population\n2024,F,20,100\n2024,X,20,100\n")
        )
    assert (err.value.row, err.value.column) == (2, "sex")
    with pytest.raises(ModelInputError) as err:
        read_population(InputFile("population.csv", b"year,sex,age,population\n2024,F,20,-5\n"))
    assert (err.value.row, err.value.column) == (1, "population")
    with pytest.raises(ModelInputError, match="missing column"):
        read_population(InputFile("population.csv", b"year,sex,population\n2024,F,5\n"))


def test_unit_costs_checks() -> None:
    costs = read_unit_costs(
        InputFile(
            "unit_costs.csv", b"setting,age_group,weekly_cost\nresidential,65+,1150\nnursing,all,1250\n"
        )
    )
    assert costs == {(1, 1): 1150.0, (0, 0): 1250.0, (0, 1): 1250.0}
    with pytest.raises(ModelInputError) as err:
        read_unit_costs(InputFile("unit_costs.csv", b"setting,age_group,weekly_cost\ncastle,65+,1\n"))
    assert (err.value.row, err.value.column) == (1, "setting")
