"""Planner corpus: question -> plan pairs from a paraphrase generator, with the room each question is about.

Families (``FAMILIES``): fit between, clearance, reach, apart, through, fit on, fit under (an honest refusal),
size vs a length, headroom (height against a stated clearance), object vs object, ratios ("twice as wide"),
closer/farther from the camera, which of two, count, two conditions, negation, plain measurements, relations
and unanswerable questions (a refusal naming what is missing). Each family has train frames and held-out
frames; object classes, colours, descriptions, distractor clauses and some length forms are split too
(``scenes.TYPES``, ``frames.DECORATIONS``, ``units.HELDOUT_FORMS``). The held-out split was written before
any planner was trained and is never trained on.

API::

    corpus(split="train" | "heldout", n=1000, seed=0) -> list[PlanExample]

deterministic in (split, n, seed). ``PlanExample.truth`` is the answer on the exact room: a bool (a decision;
for "which of two", True means ``plan.options[0]``), a float (a value: metres, or a count) or None (the honest
answer is a refusal).
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict

from spatial_agent.corpus.frames import FAMILIES, Family, Frame
from spatial_agent.corpus.generate import build, execute
from spatial_agent.corpus.scenes import Room, make_room
from spatial_agent.schema import Plan
from spatial_agent.tools import GeometricTool
from spatialvlm_core.types import Scene3D

Split = Literal["train", "heldout"]
QUESTIONS_PER_ROOM = 6
# Room seeds of the two splits never meet (and stay clear of the affordance eval's 100000+ scene seeds).
_ROOM_SEED_BASE = {"train": 0, "heldout": 50_000}

__all__ = ["FAMILIES", "Family", "Frame", "PlanExample", "Split", "corpus", "execute", "make_room"]


class PlanExample(BaseModel):
    """One question, the plan that answers it, and the room it is asked about."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    question: str
    plan: Plan
    family: str
    frame: str  # the template the question was written from
    split: Split
    truth: bool | float | None
    scene: Scene3D


def corpus(split: Split, n: int, seed: int = 0, families: list[str] | None = None) -> list[PlanExample]:
    """``n`` examples of ``split``, families in turn (``families``: a subset), deterministic in the arguments."""
    if split not in _ROOM_SEED_BASE:
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    names = families or list(FAMILIES)
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown families {unknown}; known: {sorted(FAMILIES)}")
    r = random.Random(f"corpus:{split}:{seed}")
    rooms: dict[int, tuple[Room, GeometricTool]] = {}
    out: list[PlanExample] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 100:
            raise RuntimeError(f"corpus: could not build {n} examples for {names} (got {len(out)})")
        idx = len(out) // QUESTIONS_PER_ROOM + attempts % 7 * 1_000_003  # a retry may use another room
        room_seed = _ROOM_SEED_BASE[split] + seed * 10_000_019 + idx
        if room_seed not in rooms:
            room = make_room(room_seed, split)
            rooms[room_seed] = (room, GeometricTool(scene=room.scene))
        room, tool = rooms[room_seed]
        family = names[len(out) % len(names)]
        frames = FAMILIES[family].frames(split)
        fi = r.randrange(len(frames))
        made = build(family, frames[fi], room, r, split, tool)
        if made is None:
            continue
        question, plan = made
        out.append(PlanExample(question=question, plan=plan, family=family, frame=f"{family}/{split}/{fi}",
                               split=split, truth=execute(plan, room.scene, tool), scene=room.scene))
    return out
