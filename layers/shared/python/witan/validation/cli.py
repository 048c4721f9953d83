"""`witan validate FILE --schema SCHEMA [--sheet NAME] [--format json|text] [--report-dir DIR]`.

Exit codes: 0 valid, 1 invalid (the report lists the problems), 2 unusable input: the file or schema
cannot be used at all (missing file, bad schema, a file that is not a readable table). The message for
2 goes to stderr; with --format json stdout still holds exactly one report object when a report exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from witan.validation.records import FILE_REFUSAL_CODES

# Codes meaning the file could not be read as a table at all, or is beyond a limit.
UNUSABLE_CODES = FILE_REFUSAL_CODES


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check a CSV or XLSX file against a table schema",
        description="Check a CSV or XLSX file against a Frictionless Table Schema.",
    )
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--schema", required=True, metavar="SCHEMA", help="schema file path or built-in name")
    p.add_argument("--sheet", metavar="NAME", help="XLSX sheet (default: first non-empty sheet)")
    p.add_argument("--format", choices=("json", "text"), default="text")
    p.add_argument(
        "--error-limit", type=int, default=1000, metavar="N", help="errors listed (all are counted)"
    )
    p.add_argument("--report-dir", type=Path, metavar="DIR", help="also write report files (JSON, CSV, XLSX)")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"witan validate: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from witan.validation import SchemaError, check_file, load_schema

    try:
        schema = load_schema(args.schema)
    except SchemaError as exc:
        return _fail(str(exc))
    path: Path = args.file
    if not path.is_file():
        return _fail(f"{path}: no such file")
    report = check_file(path, schema, file_name=path.name, sheet=args.sheet, error_limit=args.error_limit)
    if args.format == "json":
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_text(report, path)
    if args.report_dir is not None:
        from witan.validation.reports import write_reports

        args.report_dir.mkdir(parents=True, exist_ok=True)
        written = write_reports(
            report,
            args.report_dir,
            source_path=path,
            file_name=path.name,
            sheet=args.sheet,
            schema_name=schema.name or None,
        )
        for kind, out in sorted(written.items()):
            print(f"witan validate: wrote {kind} report {out}", file=sys.stderr)
    unusable = sorted(UNUSABLE_CODES & set(report.counts))
    if unusable:
        first = next(e for e in report.errors if e.code in UNUSABLE_CODES)
        print(f"witan validate: {path}: {first.message}", file=sys.stderr)
        return 2
    return 0 if report.valid else 1


def _print_text(report: Any, path: Path) -> None:
    if report.valid:
        print(f"{path}: valid ({report.rows} rows)")
        return
    counts = ", ".join(f"{code} {n}" for code, n in sorted(report.counts.items()))
    print(f"{path}: INVALID, {report.error_count} errors in {report.rows} rows ({counts})")
    for e in report.errors:
        where = f"row {e.row}" if e.row is not None else "file"
        if e.column:
            where += f" col {e.column}"
        print(f"  {where:<18} {e.code:<17} {e.message}")
    if len(report.errors) < report.error_count:
        print(f"  ... and {report.error_count - len(report.errors)} more")
