"""Bad SEND inputs get errors naming file, row and column; witan.send's warnings stay warnings."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from send_fixtures import TRANSITIONS, VALID, population, write_inputs
from witan.models.send.inputs import ModelInputError, read_inputs_dir


def error_for(tmp_path: Path, **tables: str) -> ModelInputError:
    with pytest.raises(ModelInputError) as info:
        inputs = read_inputs_dir(write_inputs(tmp_path / "in", **tables))
        from send_fixtures import send_files, send_request
        from witan.modelrun.pipeline import plan
        from witan.modelrun.storage import LocalStorage

        assert inputs is not None
        plan(LocalStorage(tmp_path / "run"), send_files(tmp_path / "in"), send_request("r", 2, 0, 2))
    return info.value


def test_missing_column(tmp_path: Path) -> None:
    without = "".join(
        ",".join(p for i, p in enumerate(line.split(",")) if i != 5) + "\n"
        for line in TRANSITIONS.splitlines()
    )
    err = error_for(tmp_path, transitions=without)
    assert (err.file, err.column, err.code) == ("transitions.csv", "need-2", "missing-column")


def test_state_outside_valid_states(tmp_path: Path) -> None:
    err = error_for(tmp_path, transitions=TRANSITIONS.replace("2020,B,X,0,B,X,1", "2020,B,X,0,Z,X,1"))
    assert (err.file, err.row, err.column, err.code) == ("transitions.csv", 4, "setting-2", "invalid-state")
    err = error_for(tmp_path, transitions=TRANSITIONS.replace("2020,A,X,1,A,X,2", "2020,A,X,1,A,X,3"))
    assert (err.row, err.column) == (6, "academic-year-2")
    assert "outside setting A's range 0..2" in str(err)


def test_not_a_number(tmp_path: Path) -> None:
    err = error_for(tmp_path, transitions=TRANSITIONS.replace("2020,A,X,1,A", "2020,A,X,one,A"))
    assert (err.row, err.column, err.code) == (6, "academic-year-1", "not-an-integer")


def test_negative_population(tmp_path: Path) -> None:
    err = error_for(tmp_path, population=population() + "2024,0,-5\n")
    assert (err.file, err.column, err.code) == ("population.csv", "population", "negative-count")
    assert err.row == len(population().splitlines())  # the appended line (header not counted)


def test_missing_population_year(tmp_path: Path) -> None:
    pop = population(years=range(2021, 2024))  # no 2020: needed to fit joiner rates
    err = error_for(tmp_path, population=pop)
    assert err.code == "missing-population" and "calendar year 2020" in str(err)
    assert err.file == "population.csv"
    err = error_for(tmp_path, population=population(years=range(2020, 2022)))
    assert err.code == "missing-population" and "no population years after the seed year 2021" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    d = write_inputs(tmp_path / "in")
    (d / "costs.csv").unlink()
    with pytest.raises(ModelInputError, match=r"costs\.csv: input file not found"):
        read_inputs_dir(d)


def test_warnings_like_witan_send(tmp_path: Path) -> None:
    transitions = TRANSITIONS + "2019,A,X,0,A,X,2\n"  # a year without joiners or leavers, an ay jump
    inputs = read_inputs_dir(
        write_inputs(tmp_path / "in", transitions=transitions, costs="need,setting,cost\nX,A,10\n")
    )
    codes = {(w.code, w.row) for w in inputs.warnings}
    assert ("academic-year-step", 7) in codes
    assert ("no-joiners", None) in codes and ("no-leavers", None) in codes
    assert ("missing-cost", None) in codes
    assert any("setting B" in w.message for w in inputs.warnings if w.code == "missing-cost")


def test_parquet_inputs_read_the_same(tmp_path: Path, tiny_dir: Path) -> None:
    out = tmp_path / "pq"
    out.mkdir()
    for f in tiny_dir.glob("*.csv"):
        table = pacsv.read_csv(f)
        pq.write_table(
            pa.table({c.replace("-", "_"): table[c] for c in table.column_names}),
            out / f"{f.stem.replace('-', '_')}.parquet",
        )
    a, b = read_inputs_dir(tiny_dir), read_inputs_dir(out)
    assert a.population == b.population and a.costs == b.costs and a.valid_states == b.valid_states
    assert (a.transitions.setting2 == b.transitions.setting2).all()


def test_cli_bad_input_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from witan.cli import main

    d = write_inputs(tmp_path / "in", valid_states=VALID.replace("A,g,0,2", "A,g,3,2"))
    code = main(
        ["model", "run", "send", "--inputs", str(d), "--out", str(tmp_path / "o"), "--simulations", "2"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "valid-states.csv, row 1, column 'max-academic-year'" in err
    assert "Traceback" not in err
