"""`witan model run|backtest send` end to end on generated data (a few simulations)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from witan.cli import main

STATS = ["mean", "sd", "iqr", "min", "p2_5", "q1", "median", "q3", "p97_5", "max", "ci_low", "ci_high"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_run_writes_summaries_charts_and_comparisons(
    synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.json"
    scenario.write_text(
        json.dumps(
            [
                {"name": "close-OOB", "invalid_settings": ["OOB"]},
                {"name": "recent", "filter_transitions": [{"calendar_year": {"lt": 2016}}]},
            ]
        )
    )
    out = tmp_path / "out"
    code = main(
        [
            "model",
            "run",
            "send",
            "--inputs",
            str(synthetic_dir),
            "--out",
            str(out),
            "--simulations",
            "8",
            "--seed",
            "3",
            "--scenario",
            str(scenario),
            "--workers",
            "2",
        ]
    )
    assert code == 0, capsys.readouterr().err
    expected_keys = {
        "count": [],
        "by_academic_year": ["academic_year"],
        "by_ay_group": ["ay_group"],
        "by_need": ["need"],
        "by_setting": ["setting"],
        "by_state": ["academic_year", "state"],
        "cost": [],
    }
    for name, keys in expected_keys.items():
        rows = read_csv(out / f"{name}.csv")
        assert list(rows[0]) == ["calendar_year", *keys, *STATS], name
        assert pq.read_table(out / f"{name}.parquet").num_rows == len(rows)
        assert (out / "scenarios" / "close-OOB" / f"{name}.csv").is_file()
    count = read_csv(out / "count.csv")
    assert [int(r["calendar_year"]) for r in count] == [2018, 2019, 2020, 2021]
    assert all(float(r["min"]) <= float(r["median"]) <= float(r["max"]) for r in count)
    assert float(count[0]["sd"]) == 0  # the seed year is the observed start
    # cost = count x cost per need-setting: the seed year's cost is fixed and positive
    assert float(read_csv(out / "cost.csv")[0]["mean"]) > 0
    oob = [r for r in read_csv(out / "scenarios" / "close-OOB" / "by_setting.csv") if r["setting"] == "OOB"]
    assert [float(r["max"]) for r in oob][1:] == [0.0, 0.0, 0.0]
    comparison = read_csv(out / "scenarios" / "close-OOB" / "comparison.csv")
    assert {r["measure"] for r in comparison} == {"count", "cost"}
    assert (
        float(next(r for r in comparison if r["measure"] == "count" and r["calendar_year"] == "2021")["mean"])
        < 0
    )
    for scen in ("baseline", "close-OOB", "recent"):
        for chart in ("count", "cost", "by_setting"):
            assert (out / "charts" / scen / f"{chart}.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seed"] == 3 and meta["simulations"] == 8
    assert len(meta["input_hashes"]["transitions"]) == 64 and meta["code_version"]["source_sha256"]
    from openpyxl import load_workbook

    wb = load_workbook(out / "summaries.xlsx", read_only=True)
    assert {"run", "count", "cost", "by_setting", "comparison"} <= set(wb.sheetnames)
    assert "2021" in capsys.readouterr().out


def test_same_seed_same_results_whatever_the_workers(synthetic_dir: Path, tmp_path: Path) -> None:
    args = ["model", "run", "send", "--inputs", str(synthetic_dir), "--simulations", "5", "--seed", "9"]
    assert main([*args, "--out", str(tmp_path / "a"), "--workers", "1"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--workers", "2", "--chunk-size", "2"]) == 0
    assert (tmp_path / "a" / "by_state.csv").read_text() == (tmp_path / "b" / "by_state.csv").read_text()


def test_backtest_reports_error_against_held_out_years(
    synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "model",
            "backtest",
            "send",
            "--inputs",
            str(synthetic_dir),
            "--fit-until",
            "2015",
            "--simulations",
            "20",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    rows = read_csv(tmp_path / "backtest.csv")
    assert [r["calendar_year"] for r in rows] == ["2017", "2018"]
    assert all(int(r["actual"]) > 0 for r in rows)
    assert abs(float(rows[0]["pct_error"])) < 25
    assert "mean absolute % error" in capsys.readouterr().out
    assert main(["model", "backtest", "send", "--inputs", str(synthetic_dir), "--fit-until", "2017"]) == 2
