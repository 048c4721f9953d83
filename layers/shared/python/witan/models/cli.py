"""`witan model ...`: fit, run and back-test the SEND model on local files.

Exit codes: 0 done, 2 bad input (a one-line message naming file, row and column; no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from witan.modelrun.limits import MAX_PROJECTION_YEARS

MODELS = ("send",)


def _warn(inputs: Any) -> None:
    for w in inputs.warnings:
        where = w.file + (f", row {w.row}" if w.row is not None else "")
        print(f"warning: {where}: {w.message}", file=sys.stderr)


def _params(args: argparse.Namespace) -> int:
    from witan.modelrun.pipeline import table_csv
    from witan.models.send.fit import fit, parameter_tables
    from witan.models.send.inputs import read_inputs_dir

    inputs = read_inputs_dir(args.inputs)
    _warn(inputs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in parameter_tables(fit(inputs), valid_only=True).items():
        (out / f"{name}.csv").write_bytes(table_csv(table))
        print(f"{out / (name + '.csv')}: {table.num_rows} rows")
    return 0


def _run(args: argparse.Namespace) -> int:
    from witan.modelrun.local import run_local
    from witan.models.send.inputs import ModelInputError, read_inputs_dir
    from witan.models.send.scenarios import load_scenario_file

    inputs = read_inputs_dir(args.inputs)
    _warn(inputs)
    scenarios = [s for f in args.scenario for s in load_scenario_file(f)]
    if len({s.name for s in scenarios}) != len(scenarios):
        raise ModelInputError(
            "--scenario", "scenario names must be unique", column="name", code="invalid-scenario"
        )
    meta = run_local(
        inputs,
        args.out,
        simulations=args.simulations,
        seed=args.seed,
        scenarios=scenarios,
        workers=args.workers,
        chunk_size=args.chunk_size,
        projection_years=args.years,
    )
    print(
        f"{args.simulations} simulations x {1 + len(scenarios)} scenario(s), seed {args.seed}, "
        f"{meta['projection_years']} projected year(s) after {meta['seed_year']}: "
        f"{len(meta['outputs'])} files in {args.out}"
    )
    import pyarrow.csv as pacsv

    count = pacsv.read_csv(Path(args.out) / "count.csv")
    for year, mean, lo, hi in zip(
        *(count[c].to_pylist() for c in ("calendar_year", "mean", "p2_5", "p97_5")), strict=True
    ):
        print(f"  {year}: mean {mean:,.1f}  (95% of simulations {lo:,.0f} to {hi:,.0f})")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from witan.models.send.backtest import backtest
    from witan.models.send.inputs import read_inputs_dir

    inputs = read_inputs_dir(args.inputs)
    _warn(inputs)
    table = backtest(inputs, args.fit_until, args.simulations, args.seed)
    print(f"fit on transitions up to {args.fit_until}; {args.simulations} simulations")
    print(f"{'year':>6} {'actual':>8} {'mean':>10} {'95% range':>17} {'error':>9} {'%':>7}  covered")
    for r in table.to_pylist():
        print(
            f"{r['calendar_year']:>6} {r['actual']:>8} {r['mean']:>10.1f} "
            f"{r['p2_5']:>8.0f}-{r['p97_5']:<8.0f} "
            f"{r['error']:>9.1f} {r['pct_error']:>7.2f}  {'yes' if r['within_95'] else 'NO'}"
        )
    errors = table["pct_error"].to_numpy()
    print(f"mean absolute % error {abs(errors).mean():.2f}")
    if args.out:
        from witan.modelrun.pipeline import table_csv

        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "backtest.csv").write_bytes(table_csv(table))
    return 0


def _guarded(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from witan.models.send.inputs import ModelInputError

        try:
            return int(func(args))
        except ModelInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # e.g. an output folder that cannot be written
            print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
            return 2

    return run


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _projection_years(text: str) -> int:
    value = _positive(text)
    if value > MAX_PROJECTION_YEARS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_PROJECTION_YEARS}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser("model", help="fit, run and back-test demand models (SEND)")
    actions = model.add_subparsers(dest="model_action", required=True, metavar="ACTION")

    p = actions.add_parser("params", help="fit the model and write its parameters as CSV")
    p.add_argument("model", choices=MODELS)
    p.add_argument("--inputs", required=True, help="folder with transitions, population, costs, valid-states")
    p.add_argument("--out", required=True, help="folder for the parameter CSVs")
    p.set_defaults(func=_guarded(_params))

    r = actions.add_parser("run", help="fit, simulate (baseline and scenarios) and summarise")
    r.add_argument("model", choices=MODELS)
    r.add_argument("--inputs", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--simulations", type=_positive, default=1000)
    r.add_argument("--seed", type=_non_negative, default=0)
    r.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="FILE",
        help="scenario JSON (an object or a list; format in witan/models/send/scenarios.py)",
    )
    r.add_argument("--workers", type=_positive, default=1, help="processes simulating chunks in parallel")
    r.add_argument("--chunk-size", type=_positive, default=None, help="simulations per chunk")
    r.add_argument(
        "--years",
        "--projection-years",
        dest="years",
        type=_projection_years,
        default=None,
        metavar="N",
        help=f"calendar years to project after the seed year, 1 to {MAX_PROJECTION_YEARS} "
        "(default: every population year; each needs population rows)",
    )
    r.set_defaults(func=_guarded(_run))

    b = actions.add_parser("backtest", help="fit on years up to Y and compare projections with actuals")
    b.add_argument("model", choices=MODELS)
    b.add_argument("--inputs", required=True)
    b.add_argument("--fit-until", type=int, required=True, metavar="Y")
    b.add_argument("--simulations", type=_positive, default=200)
    b.add_argument("--seed", type=_non_negative, default=0)
    b.add_argument("--out", default=None, help="also write backtest.csv here")
    b.set_defaults(func=_guarded(_backtest))
