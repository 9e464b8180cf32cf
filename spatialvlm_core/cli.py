"""`spatialvlm` command: each subcommand lives in the module that owns the capability.

A module joins the CLI by exposing ``register(subparsers)`` that adds its parser and sets ``func``
(a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that contribute subcommands; heavy imports happen inside their handlers, not here.
SUBCOMMAND_MODULES: list[str] = [
    "spatialvlm_core.sim.cli",
    "spatialvlm_core.reconstruct",
    "spatialvlm_core.pipeline",
    "spatialvlm_core.train",
    "spatialvlm_core.infer",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spatialvlm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, PermissionError) as e:
        print(f"spatialvlm {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
