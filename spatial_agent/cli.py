"""`spatial-agent` command: one ``register(subparsers)`` function per subcommand.

Other modules add subcommands by exposing ``register``; ``spatial_agent.reward`` is picked up when present.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def _agent(scene: str | None, planner: str) -> Any:
    from spatial_agent.agent import SpatialAgent
    from spatial_agent.tools import GeometricTool
    from spatialvlm_core.types import Scene3D

    tool = None
    if scene:
        path = Path(scene)
        if not path.is_file():
            raise FileNotFoundError(f"scene file not found: {path}")
        try:
            tool = GeometricTool(scene=Scene3D.model_validate_json(path.read_text()))
        except ValueError as e:
            raise ValueError(f"{path} is not a valid Scene3D JSON: {e}") from e
    plan = None
    if planner == "openai":
        from spatial_agent.planners.openai_planner import OpenAIPlanner

        plan = OpenAIPlanner()
    return SpatialAgent(tool=tool, planner=plan)


def _cmd_ask(args: argparse.Namespace) -> int:
    agent = _agent(args.scene, args.planner)
    result = agent.ask(args.image, args.question)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(result.answer)
    return 0


def register_ask(subparsers: Any) -> None:
    p = subparsers.add_parser("ask", help="answer a spatial question about an image")
    p.add_argument("image")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the full result with its trace as JSON")
    p.add_argument("--scene", default=None, help="Scene3D JSON of the image: answer geometrically from it")
    p.add_argument("--planner", choices=["rules", "openai"], default="rules",
                   help="rules (embedded, offline) or openai (env SPATIAL_AGENT_BASE_URL/_MODEL/_API_KEY)")
    p.set_defaults(func=_cmd_ask)


def _cmd_mcp(args: argparse.Namespace) -> int:
    from spatial_agent.adapters import mcp_server

    mcp_server(_agent(args.scene, args.planner)).run("stdio")
    return 0


def register_mcp(subparsers: Any) -> None:
    p = subparsers.add_parser("mcp", help="serve the agent as an MCP tool over stdio")
    p.add_argument("--scene", default=None)
    p.add_argument("--planner", choices=["rules", "openai"], default="rules")
    p.set_defaults(func=_cmd_mcp)


REGISTRARS: list[Callable[[Any], None]] = [register_ask, register_mcp]
OPTIONAL_MODULES = ("spatial_agent.reward",)  # each may define register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spatial-agent", description="Spatial reasoning agent over images")
    sub = parser.add_subparsers(dest="command", required=True)
    for reg in REGISTRARS:
        reg(sub)
    for name in OPTIONAL_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(mod, "register"):
            mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError) as e:
        print(f"spatial-agent: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
