"""One error style across the CLI, the LangChain tool and the MCP server (#21): bad input and a tool that raised
come back as the cause, flagged as an error, never hidden ("the tool failed") or raised into the caller's loop."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from spatial_agent.adapters import (
    TOOL_NAME,
    dispatch_openai_call,
    langchain_tool,
    mcp_server,
    openai_tool_schema,
    tool_failure,
)
from spatial_agent.agent import SpatialAgent
from spatial_agent.schema import SubQuery
from spatial_agent.testing import living_room
from spatial_agent.tools import GeometricTool
from spatialvlm_core.types import Answer

REPO = Path(__file__).resolve().parents[1]
QUESTION = "How tall is the lamp?"


class _BrokenTool:
    """A tool whose measurement raises, as a reconstruction with a missing backend does."""

    name = "broken"

    def ask(self, image: Any, question: str) -> Answer:
        raise RuntimeError("depth backend exploded")

    def measure(self, image: Any, query: SubQuery) -> Answer:
        raise RuntimeError("depth backend exploded")


def _png(path: Path) -> Path:
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    return path


def _corrupt(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n this is no png")
    return path


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "spatial_agent.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


# --------------------------------------------------------------------------- CLI
def test_cli_names_a_corrupt_image_and_exits_2(tmp_path: Path) -> None:
    bad = _corrupt(tmp_path / "x.png")
    r = _cli("ask", str(bad), QUESTION)
    assert r.returncode == 2, r.stderr
    assert "x.png" in r.stderr and "not a readable image" in r.stderr and "Traceback" not in r.stderr
    assert "the tool failed" not in r.stdout + r.stderr


@pytest.mark.slow
def test_cli_says_why_the_tool_failed_and_exits_1(tmp_path: Path) -> None:
    # An unknown monocular depth backend fails inside the tool, after routing (not a CLI argument check).
    img = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(img)
    r = _cli("ask", str(img), "How wide is the sofa?", "--depth-model", "no-such-depth")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "unknown depth backend 'no-such-depth'" in r.stderr
    assert "unknown depth backend 'no-such-depth'" in r.stdout  # the answer says it too
    assert r.stderr.startswith("spatial-agent: error:") and "Traceback" not in r.stderr


def test_tool_failure_is_told_from_an_object_not_found(tmp_path: Path) -> None:
    img = _png(tmp_path / "room.png")
    broken = SpatialAgent(tool=_BrokenTool()).ask(img, QUESTION)
    assert broken.error and "the broken tool failed: RuntimeError: depth backend exploded" in broken.error
    assert tool_failure(broken) == broken.error
    missing = SpatialAgent(tool=GeometricTool(scene=living_room())).ask(img, "How tall is the giraffe?")
    assert missing.error and tool_failure(missing) is None  # an answer ("I cannot find ..."), not a failure


# --------------------------------------------------------------------------- LangChain
def test_langchain_tool_returns_errors_instead_of_raising(tmp_path: Path) -> None:
    from langchain_core.messages import ToolMessage

    good = _png(tmp_path / "room.png")
    lc = langchain_tool(SpatialAgent(tool=GeometricTool(scene=living_room())))
    assert json.loads(lc.invoke({"image": str(good), "question": QUESTION}))["value"] == pytest.approx(1.6)
    out = lc.invoke({"image": str(tmp_path / "nope.png"), "question": QUESTION})
    assert isinstance(out, str) and "image not found" in out and "nope.png" in out
    out = lc.invoke({"image": str(good), "question": "  "})
    assert "question must be a non-empty string" in out

    corrupt = _corrupt(tmp_path / "x.png")
    out = langchain_tool(SpatialAgent()).invoke({"image": str(corrupt), "question": QUESTION})
    assert "x.png" in out and "not a readable image" in out

    msg = langchain_tool(SpatialAgent(tool=_BrokenTool())).invoke(
        {"type": "tool_call", "id": "call_1", "name": TOOL_NAME, "args": {"image": str(good), "question": QUESTION}})
    assert isinstance(msg, ToolMessage) and msg.status == "error"
    assert "depth backend exploded" in str(msg.content)


# --------------------------------------------------------------------------- OpenAI
def test_openai_dispatch_answers_errors_for_the_model(tmp_path: Path) -> None:
    good = _png(tmp_path / "room.png")
    call = json.dumps({"image": str(tmp_path / "nope.png"), "question": QUESTION})
    out = json.loads(dispatch_openai_call(SpatialAgent(tool=GeometricTool(scene=living_room())), TOOL_NAME, call))
    assert set(out) == {"error"} and "image not found" in out["error"] and "nope.png" in out["error"]
    call = json.dumps({"image": str(good), "question": QUESTION})
    out = json.loads(dispatch_openai_call(SpatialAgent(tool=_BrokenTool()), TOOL_NAME, call))
    assert "the broken tool failed: RuntimeError: depth backend exploded" in out["error"]


def _objects(schema: Any) -> list[dict[str, Any]]:
    if isinstance(schema, dict):
        own = [schema] if schema.get("type") == "object" else []
        return own + [o for v in schema.values() for o in _objects(v)]
    if isinstance(schema, list):
        return [o for v in schema for o in _objects(v)]
    return []


def test_openai_schema_is_strict_mode_ready() -> None:
    fn = openai_tool_schema()["function"]
    assert fn["strict"] is True
    objs = _objects(fn["parameters"])
    assert objs, fn
    for obj in objs:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])
    assert "default" not in json.dumps(fn["parameters"])


# --------------------------------------------------------------------------- MCP
def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def test_mcp_reports_a_corrupt_image_and_a_failing_tool_with_is_error(tmp_path: Path) -> None:
    from mcp import Client

    corrupt = _corrupt(tmp_path / "x.png")
    good = _png(tmp_path / "room.png")

    async def main() -> tuple[Any, Any]:
        async with Client(mcp_server(SpatialAgent(), roots=[tmp_path])) as c:
            bad = await c.call_tool(TOOL_NAME, {"image": str(corrupt), "question": QUESTION})
        async with Client(mcp_server(SpatialAgent(tool=_BrokenTool()), roots=[tmp_path])) as c:
            failed = await c.call_tool(TOOL_NAME, {"image": str(good), "question": QUESTION})
        return bad, failed

    bad, failed = asyncio.run(main())
    assert bad.is_error and "x.png" in _text(bad) and "not a readable image" in _text(bad)
    assert failed.is_error and "the broken tool failed: RuntimeError: depth backend exploded" in _text(failed)
