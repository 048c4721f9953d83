"""Reading SSDA903 tables: names in any order, both date styles, xlsx; bad input names file, row, column."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from witan.modelrun.errors import ModelInputError
from witan.models.cic.cleaning import clean
from witan.models.cic.inputs import read_returns, read_returns_dir
from witan.models.cic.run import fit

HEADER = (
    "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB,LA,YEAR\n"
    "1,1,01/05/2010,WBRI,A1,,,X,2021\n"
    "2,2,2012-02-29,WBRI,A2,,,X,2021\n"
)
EPISODES_COLS = (
    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN,LA,YEAR\n"
)
EPISODES = EPISODES_COLS + (
    "1,01/06/2020,S,C2,N1,U4,PR1,01/09/2020,X1,CARPL,A1,A2,X,X,2021\n"
    "1,01/09/2020,P,C2,N1,K2,PR4,,,,A1,A2,X,X,2021\n"
    "2,2020-07-01,S,C2,N1,U1,PR1,2021-01-01,E4A,,A1,A2,X,X,2021\n"
)


def returns(episodes: str = EPISODES, header: str = HEADER) -> object:
    return read_returns(("episodes.csv", episodes.encode()), ("header.csv", header.encode()), None)


def error(episodes: str = EPISODES, header: str = HEADER, parameters: dict | None = None) -> ModelInputError:
    with pytest.raises(ModelInputError) as info:
        fit(returns(episodes, header), parameters or {})  # type: ignore[arg-type]
    return info.value


def test_reads_small_returns() -> None:
    fitted = fit(returns(), {})  # type: ignore[arg-type]
    assert fitted.history.data_start == int(np.datetime64("2020-04-01", "D").astype(np.int64))
    assert fitted.history.stock[-1].sum() == 1  # child 1 still in residential care


def test_columns_in_any_order_give_the_same_result() -> None:
    cols = EPISODES_COLS.strip().split(",")
    rows = [r.split(",") for r in EPISODES.strip().split("\n")[1:]]
    order = list(reversed(range(len(cols))))
    shuffled = (
        ",".join(cols[i] for i in order) + "\n" + "".join(",".join(r[i] for i in order) + "\n" for r in rows)
    )
    a, b = clean(returns()), clean(returns(shuffled))  # type: ignore[arg-type]
    assert np.array_equal(a.decom, b.decom) and np.array_equal(a.dec, b.dec)


def test_missing_column() -> None:
    err = error(EPISODES.replace("PLACE_PROVIDER", "PROVIDER"))
    assert (err.file, err.column, err.code) == ("episodes.csv", "PLACE_PROVIDER", "missing-column")


def test_unparseable_date() -> None:
    err = error(EPISODES.replace("01/09/2020,X1", "31/02/2020,X1"))
    assert (err.file, err.row, err.column, err.code) == ("episodes.csv", 1, "DEC", "bad-date")
    err = error(header=HEADER.replace("01/05/2010", "May 2010"))
    assert (err.file, err.row, err.column) == ("header.csv", 1, "DOB")


def test_dec_before_decom() -> None:
    err = error(EPISODES.replace("2021-01-01,E4A", "2020-01-01,E4A"))
    assert (err.row, err.column, err.code) == (3, "DEC", "dec-before-decom")


def test_unknown_place_code() -> None:
    err = error(EPISODES.replace(",K2,", ",Q9,"))
    assert (err.row, err.column, err.code) == (2, "PLACE", "unknown-code")


def test_reference_period_outside_the_data() -> None:
    err = error(parameters={"reference_start": "2019-01-01"})
    assert err.code == "period-outside-data"


def test_start_without_a_known_stock() -> None:
    err = error(parameters={"start": "2030-01-01"})
    assert (err.column, err.code) == ("start", "start-outside-data")


def test_missing_table(tmp_path: Path) -> None:
    (tmp_path / "episodes.csv").write_text(EPISODES)
    with pytest.raises(ModelInputError) as info:
        read_returns_dir(tmp_path)
    assert info.value.code == "missing-table" and info.value.file == "header.csv"


def test_rows_without_dob_are_counted_not_lost() -> None:
    episodes = clean(returns(header=HEADER.replace("01/05/2010", "")))  # type: ignore[arg-type]
    assert dict(episodes.report)["dropped: no DOB (child not in the header or DOB blank)"] == 2


def test_xlsx_matches_csv(synthetic_dir: Path, tmp_path: Path) -> None:
    import csv

    for stem in ("episodes", "header"):
        book = openpyxl.Workbook()
        sheet = book.active
        with (synthetic_dir / f"{stem}.csv").open() as f:
            for row in csv.reader(f):
                sheet.append(row)
        book.save(tmp_path / f"{stem}.xlsx")
    shutil.copy(synthetic_dir / "uasc.csv", tmp_path / "uasc.csv")
    a, b = clean(read_returns_dir(synthetic_dir)), clean(read_returns_dir(tmp_path))
    assert len(a) == len(b) and np.array_equal(a.decom, b.decom) and np.array_equal(a.placement, b.placement)


def test_dropped_rows_are_warned_about() -> None:
    from witan.models.cic.run import MemoryStore, plan_returns

    planned = plan_returns(returns(header=HEADER.replace("01/05/2010", "")), {}, [], MemoryStore())  # type: ignore[arg-type]
    assert [(w.code, w.file) for w in planned.warnings] == [("episodes-dropped", "episodes.csv")]
    assert "2 episode row(s) dropped: no DOB" in planned.warnings[0].message


def test_transition_out_of_an_empty_state_names_the_row() -> None:
    # child 1 leaves fostering the day it starts: nobody was in that state the day before
    err = error(
        EPISODES.replace(
            "01/06/2020,S,C2,N1,U4,PR1,01/09/2020,X1,CARPL", "01/06/2020,S,C2,N1,U4,PR1,01/06/2020,E4A,"
        )
    )
    assert (err.row, err.column, err.code) == (1, "DEC", "transition-from-empty-state")


def test_filters_partition_the_episodes(synthetic_dir: Path) -> None:
    returns_ = read_returns_dir(synthetic_dir)
    everyone = clean(returns_)
    uasc, others = clean(returns_, {"uasc": True}), clean(returns_, {"uasc": False})
    assert len(uasc) + len(others) == len(everyone) and len(uasc) > 0
    assert len(clean(returns_, {"la": ["Synthshire", "Elsewhere"], "sex": "1"})) == int(
        (everyone.sex == "1").sum()
    )
    with pytest.raises(ModelInputError, match="no episodes left"):
        clean(returns_, {"la": "Elsewhere"})
