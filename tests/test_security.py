"""Security (#21): no pickle-based loading, the MCP server confined to its image roots (over real stdio, with the
mcp client), and ``serve-llm`` bounded: a client that hangs up stops its generation, a full queue gets 503, and
tokens and wall time per request are capped."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from spatial_agent.adapters import ROOTS_ENV, TOOL_NAME, allowed_roots
from spatial_agent.testing import living_room

REPO = Path(__file__).resolve().parents[1]
QUESTION = "How tall is the lamp?"


# --------------------------------------------------------------------------- no pickle
_PICKLE_LOADS = [
    (re.compile(r"\bpickle\.loads?\("), "pickle.load"),
    (re.compile(r"\bjoblib\b"), "joblib"),
    (re.compile(r"allow_pickle\s*=\s*True"), "np.load(allow_pickle=True)"),
    (re.compile(r"torch\.load\((?![^)]*weights_only\s*=\s*True)"), "torch.load without weights_only=True"),
    (re.compile(r"\b(dill|cloudpickle)\.loads?\("), "dill/cloudpickle"),
]


def test_no_pickle_based_loading_in_the_sources() -> None:
    found = []
    for pkg in ("spatialvlm_core", "spatial_agent", "evals", "benchmarks", "scripts"):
        for path in sorted((REPO / pkg).rglob("*.py")):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                found += [f"{path.relative_to(REPO)}:{i}: {what}" for rx, what in _PICKLE_LOADS if rx.search(line)]
    assert not found, "pickle-based loading (it runs code from the file):\n" + "\n".join(found)


def test_the_pickle_check_catches_what_it_names() -> None:  # the patterns above are not vacuous
    bad = ["state = pickle.load(fh)", "torch.load(p)", "torch.load(p, weights_only=False)",
           "np.load(p, allow_pickle=True)", "import joblib"]
    for line in bad:
        assert any(rx.search(line) for rx, _ in _PICKLE_LOADS), line
    assert not any(rx.search("torch.load(path, weights_only=True)") for rx, _ in _PICKLE_LOADS)


# --------------------------------------------------------------------------- MCP roots
def test_allowed_roots_are_the_working_directory_plus_env_and_flags(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ROOTS_ENV, f"{a}{os.pathsep}")
    assert allowed_roots([b]) == [tmp_path.resolve(), a.resolve(), b.resolve()]
    with pytest.raises(ValueError, match="not a directory"):
        allowed_roots([tmp_path / "missing"])


def test_mcp_over_stdio_reads_images_only_under_its_roots(tmp_path: Path) -> None:
    from mcp import Client, StdioServerParameters

    root, cwd, outside = tmp_path / "root", tmp_path / "cwd", tmp_path / "outside"
    for d in (root, cwd, outside):
        d.mkdir()
    img = root / "room.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(cwd / "here.png")
    secret = outside / "secret.png"
    secret.write_bytes(img.read_bytes())
    (root / "link.png").symlink_to(secret)
    (root / "folder.png").mkdir()
    locked = root / "locked.png"
    locked.write_bytes(img.read_bytes())
    locked.chmod(0)
    scene = tmp_path / "scene.json"
    scene.write_text(living_room().model_dump_json())
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "spatial_agent.cli", "mcp", "--scene", str(scene), "--root", str(root)],
        cwd=str(cwd), env={"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), ROOTS_ENV: ""})

    async def main() -> dict[str, Any]:
        out = {}
        async with Client(params) as c:
            for key, image in [("ok", str(img)), ("relative", "here.png"), ("missing", str(root / "nope.png")),
                               ("folder", str(root / "folder.png")), ("locked", str(locked)),
                               ("outside", str(secret)), ("outside_missing", str(outside / "nope.png")),
                               ("dotdot", str(root / ".." / "outside" / "secret.png")), ("link", str(root / "link.png"))]:
                out[key] = await c.call_tool(TOOL_NAME, {"image": image, "question": QUESTION})
            out["empty_question"] = await c.call_tool(TOOL_NAME, {"image": str(img), "question": " "})
        return out

    try:
        res = asyncio.run(main())
    finally:
        locked.chmod(0o600)

    def text(key: str) -> str:
        return " ".join(getattr(c, "text", "") for c in res[key].content)

    assert not res["ok"].is_error and res["ok"].structured_content["value"] == pytest.approx(1.6)
    assert not res["relative"].is_error  # the working directory is a root by default
    # Inside a root: missing, a directory and (unless we are root) an unreadable file read the same.
    cases = ["missing", "folder"] + ([] if os.geteuid() == 0 else ["locked"])
    for key in cases:
        assert res[key].is_error and "cannot read image" in text(key), (key, text(key))
    shapes = {text(k).replace(str(root / n), "P") for k, n in
              [("missing", "nope.png"), ("folder", "folder.png"), ("locked", "locked.png")] if k in cases}
    assert len(shapes) == 1, shapes
    # Outside every root: refused, and the same words whether the file exists or not.
    for key in ("outside", "outside_missing", "dotdot", "link"):
        assert res[key].is_error and "outside the allowed roots" in text(key), (key, text(key))
    assert (text("outside").replace(str(secret), "P") == text("outside_missing").replace(str(outside / "nope.png"), "P"))
    assert res["empty_question"].is_error and "question must be a non-empty string" in text("empty_question")
