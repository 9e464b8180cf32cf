"""The question-type registry: one small ``QuestionType`` per name, registered by ``register``."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from spatialvlm_core.questions.geometry_ops import SceneContext
from spatialvlm_core.types import Object3D, QuestionCategory, QuestionKind, Scene3D

UnitChoice = Literal["metric", "imperial"]


@dataclass(frozen=True)
class Request:
    """What the generator asks of one type for one question."""

    rng: random.Random
    target_bool: bool  # predicates: the truth the phrasing should make come out
    units: UnitChoice
    margin_scale: float = 1.0
    hedge: bool = True


@dataclass
class Draft:
    """A question before it becomes a ``QAPair`` (the generator adds ids and provenance)."""

    question: str
    answer: str
    object_ids: list[str]
    q_index: int
    a_index: int
    value: float | None = None
    unit: str | None = None
    truth: float | None = None
    truth_bool: bool | None = None
    choice: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Objs = Sequence[Object3D]
TruthFn = Callable[[SceneContext, Objs], "float | bool | str | None"]
ClearFn = Callable[[SceneContext, Objs, float], bool]
BuildFn = Callable[["QuestionType", SceneContext, Objs, Request], "Draft | None"]
PickFn = Callable[[SceneContext, list[Object3D], random.Random], "list[Object3D] | None"]


@dataclass(frozen=True)
class QuestionType:
    """One question type.

    ``truth`` gives the exact answer for objects in their given order: predicates a bool for the canonical
    phrasing (``phrases[0]``, e.g. "A is to the left of B"), choices the id of the object that wins under
    ``phrases[0]``'s adjective, quantitative types a float in SI (metres, counts, degrees, clock hours).
    ``clear`` is the margin rule: False when the answer sits within a margin of its own flip or rounding edge.
    """

    name: str
    category: QuestionCategory
    kind: QuestionKind
    n_objects: int
    requires_canonical: bool
    needs_camera: bool
    question_templates: tuple[str, ...]
    answer_templates: tuple[str, ...]
    truth_fn: TruthFn
    clear_fn: ClearFn
    build_fn: BuildFn
    negative_answer_templates: tuple[str, ...] = ()
    pick_fn: PickFn | None = None
    phrases: tuple[str, ...] = ()
    description: str = ""

    def eligible(self, ctx: SceneContext, n_referable: int) -> bool:
        if self.requires_canonical and not ctx.scene.canonical:
            return False
        if self.needs_camera and not ctx.has_camera:
            return False
        return n_referable >= self.n_objects

    def truth(self, scene: Scene3D | SceneContext, ids: Sequence[str]) -> float | bool | str | None:
        ctx = scene if isinstance(scene, SceneContext) else SceneContext.build(scene)
        return self.truth_fn(ctx, [ctx.scene.get(i) for i in ids])

    def clear(self, scene: Scene3D | SceneContext, ids: Sequence[str], margin_scale: float = 1.0) -> bool:
        ctx = scene if isinstance(scene, SceneContext) else SceneContext.build(scene)
        return self.clear_fn(ctx, [ctx.scene.get(i) for i in ids], margin_scale)

    def build(self, ctx: SceneContext, objs: Objs, req: Request) -> Draft | None:
        return self.build_fn(self, ctx, objs, req)


REGISTRY: dict[str, QuestionType] = {}


def register(qt: QuestionType) -> QuestionType:
    if qt.name in REGISTRY:
        raise ValueError(f"question type {qt.name!r} is already registered")
    if qt.n_objects < 1:
        raise ValueError(f"question type {qt.name!r}: n_objects must be >= 1")
    REGISTRY[qt.name] = qt
    return qt


def get_type(name: str) -> QuestionType:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown question type {name!r}; known: {sorted(REGISTRY)}") from None
