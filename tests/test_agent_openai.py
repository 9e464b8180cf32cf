"""OpenAIPlanner against a real HTTP server on 127.0.0.1 with scripted chat-completions replies."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from spatial_agent import GeometricTool, SpatialAgent
from spatial_agent.local_llm import send_json
from spatial_agent.planners import PlannerUnavailable
from spatial_agent.planners.base import PlannerOutputError
from spatial_agent.planners.openai_planner import OpenAIPlanner, RetryPolicy, extract_json_object
from spatial_agent.testing import living_room

PLAN = {"subqueries": [{"id": "g", "kind": "gap", "a": "the sofa", "b": "the chairs"}], "compute": "g >= 1.0 m",
        "answer_template": "{decision}: the gap is {g}."}


def completion(message: dict[str, Any]) -> dict[str, Any]:
    return {"id": "cmpl-1", "object": "chat.completion", "created": 0, "model": "test",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def tool_call(args: dict[str, Any] | str) -> dict[str, Any]:
    arguments = args if isinstance(args, str) else json.dumps(args)
    return completion({"content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "submit_plan", "arguments": arguments}}]})


class Scripted:
    """Replies served in order: (status, body or raw bytes, delay seconds); the last one repeats."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, Any, float]] = []
        self.requests: list[dict[str, Any]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Scripted]]:
    script = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            i = len(script.requests)
            script.requests.append(body)
            status, payload, delay = script.replies[min(i, len(script.replies) - 1)]
            time.sleep(delay)
            send_json(self, status, payload if isinstance(payload, bytes) else json.dumps(payload).encode())

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()
    httpd.server_close()


FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.05)


def planner(url: str, **kw: Any) -> OpenAIPlanner:
    return OpenAIPlanner(base_url=url, api_key="k", model="test-model", timeout_s=kw.pop("timeout_s", 2.0),
                         retry=kw.pop("retry", FAST), **kw)


def agent(p: OpenAIPlanner) -> SpatialAgent:
    return SpatialAgent(tool=GeometricTool(scene=living_room(gap=1.2)), planner=p)


def test_tool_call_plan_and_answer(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.replies = [(200, tool_call(PLAN), 0.0)]
    p = planner(url)
    r = agent(p).ask(None, "Can a 1 m wide robot fit between the sofa and the chairs?")
    assert r.decision is True and r.answer == "Yes: the gap is 1.20 m." and r.planner_calls == 1
    req = script.requests[0]
    assert req["model"] == "test-model"
    assert req["tools"][0]["function"]["name"] == "submit_plan"
    assert req["messages"][0]["role"] == "system" and "submit_plan" in req["messages"][0]["content"]
    assert req["messages"][1]["content"].startswith("Can a 1 m wide robot")


def test_retries_429_and_500_then_success(server: tuple[str, Scripted]) -> None:
    url, script = server
    err = {"error": {"message": "slow down", "type": "rate_limit"}}
    script.replies = [(429, err, 0.0), (500, {"error": {"message": "boom"}}, 0.0), (200, tool_call(PLAN), 0.0)]
    p = planner(url)
    r = agent(p).ask(None, "Can a 1.3 m wide robot fit between the sofa and the chairs?")
    assert len(script.requests) == 3 and p.calls == 3
    assert r.decision is True and r.planner_calls == 1  # one plan, three HTTP attempts


def test_timeout_is_retried(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.replies = [(200, tool_call(PLAN), 1.5), (200, tool_call(PLAN), 0.0)]
    p = planner(url, timeout_s=0.3)
    t0 = time.perf_counter()
    plan = p.plan("Can a 1 m wide robot fit between the sofa and the chairs?")
    assert plan.compute == "g >= 1.0 m" and p.calls == 2
    assert time.perf_counter() - t0 < 1.5


def test_malformed_output_triggers_replan_with_feedback(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.replies = [(200, tool_call("{this is not json"), 0.0), (200, tool_call(PLAN), 0.0)]
    r = agent(planner(url)).ask(None, "Can a 1 m wide robot fit between the sofa and the chairs?")
    assert r.planner_calls == 2 and r.decision is True
    feedback = script.requests[1]["messages"][-1]["content"]
    assert "previous plan failed" in feedback and "not JSON" in feedback


def test_schema_violation_twice_gives_clear_failure(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.replies = [(200, tool_call({"subqueries": [{"id": "g", "kind": "teleport", "a": "sofa"}],
                                       "compute": "g"}), 0.0)]
    r = agent(planner(url)).ask(None, "Can a 1 m wide robot fit between the sofa and the chairs?")
    assert r.planner_calls == 2 and r.decision is None
    assert r.error and "schema" in r.error and "kind" in r.error
    assert r.answer.startswith("I could not answer this question")


def test_json_mode_parses_content(server: tuple[str, Scripted]) -> None:
    url, script = server
    content = "Sure! Here is the plan:\n```json\n" + json.dumps(PLAN) + "\n```"
    script.replies = [(200, completion({"content": content}), 0.0)]
    plan = planner(url, mode="json").plan("q?")
    assert plan.subqueries[0].kind == "gap"
    assert script.requests[0]["response_format"] == {"type": "json_object"}
    # auto mode: no tool call in the reply -> JSON parsed from the content
    assert planner(url, mode="auto").plan("q?").compute == "g >= 1.0 m"


def test_garbage_http_body_is_an_output_error(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.replies = [(200, b"<html>definitely not an API</html>", 0.0)]
    with pytest.raises(PlannerOutputError):
        planner(url).plan("q?")


def test_persistent_5xx_is_unavailable(server: tuple[str, Scripted]) -> None:
    url, script = server
    script.replies = [(503, {"error": {"message": "down"}}, 0.0)]
    with pytest.raises(PlannerUnavailable, match="after 3 attempts"):
        planner(url).plan("q?")
    assert len(script.requests) == 3


def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = planner(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(PlannerUnavailable, match=f"127.0.0.1:{port}"):
        agent(p).ask(None, "Can a 1 m wide robot fit between the sofa and the chairs?")
    assert p.calls == 3


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("SPATIAL_AGENT_BASE_URL", "SPATIAL_AGENT_MODEL", "SPATIAL_AGENT_API_KEY"):
        monkeypatch.delenv(k, raising=False)
    assert OpenAIPlanner.from_env() is None
    with pytest.raises(ValueError, match="SPATIAL_AGENT_BASE_URL"):
        OpenAIPlanner(model="m")
    with pytest.raises(ValueError, match="SPATIAL_AGENT_MODEL"):
        OpenAIPlanner(base_url="http://127.0.0.1:1/v1")
    monkeypatch.setenv("SPATIAL_AGENT_BASE_URL", "http://127.0.0.1:1/v1")
    monkeypatch.setenv("SPATIAL_AGENT_MODEL", "m")
    p = OpenAIPlanner.from_env()
    assert p is not None and p.model == "m"


def test_extract_json_object() -> None:
    assert extract_json_object('noise {"a": {"b": "}"}} tail') == {"a": {"b": "}"}}
    with pytest.raises(PlannerOutputError):
        extract_json_object("no json here")
