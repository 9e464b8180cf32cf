"""The agent behind other frameworks: a LangChain tool, an OpenAI function schema + dispatcher, an MCP server."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from spatial_agent.agent import SpatialAgent

TOOL_NAME = "spatial_ask"
TOOL_DESCRIPTION = (
    "Answer a metric spatial question about an image (distances, free-space gaps, sizes, whether something fits "
    "or can be reached). Returns the answer, the yes/no decision or value in metres, and the measurements used."
)


class AskArgs(BaseModel):
    image: str = Field(description="path of the image file")
    question: str = Field(description="spatial question about the image, e.g. 'Can a 1 m wide robot fit between "
                                      "the sofa and the chairs?'")


def _summary(agent: SpatialAgent, image: str, question: str) -> dict[str, Any]:
    r = agent.ask(image, question)
    return {"answer": r.answer, "decision": r.decision, "value": r.value, "unit": r.unit, "error": r.error,
            "measurements": {k: a.text for k, a in r.sub_answers.items()}, "planner_calls": r.planner_calls}


# --------------------------------------------------------------------------- LangChain
def langchain_tool(agent: SpatialAgent | None = None) -> Any:
    """A ``langchain_core.tools.StructuredTool`` that returns the agent's answer as JSON."""
    from langchain_core.tools import StructuredTool

    ag = agent or SpatialAgent()

    def run(image: str, question: str) -> str:
        return json.dumps(_summary(ag, image, question))

    return StructuredTool.from_function(func=run, name=TOOL_NAME, description=TOOL_DESCRIPTION, args_schema=AskArgs)


# --------------------------------------------------------------------------- OpenAI function calling
def openai_tool_schema() -> dict[str, Any]:
    """The ``tools=[...]`` entry for OpenAI chat completions."""
    return {"type": "function", "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION,
                                             "parameters": AskArgs.model_json_schema()}}


def dispatch_openai_call(agent: SpatialAgent, name: str, arguments: str | dict[str, Any]) -> str:
    """Run one tool call from an OpenAI reply; returns the JSON string to send back as the tool message."""
    if name != TOOL_NAME:
        raise ValueError(f"unknown tool {name!r}; this dispatcher serves {TOOL_NAME!r}")
    try:
        raw = json.loads(arguments) if isinstance(arguments, str) else arguments
        args = AskArgs.model_validate(raw)
    except (json.JSONDecodeError, ValueError) as e:
        raise ValueError(f"bad arguments for {TOOL_NAME}: {e}") from e
    return json.dumps(_summary(agent, args.image, args.question))


# --------------------------------------------------------------------------- MCP
def mcp_server(agent: SpatialAgent | None = None) -> Any:
    """An MCP server (mcp 2.x ``MCPServer``, or 1.x ``FastMCP``) exposing ``spatial_ask``; run over stdio."""
    try:
        from mcp.server.mcpserver import MCPServer as Server
    except ImportError:  # mcp 1.x
        from mcp.server.fastmcp import FastMCP as Server

    ag = agent or SpatialAgent()
    server = Server("spatial-agent", instructions=TOOL_DESCRIPTION)

    @server.tool(name=TOOL_NAME, description=TOOL_DESCRIPTION)
    def spatial_ask(image: str, question: str) -> dict[str, Any]:
        return _summary(ag, image, question)

    return server
