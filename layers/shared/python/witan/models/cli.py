"""`witan model ...`: list and describe the registered models; fit and run any of them on local files.

  witan model list
  witan model describe NAME
  witan model params NAME --inputs DIR --out DIR
  witan model run NAME --inputs DIR --out DIR [--simulations N] [--seed S] [--scenario FILE ...]
                       [--workers N] [--chunk-size N] [the model's own flags]
  witan model backtest send --inputs DIR --fit-until Y

Exit codes: 0 done, 2 bad input (a message naming file, row and column; no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from witan.modelrun.registry import get_model, model_names


def _warn(warnings: list[dict[str, Any]]) -> None:
    for w in warnings:
        where = str(w["file"]) + (f", row {w['row']}" if w.get("row") is not None else "")
        print(f"warning: {where}: {w['message']}", file=sys.stderr)


def _list(args: argparse.Namespace) -> int:
    for name in model_names():
        d = get_model(name)
        kind = "stochastic" if d.stochastic else "deterministic"
        print(f"{d.name:<12} {d.version:<8} {kind:<14} {d.title}")
    return 0


def describe(name: str) -> dict[str, Any]:
    """A model's description as `GET /models/{name}` and `witan model describe` give it."""
    from witan.modelrun.inputs import schema_path

    d = get_model(name)
    inputs = []
    for role in d.inputs:
        path = schema_path(d, role)
        chain = d.chains.get(role.role)
        inputs.append(
            {
                "role": role.role,
                "file": role.file,
                "formats": list(role.formats),
                "required": role.required,
                "many": role.many,
                "description": role.description,
                "schema": json.loads(path.read_text(encoding="utf-8")) if path is not None else None,
                "from_model_run": None
                if chain is None
                else {
                    "model": chain.model,
                    "output": chain.output,
                    "description": chain.description,
                    "options": dict(chain.options),
                },
            }
        )
    return {
        "name": d.name,
        "title": d.title,
        "version": d.version,
        "description": d.description,
        "stochastic": d.stochastic,
        "inputs": inputs,
        "parameters": d.parameters_schema,
        "scenario": d.scenario_schema,
        "outputs": [{"name": o.name, "description": o.description} for o in d.outputs],
    }


def _describe(args: argparse.Namespace) -> int:
    print(json.dumps(describe(args.name), indent=2))
    return 0


def _params(args: argparse.Namespace) -> int:
    from witan.modelrun.inputs import check_inputs, read_role_files
    from witan.modelrun.pipeline import parquet_bytes, table_csv
    from witan.modelrun.request import checked_parameters

    d = get_model(args.name)
    files = read_role_files(d, args.inputs)
    check_inputs(d, files)
    parameters = checked_parameters(d, d.parameters_from_args(args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in d.fitted_tables(files, parameters).items():
        (out / f"{name}.csv").write_bytes(table_csv(table))
        (out / f"{name}.parquet").write_bytes(parquet_bytes(table))
        print(f"{out / (name + '.csv')}: {table.num_rows} rows")
    return 0


def load_scenario_files(paths: list[str]) -> list[dict[str, Any]]:
    """Scenario JSON files: each an object or a list of objects."""
    from witan.modelrun.errors import ModelInputError

    scenarios: list[dict[str, Any]] = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ModelInputError(path, f"cannot be read ({exc.strerror})", code="invalid-scenario") from None
        except json.JSONDecodeError as exc:
            raise ModelInputError(
                path, f"is not valid JSON ({exc.msg})", row=exc.lineno, code="invalid-json"
            ) from None
        scenarios += data if isinstance(data, list) else [data]
    return scenarios


def _summary_lines(out: Path, output: str) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(out / f"{output}.parquet")
    stats = [c for c in ("mean", "p2_5", "p97_5", "lower", "upper") if c in table.column_names]
    values = stats or [table.column_names[-1]]
    keys = [c for c in table.column_names if c not in values and not pa.types.is_floating(table[c].type)]
    lines = []
    for row in table.slice(0, 12).to_pylist():
        key = " ".join(str(row[k]) for k in keys)
        if "p2_5" in row:
            lines.append(
                f"  {key}: mean {row['mean']:,.1f}  "
                f"(95% of simulations {row['p2_5']:,.0f} to {row['p97_5']:,.0f})"
            )
        elif "lower" in row:
            lines.append(
                f"  {key}: mean {row['mean']:,.1f}  (interval {row['lower']:,.1f} to {row['upper']:,.1f})"
            )
        else:
            lines.append(f"  {key}: {row[values[0]]:,.3f}")
    if table.num_rows > 12:
        lines.append(f"  ... {table.num_rows - 12} more rows in {out / (output + '.csv')}")
    return lines


def _run(args: argparse.Namespace) -> int:
    from witan.modelrun.inputs import read_role_files
    from witan.modelrun.local import run_local

    d = get_model(args.name)
    files = read_role_files(d, args.inputs)
    scenarios = load_scenario_files(args.scenario)
    meta = run_local(
        d.name,
        files,
        args.out,
        parameters=d.parameters_from_args(args),
        scenarios=scenarios,
        simulations=args.simulations,
        seed=args.seed,
        workers=args.workers,
        chunk_size=args.chunk_size,
        inputs={role: [f.name for f in given] for role, given in files.items()},
    )
    _warn(meta["warnings"])
    runs = f"{meta['simulations']} simulations x " if meta["stochastic"] else ""
    about = f", {meta['summary']}" if meta.get("summary") else ""
    print(
        f"{d.name}: {runs}{len(meta['scenarios'])} scenario(s) with the baseline, seed {meta['seed']}"
        f"{about}: {len(meta['outputs'])} files in {args.out}"
    )
    for line in _summary_lines(Path(args.out), d.headline):
        print(line)
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from witan.modelrun.pipeline import table_csv
    from witan.models.send.backtest import backtest
    from witan.models.send.inputs import read_inputs_dir

    inputs = read_inputs_dir(args.inputs)
    _warn([w.to_dict() for w in inputs.warnings])
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
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "backtest.csv").write_bytes(table_csv(table))
    return 0


def _guarded(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from witan.modelrun.errors import ModelInputError

        try:
            return int(func(args))
        except ModelInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            for e in getattr(exc, "errors", [])[1:20]:
                where = f"row {e['row']}, " if e.get("row") is not None else ""
                print(f"  {where}{e.get('field') or ''} [{e['code']}]: {e['message']}", file=sys.stderr)
            return 2
        except OSError as exc:  # e.g. an output folder that cannot be written
            print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
            return 2

    return run


def _whole(lower: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lower:
            raise argparse.ArgumentTypeError(f"must be at least {lower}")
        return value

    return parse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    model = subparsers.add_parser("model", help="list, describe, fit and run demand models")
    actions = model.add_subparsers(dest="model_action", required=True, metavar="ACTION")
    actions.add_parser("list", help="the registered models").set_defaults(func=_guarded(_list))
    describe_parser = actions.add_parser("describe", help="a model's inputs, parameters, scenarios, outputs")
    describe_parser.add_argument("name", choices=model_names())
    describe_parser.set_defaults(func=_guarded(_describe))

    params = actions.add_parser("params", help="fit a model and write its parameters as CSV and Parquet")
    params_models = params.add_subparsers(dest="name", required=True, metavar="MODEL")
    run = actions.add_parser("run", help="fit, project (baseline and scenarios) and summarise")
    run_models = run.add_subparsers(dest="name", required=True, metavar="MODEL")
    for name in model_names():
        d = get_model(name)
        p = params_models.add_parser(name, help=d.title)
        p.add_argument("--inputs", required=True, help="folder with the model's input files")
        p.add_argument("--out", required=True, help="folder for the parameter tables")
        d.add_arguments(p)
        p.set_defaults(func=_guarded(_params))
        r = run_models.add_parser(name, help=d.title)
        r.add_argument("--inputs", required=True, help="folder with the model's input files")
        r.add_argument("--out", required=True)
        if d.stochastic:
            r.add_argument("--simulations", type=_whole(1), default=1000)
            r.add_argument("--workers", type=_whole(1), default=1, help="processes running chunks")
            r.add_argument("--chunk-size", type=_whole(1), default=None, help="simulations per chunk")
        else:
            r.set_defaults(simulations=1, workers=1, chunk_size=None)
        r.add_argument("--seed", type=_whole(0), default=0)
        r.add_argument(
            "--scenario",
            action="append",
            default=[],
            metavar="FILE",
            help="scenario JSON (an object or a list); `witan model describe` gives the format",
        )
        d.add_arguments(r)
        r.set_defaults(func=_guarded(_run))

    b = actions.add_parser("backtest", help="SEND: fit on years up to Y and compare projections with actuals")
    b.add_argument("name", choices=("send",))
    b.add_argument("--inputs", required=True)
    b.add_argument("--fit-until", type=int, required=True, metavar="Y")
    b.add_argument("--simulations", type=_whole(1), default=200)
    b.add_argument("--seed", type=_whole(0), default=0)
    b.add_argument("--out", default=None, help="also write backtest.csv here")
    b.set_defaults(func=_guarded(_backtest))
