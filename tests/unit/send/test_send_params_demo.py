"""Fitted parameters on witan.send's demo inputs against a second, deliberately plain derivation of
docs/models/send.md's method written here: csv rows, loops and dicts, no numpy and nothing from
witan.models.send. Every parameter table must agree to 1e-9, both from `fit` and from the CSVs that
`witan model params send` writes. Skips only when the demo folder is absent (EPL data kept outside
the repository; never copied in)."""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from send_fixtures import WITAN_SEND_DEMO
from witan.cli import main
from witan.models.send.fit import fit, parameter_tables
from witan.models.send.inputs import read_inputs_dir

pytestmark = pytest.mark.skipif(
    not (WITAN_SEND_DEMO / "transitions.csv").is_file(),
    reason=f"witan.send demo data absent ({WITAN_SEND_DEMO})",
)

NONSEND = "NONSEND"
TOLERANCE = 1e-9
Key = tuple[object, ...]
Table = dict[Key, tuple[float, ...]]


def rows(name: str) -> list[dict[str, str]]:
    with (WITAN_SEND_DEMO / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def normalised_prior(hits: float, misses: float, empty: float) -> tuple[float, float]:
    """(hits + 0.5, misses + 0.5) scaled to sum 1; (empty, empty) when the academic year has no data."""
    if hits + misses == 0:
        return empty, empty
    return (hits + 0.5) / (hits + misses + 1), (misses + 0.5) / (hits + misses + 1)


def plain_parameters() -> dict[str, Table]:
    """docs/models/send.md, "Method": the fitted parameters, one formula at a time."""
    valid_rows = rows("valid-states")
    moves_to = {r["setting"]: set(split(r["setting->setting"])) for r in valid_rows}
    settings = [r["setting"] for r in valid_rows]
    valid: set[tuple[int, str, str]] = set()  # (academic year, need, setting)
    for r in valid_rows:
        for ay in range(int(r["min-academic-year"]), int(r["max-academic-year"]) + 1):
            for need in split(r["needs"]):
                valid.add((ay, need, r["setting"]))
    valid_ays = sorted({ay for ay, _, _ in valid})

    leavers: Counter[tuple[int, str, str]] = Counter()
    non_leavers: Counter[tuple[int, str, str]] = Counter()
    movers: Counter[tuple[int, str, str]] = Counter()
    non_movers: Counter[tuple[int, str, str]] = Counter()
    mover_dest: Counter[tuple[int, str, str, str, str]] = Counter()  # (ay, need, setting, need-2, setting-2)
    mover_dest_setting: dict[int, Counter[str]] = defaultdict(Counter)  # pooled over states, per ay
    joiners: Counter[tuple[int, int]] = Counter()  # (calendar year, academic year joined)
    joiner_states: Counter[tuple[int, str, str]] = Counter()
    calendar_years: set[int] = set()
    for r in rows("transitions"):
        cy, ay1, ay2 = int(r["calendar-year"]), int(r["academic-year-1"]), int(r["academic-year-2"])
        calendar_years.add(cy)
        s1, n1, s2, n2 = r["setting-1"], r["need-1"], r["setting-2"], r["need-2"]
        if s1 == NONSEND:  # joiner
            joiners[(cy, ay2)] += 1
            joiner_states[(ay2, n2, s2)] += 1
        elif s2 == NONSEND:  # leaver
            leavers[(ay1, n1, s1)] += 1
        else:
            non_leavers[(ay1, n1, s1)] += 1
            if s1 != s2:  # mover
                movers[(ay1, n1, s1)] += 1
                mover_dest[(ay1, n1, s1, n2, s2)] += 1
                mover_dest_setting[ay1][s2] += 1
            else:
                non_movers[(ay1, n1, s1)] += 1

    # Pooled destination settings per academic year; a year without movers takes the year below's,
    # in ascending order, so a run of such years inherits the last year that had movers (witan.send's
    # reading of "falling back to ay-1's counts": its fallback walks the years upwards).
    dest_by_ay: dict[int, Counter[str]] = {}
    for ay in valid_ays:
        dest_by_ay[ay] = mover_dest_setting.get(ay) or dest_by_ay.get(ay - 1) or Counter()

    def pooled(counter: Counter[tuple[int, str, str]], ay: int) -> float:
        return float(sum(v for (a, _, _), v in counter.items() if a == ay))

    out: dict[str, Table] = {name: {} for name in ("leaver_beta", "mover_beta", "mover_dirichlet")}
    for ay, need, setting in sorted(valid):
        state = f"{need}-{setting}"
        pa, pb = normalised_prior(pooled(leavers, ay), pooled(non_leavers, ay), 0.5)
        k = (ay, need, setting)
        out["leaver_beta"][(ay, state)] = (leavers[k] + pa, non_leavers[k] + pb)
        pa, pb = normalised_prior(pooled(movers, ay), pooled(non_movers, ay), 1.0)
        out["mover_beta"][(ay, state)] = (movers[k] + pa, non_movers[k] + pb)

        # Mover destinations: prior over allowed settings plus the pooled destination counts at ay
        # (ay - 1's where ay has none), current setting dropped, normalised; then this state's movers.
        allowed = {s for s in settings if (ay, need, s) in valid} & moves_to[setting]
        pooled_dest = dest_by_ay[ay]
        prior: dict[str, float] = {}
        for s in settings:
            prior[s] = (1.0 / len(allowed) if s in allowed else 0.0) + pooled_dest.get(s, 0)
        del prior[setting]
        total = sum(prior.values())
        alphas: dict[str, float] = defaultdict(float)
        for s, value in prior.items():
            if total > 0 and value > 0:
                alphas[f"{need}-{s}"] += value / total
        for (a, n, s, n2, s2), count in mover_dest.items():
            if (a, n, s) == k:
                alphas[f"{n2}-{s2}"] += count
        for to_state, alpha in alphas.items():
            if alpha > 0:
                out["mover_dirichlet"][(ay, state, to_state)] = (alpha,)

    # Joiner rates over the general population of each historic calendar year.
    population = {
        (int(r["calendar-year"]), int(r["academic-year"])): int(r["population"]) for r in rows("population")
    }
    n_years = len(calendar_years)
    out["joiner_beta"] = {}
    out["joiner_dirichlet"] = {}
    for ay in valid_ays:
        alpha = beta = 0.0
        for cy in sorted(calendar_years):
            j = joiners[(cy, ay)]
            alpha += j / n_years if j else 0.001
            beta += (population[(cy, ay)] - j) / n_years
        out["joiner_beta"][(ay,)] = (alpha, beta)
        states = sorted((n, s) for a, n, s in valid if a == ay)
        for need, setting in states:
            out["joiner_dirichlet"][(ay, f"{need}-{setting}")] = (
                1.0 / len(states) + joiner_states[(ay, need, setting)],
            )
    return out


KEYS = {
    "leaver_beta": (("academic_year", "state"), ("alpha", "beta")),
    "mover_beta": (("academic_year", "state"), ("alpha", "beta")),
    "mover_dirichlet": (("academic_year", "state", "to_state"), ("alpha",)),
    "joiner_beta": (("academic_year",), ("alpha", "beta")),
    "joiner_dirichlet": (("academic_year", "state"), ("alpha",)),
}


def keyed(name: str, records: list[dict[str, object]]) -> Table:
    keys, values = KEYS[name]
    out: Table = {}
    for r in records:
        key = tuple(int(str(r[c])) if c == "academic_year" else str(r[c]) for c in keys)
        assert key not in out, (name, key)
        out[key] = tuple(float(str(r[c])) for c in values)
    return out


def assert_same(name: str, ours: Table, plain: Table) -> None:
    assert sorted(ours) == sorted(plain), (
        name,
        sorted(set(ours) - set(plain))[:5],
        sorted(set(plain) - set(ours))[:5],
    )
    worst = max(
        (abs(a - b) / max(1.0, abs(b)), key, a, b)
        for key in plain
        for a, b in zip(ours[key], plain[key], strict=True)
    )
    assert worst[0] <= TOLERANCE, f"{name} {worst[1]}: fit {worst[2]!r}, plain {worst[3]!r}"


@pytest.fixture(scope="module")
def plain() -> dict[str, Table]:
    return plain_parameters()


def test_the_plain_derivation_covers_the_demo(plain: dict[str, Table]) -> None:
    # Sizes that tie the plain derivation to the demo: valid academic years -3..19 (setting S to 19).
    assert sorted(k[0] for k in plain["joiner_beta"]) == list(range(-3, 20))
    assert len(plain["leaver_beta"]) == len(plain["mover_beta"]) > 1000
    # Each mover Dirichlet's prior part sums to 1: a state's alphas sum to 1 + its observed movers.
    sums: dict[Key, float] = defaultdict(float)
    for (ay, state, _), (alpha,) in plain["mover_dirichlet"].items():
        sums[(ay, state)] += alpha
    fractional = {round(v - math.floor(v), 9) for v in sums.values()}
    assert fractional == {0.0} or fractional == {0.0, 1.0}, sorted(fractional)[:5]
    assert max(sums.values()) > 1  # some states have observed movers


@pytest.mark.parametrize("name", list(KEYS))
def test_fit_matches_the_plain_derivation(plain: dict[str, Table], name: str) -> None:
    tables = parameter_tables(fit(read_inputs_dir(WITAN_SEND_DEMO)), valid_only=True)
    assert_same(name, keyed(name, tables[name].to_pylist()), plain[name])


def test_cli_params_csvs_match_the_plain_derivation(
    plain: dict[str, Table], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["model", "params", "send", "--inputs", str(WITAN_SEND_DEMO), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    for name in KEYS:
        with (tmp_path / f"{name}.csv").open(newline="") as fh:
            reader = csv.DictReader(fh)
            assert tuple(reader.fieldnames or ()) == KEYS[name][0] + KEYS[name][1], name
            assert_same(name, keyed(name, list(reader)), plain[name])
