"""The agent behind other frameworks: a LangChain tool, an OpenAI function schema + dispatcher, an MCP server.

One error style for all three: a question the agent cannot take (a missing, unreadable or non-image file, a bad
question, a tool that raised) comes back as the error text, flagged as an error (MCP ``isError``, a LangChain
``ToolMessage`` with ``status="error"``), never as a bare "Error executing tool" or a raised exception.

The MCP server reads images only under its allowed roots (the working directory, ``--root`` directories and
``SPATIAL_AGENT_MCP_ROOTS``): a path outside them is refused without looking at it, and inside them a missing
and an unreadable file get the same message, so a client cannot probe which files exist.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field

from spatial_agent.agent import SpatialAgent
from spatial_agent.planners.base import PlannerError
from spatial_agent.schema import AgentResult

TOOL_NAME = "spatial_ask"
TOOL_DESCRIPTION = (
    "Answer a metric spatial question about an image (distances, free-space gaps, sizes, whether something fits "
    "or can be reached). Returns the answer, the yes/no decision or value in metres, and the measurements used."
)
ROOTS_ENV = "SPATIAL_AGENT_MCP_ROOTS"  # extra image roots for the MCP server, os.pathsep-separated


class AskArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str = Field(description="path of the image file")
    question: str = Field(description="spatial question about the image, e.g. 'Can a 1 m wide robot fit between "
                                      "the sofa and the chairs?'")


class AskError(ValueError):
    """The agent could not answer: bad input, or a tool that raised. The message says why."""


def tool_failure(result: AgentResult) -> str | None:
    """The tool's error when the agent gave up because its tool raised (not when an object was not found)."""
    if result.error is None:
        return None
    errs = [s.error for s in result.steps if s.node == "measure" and s.error and s.answer is None]
    return result.error if errs else None


def _checked_summary(agent: SpatialAgent, image: str, question: str) -> dict[str, Any]:
    """The agent's answer as a JSON-able dict; the user's input errors and tool failures raised as
    :class:`AskError` (one line). "I cannot find a sofa" is an answer (``error`` set), not a failure."""
    try:
        r = agent.ask(image, question)
    except (OSError, ValueError, TypeError, PlannerError) as e:  # OSError: missing / unreadable file
        raise AskError(" ".join(str(e).split())) from e
    failed = tool_failure(r)
    if failed:
        raise AskError(failed)
    return {"answer": r.answer, "decision": r.decision, "value": r.value, "unit": r.unit, "error": r.error,
            "measurements": {k: a.text for k, a in r.sub_answers.items()}, "planner_calls": r.planner_calls}


# --------------------------------------------------------------------------- LangChain
def langchain_tool(agent: SpatialAgent | None = None) -> Any:
    """A ``langchain_core.tools.StructuredTool`` that returns the agent's answer as JSON, or the error text.

    Errors do not raise: ``invoke`` returns the message (a ``ToolMessage`` with ``status="error"`` when called
    with a tool call), so an agent loop can show it to the model instead of crashing.
    """
    ag = agent or SpatialAgent()

    def run(image: str, question: str) -> str:
        try:
            return json.dumps(_checked_summary(ag, image, question))
        except AskError as e:
            raise ToolException(str(e)) from e
        except Exception as e:  # a bug: still an answer the model can read, with the type to report it by
            raise ToolException(f"{type(e).__name__}: {e}") from e

    return StructuredTool.from_function(func=run, name=TOOL_NAME, description=TOOL_DESCRIPTION, args_schema=AskArgs,
                                        handle_tool_error=True, handle_validation_error=True)


# --------------------------------------------------------------------------- OpenAI function calling
def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema in OpenAI strict-mode form: every object closed (additionalProperties false) with all its
    properties required (an optional one stays nullable, as pydantic writes ``X | None``); no titles/defaults."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items() if k not in ("title", "default")}
        if out.get("type") == "object" and "properties" in out:
            out["additionalProperties"] = False
            out["required"] = list(out["properties"])
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]  # type: ignore[return-value]
    return schema


def openai_tool_schema() -> dict[str, Any]:
    """The ``tools=[...]`` entry for OpenAI chat completions, usable with ``strict: true``."""
    params = AskArgs.model_json_schema()
    params["properties"] = {k: _strict(v) for k, v in params["properties"].items()}
    return {"type": "function", "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "strict": True,
                                             "parameters": _strict(params)}}


def dispatch_openai_call(agent: SpatialAgent, name: str, arguments: str | dict[str, Any]) -> str:
    """Run one tool call from an OpenAI reply; returns the JSON string to send back as the tool message.

    A question the agent cannot take (missing or unreadable image, a tool that raised) is answered with
    ``{"error": "<why>"}`` for the model to read; a call this dispatcher cannot parse raises ``ValueError``.
    """
    if name != TOOL_NAME:
        raise ValueError(f"unknown tool {name!r}; this dispatcher serves {TOOL_NAME!r}")
    try:
        raw = json.loads(arguments) if isinstance(arguments, str) else arguments
        args = AskArgs.model_validate(raw)
    except (json.JSONDecodeError, ValueError) as e:
        raise ValueError(f"bad arguments for {TOOL_NAME}: {e}") from e
    try:
        return json.dumps(_checked_summary(agent, args.image, args.question))
    except AskError as e:
        return json.dumps({"error": str(e)})


# --------------------------------------------------------------------------- MCP
def allowed_roots(extra: Sequence[str | Path] = ()) -> list[Path]:
    """The MCP server's image roots: the working directory, ``$SPATIAL_AGENT_MCP_ROOTS`` and ``extra``."""
    env = [p for p in os.environ.get(ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    roots: list[Path] = []
    for r in [Path.cwd(), *env, *extra]:
        path = Path(r).expanduser()
        if not path.is_dir():
            raise ValueError(f"image root {str(r)!r} is not a directory")
        path = path.resolve()
        if path not in roots:
            roots.append(path)
    return roots


def _within(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def image_under_roots(image: str, roots: Sequence[Path]) -> Path:
    """``image`` (relative to the working directory) when it is a readable file under one of ``roots``.

    Outside the roots: refused before touching the file system, so nothing is revealed about it. Inside: a
    missing, unreadable or non-file path all get one message. A symlink that leads out of the roots is refused.
    """
    lexical = Path(os.path.abspath(os.path.expanduser(image)))  # normalises '..' without following links
    outside = AskError(f"image path {image!r} is outside the allowed roots ({', '.join(map(str, roots))}); "
                       f"start the server with --root DIR or set {ROOTS_ENV}")
    if not _within(lexical, roots):
        raise outside
    if not _within(Path(os.path.realpath(lexical)), roots):
        raise outside
    try:
        with open(lexical, "rb") as fh:  # readable, and a file (a directory raises IsADirectoryError)
            fh.read(1)
    except OSError:
        raise AskError(f"cannot read image {image!r}: no such file, or not readable") from None
    return lexical


def mcp_server(agent: SpatialAgent | None = None, roots: Sequence[str | Path] | None = None) -> Any:
    """An MCP server (mcp 2.x ``MCPServer``, or 1.x ``FastMCP``) exposing ``spatial_ask``; run over stdio.

    ``roots``: the directories images may be read from (default :func:`allowed_roots`: the working directory
    and ``$SPATIAL_AGENT_MCP_ROOTS``). Errors come back as the tool result's text with ``isError`` true.
    """
    try:
        from mcp.server.mcpserver import MCPServer as Server  # optional (mcp extra)
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:  # mcp 1.x
        from mcp.server.fastmcp import FastMCP as Server
        from mcp.server.fastmcp.exceptions import ToolError

    ag = agent or SpatialAgent()
    root_dirs = allowed_roots() if roots is None else [Path(r).expanduser().resolve() for r in roots]
    server = Server("spatial-agent", instructions=TOOL_DESCRIPTION)

    @server.tool(name=TOOL_NAME, description=TOOL_DESCRIPTION)
    def spatial_ask(image: str, question: str) -> dict[str, Any]:
        try:
            path = image_under_roots(image, root_dirs)
            return _checked_summary(ag, str(path), question)
        except AskError as e:  # ToolError: the client gets this text with isError, not a generic message
            raise ToolError(str(e)) from e

    return server
