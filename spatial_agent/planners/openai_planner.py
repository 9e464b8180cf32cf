"""OpenAIPlanner: any OpenAI-compatible chat-completions endpoint as the planner.

It asks for a ``submit_plan`` function call (mode "tools"), or a JSON object (mode "json"); in "auto" mode a
reply without a tool call is parsed as JSON from its content. Transient failures (timeouts, connection errors,
429, 5xx) are retried with exponential backoff (tenacity); the openai client's own retries are disabled so the
policy lives in one place. Exhausted retries raise :class:`PlannerUnavailable`; a reply that is not a valid plan
raises :class:`PlannerOutputError` (the graph re-plans once with that message as feedback).
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

import openai
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from spatial_agent.planners.base import PlannerOutputError, PlannerUnavailable
from spatial_agent.prompts import planner_system_prompt
from spatial_agent.schema import Plan


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=4, ge=1)
    initial_s: float = Field(default=0.5, ge=0)
    max_s: float = Field(default=8.0, ge=0)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | openai.RateLimitError):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def extract_json_object(text: str) -> dict[str, Any]:
    """The first balanced ``{...}`` in ``text`` parsed as JSON (models like to wrap JSON in prose/fences)."""
    start = text.find("{")
    while start != -1:
        depth, in_str, esc = 0, False, False
        for i in range(start, len(text)):
            c = text[i]
            if in_str:
                if esc:  # the escaped character, whatever it is, never ends the string
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
                continue
            if c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    try:
                        obj = json.loads(text[start:i + 1])
                    except json.JSONDecodeError:
                        break
                    if isinstance(obj, dict):
                        return obj
                    break
        start = text.find("{", start + 1)
    raise PlannerOutputError(f"planner reply has no JSON object: {text[:200]!r}")


class OpenAIPlanner:
    """Planner over an OpenAI-compatible endpoint (args, else env SPATIAL_AGENT_BASE_URL/_API_KEY/_MODEL)."""

    name = "openai"

    def __init__(self, base_url: str | None = None, api_key: str | None = None, model: str | None = None,
                 mode: Literal["auto", "tools", "json"] = "auto", timeout_s: float = 30.0,
                 retry: RetryPolicy | None = None, temperature: float = 0.0) -> None:
        self.base_url = base_url or os.environ.get("SPATIAL_AGENT_BASE_URL")
        self.model = model or os.environ.get("SPATIAL_AGENT_MODEL")
        key = api_key or os.environ.get("SPATIAL_AGENT_API_KEY") or "not-needed"
        if not self.base_url:
            raise ValueError("OpenAIPlanner needs base_url (or env SPATIAL_AGENT_BASE_URL)")
        if not self.model:
            raise ValueError("OpenAIPlanner needs model (or env SPATIAL_AGENT_MODEL)")
        if mode not in ("auto", "tools", "json"):
            raise ValueError(f"mode must be auto|tools|json, got {mode!r}")
        self.mode = mode
        self.retry = retry or RetryPolicy()
        self.temperature = temperature
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=timeout_s, max_retries=0)
        self.calls = 0  # HTTP requests made, retries included

    @classmethod
    def from_env(cls, **kw: Any) -> OpenAIPlanner | None:
        """A planner when SPATIAL_AGENT_BASE_URL and SPATIAL_AGENT_MODEL are set, else None."""
        if os.environ.get("SPATIAL_AGENT_BASE_URL") and os.environ.get("SPATIAL_AGENT_MODEL"):
            return cls(**kw)
        return None

    def _messages(self, question: str, feedback: str | None) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": planner_system_prompt()}, {"role": "user", "content": question}]
        if feedback:
            msgs.append({"role": "user", "content": f"Your previous plan failed: {feedback}\nReturn a corrected plan."})
        return msgs

    def _request(self, messages: list[dict[str, str]]) -> Any:
        kw: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": self.temperature}
        if self.mode in ("auto", "tools"):
            kw["tools"] = [{"type": "function", "function": {
                "name": "submit_plan", "description": "Submit the measurement plan for the question.",
                "parameters": Plan.model_json_schema()}}]
            kw["tool_choice"] = {"type": "function", "function": {"name": "submit_plan"}}
        else:
            kw["response_format"] = {"type": "json_object"}

        def once() -> Any:
            self.calls += 1
            return self.client.chat.completions.create(**kw)

        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential(multiplier=self.retry.initial_s, max=self.retry.max_s),
            retry=retry_if_exception(_transient), reraise=False,
        )
        try:
            return retrying(once)
        except RetryError as e:
            last = e.last_attempt.exception()
            raise PlannerUnavailable(
                f"planner endpoint {self.base_url} failed after {self.retry.attempts} attempts: "
                f"{type(last).__name__}: {last}") from last
        except openai.APIStatusError as e:
            raise PlannerUnavailable(f"planner endpoint {self.base_url} answered HTTP {e.status_code}: {e.message}") from e
        except (openai.OpenAIError, ValueError) as e:  # ValueError: a body that is not JSON at all
            raise PlannerOutputError(f"planner endpoint {self.base_url} gave an unusable reply: "
                                     f"{type(e).__name__}: {e}") from e

    def plan(self, question: str, feedback: str | None = None) -> Plan:
        resp = self._request(self._messages(question, feedback))
        try:
            msg = resp.choices[0].message
        except (AttributeError, IndexError, TypeError) as e:
            raise PlannerOutputError(f"planner reply has no choices: {str(resp)[:200]}") from e
        raw: dict[str, Any] | None = None
        for call in msg.tool_calls or []:
            fn = getattr(call, "function", None)
            if fn is not None and fn.name == "submit_plan":
                try:
                    raw = json.loads(fn.arguments or "")
                except json.JSONDecodeError as e:
                    raise PlannerOutputError(f"submit_plan arguments are not JSON: {fn.arguments!r:.200}") from e
                break
        if raw is None:
            if self.mode == "tools":
                raise PlannerOutputError("planner did not call submit_plan")
            raw = extract_json_object(msg.content or "")
        try:
            return Plan.model_validate(raw)
        except ValidationError as e:
            errs = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            raise PlannerOutputError(f"plan does not match the schema: {errs}") from e
