"""`spatialvlm` command: each subcommand lives in the module that owns the capability.

A module joins the CLI by exposing ``register(subparsers)`` that adds its parser and sets ``func``
(a callable taking the parsed ``argparse.Namespace`` and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Modules that contribute subcommands; heavy imports happen inside their handlers, not here.
SUBCOMMAND_MODULES: list[str] = [
    "spatialvlm_core.sim.cli",
    "spatialvlm_core.reconstruct",
    "spatialvlm_core.pipeline",
    "spatialvlm_core.train.cli",
    "spatialvlm_core.infer",
]


# Errors in what the user gave (a missing or unreadable file, a bad value): exit 2 and the message. Anything
# else is a bug: exit 1, the exception's one-line message and where to get the traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)  # OSError: FileNotFound, Permission, PIL


def one_line(e: BaseException) -> str:
    """The exception's message on one line (pydantic and endpoints write several), never empty."""
    return " ".join(str(e).split()) or type(e).__name__


def split_debug(argv: Sequence[str] | None) -> tuple[list[str], bool]:
    """``--debug`` anywhere on the line (before or after the subcommand), or ``SPATIALVLM_DEBUG=1``."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("SPATIALVLM_DEBUG", "") not in ("", "0")
    return [a for a in args if a != "--debug"], debug


def run_command(prog: str, args: argparse.Namespace, debug: bool,
                user_errors: tuple[type[BaseException], ...] = USER_ERRORS) -> int:
    """Run the parsed subcommand: every failure is one line on stderr naming what failed, and a non-zero exit
    (2: bad input, 1: a bug, 130: interrupted); ``debug`` lets the traceback through instead."""
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if debug:
            raise
        if isinstance(e, user_errors):
            print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
            return 2
        print(f"{prog}: internal error ({type(e).__name__}): {one_line(e)} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spatialvlm", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv, debug = split_debug(argv)
    args = build_parser().parse_args(argv)
    return run_command(f"spatialvlm {args.command}", args, debug)


if __name__ == "__main__":
    raise SystemExit(main())
