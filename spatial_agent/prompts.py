"""Prompt files shipped in the ``prompts`` package, loaded with importlib.resources."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from spatial_agent.schema import Plan


@cache
def load_prompt(name: str) -> str:
    """Text of ``prompts/<name>``; FileNotFoundError names the file when missing."""
    ref = resources.files("prompts").joinpath(name)
    if not ref.is_file():
        raise FileNotFoundError(f"prompt file prompts/{name} not found")
    return ref.read_text(encoding="utf-8")


def planner_system_prompt() -> str:
    return load_prompt("planner_system.txt").replace("<<SCHEMA>>", json.dumps(Plan.model_json_schema()))


@cache
def answer_templates() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in load_prompt("answer.txt").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        key, tpl = line.split(":", 1)
        out[key.strip()] = tpl.strip()
    return out
