"""The `witan` command line. Each area registers its own subcommands from its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules exposing `register(subparsers)`; each adds its subcommands and sets `func` on them.
# `func(args) -> int` returns the exit code. Imported lazily so `witan validate` stays fast.
COMMAND_MODULES: tuple[str, ...] = (
    "witan.api.cli",
    "witan.audit.cli",
    "witan.datapacks.cli",
    "witan.models.cli",
    "witan.validation.cli",
    "local.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="witan", description="Witan: collect, check, share and model data.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
