"""The geometric oracle: the exact answer to a question given by its type and object ids, from a ``Scene3D``.

A ``QAPair`` carries what its question asks (``qtype``, ``object_ids`` and, in ``provenance``, the wording's
relation phrase, adjective or stated width), so it is answered without reading its text back: the registry's own
truth function is applied to those objects. ``geometric_vlm.GeometricVLM`` answers free-text questions through
the same ``solve`` once it has matched them to a template (and a ``QAPair`` directly, with ``answer_qa``).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.questions.geometry_ops import SceneContext
from spatialvlm_core.questions.registry import REGISTRY, QuestionType
from spatialvlm_core.types import QAPair, Scene3D


class OracleQuery(BaseModel):
    """What a question asks: its type, its objects (in the wording's A, B, C order) and the wording's choices."""

    model_config = ConfigDict(extra="forbid")

    qtype: str
    object_ids: list[str] = Field(default_factory=list)
    phrase: str | None = None  # relation predicates: the relation phrase the question says ("to the left of")
    adjective: str | None = None  # binary choices: the adjective the question says ("more to the left")
    width_m: float | None = None  # fits_between_predicate: the stated width in metres
    category_name: str | None = None  # count: the class counted when no object of it was found


class OracleAnswer(BaseModel):
    """The exact answer. ``holds``: predicates, whether the question's statement is true; ``winner_id``:
    choices, the object the question's adjective picks; ``value``: quantitative types and the fits-between gap,
    unrounded (metres, count, degrees, clock value)."""

    model_config = ConfigDict(extra="forbid")

    qtype: str
    kind: str
    object_ids: list[str]
    holds: bool | None = None
    winner_id: str | None = None
    value: float | None = None

    @property
    def exact(self) -> float | bool | str | None:
        """The answer as one value: a predicate's bool, a choice's winning id, else the number."""
        if self.kind == "predicate":
            return self.holds
        if self.kind == "choice":
            return self.winner_id
        return self.value


def query_of(qa: QAPair) -> OracleQuery:
    """The query a generated ``QAPair`` asks (its provenance holds the wording's phrase / adjective / width)."""
    if qa.qtype not in REGISTRY:
        raise ValueError(f"QA {qa.id}: unknown question type {qa.qtype!r}")
    p = qa.provenance
    width = p.get("width_m")
    qt = REGISTRY[qa.qtype]
    ids = list(qa.object_ids)
    if qt.kind == "choice" and not qt.phrases:
        ids = ids[:-1]  # an open choice's ids end with its winner (the answer, not part of the question)
    return OracleQuery(qtype=qa.qtype, object_ids=ids, phrase=p.get("phrase"),
                       adjective=p.get("adjective"), width_m=None if width is None else float(width))


def solve(ctx: SceneContext, q: OracleQuery) -> OracleAnswer:
    """The exact answer to ``q`` in ``ctx``'s scene. Raises ValueError (naming the type and what is missing) when
    an object id is not in the scene, the wording's phrase is not the type's, or the value is undefined."""
    qt = REGISTRY.get(q.qtype)
    if qt is None:
        raise ValueError(f"unknown question type {q.qtype!r}")
    known = {o.id for o in ctx.scene.objects}
    missing = [i for i in q.object_ids if i not in known]
    if missing:
        raise ValueError(f"{q.qtype}: object id(s) {missing} not in scene {ctx.scene.scene_id!r}")
    ids = list(q.object_ids)
    if qt.kind == "predicate":
        return _predicate(qt, ctx, q, ids)
    if qt.kind == "choice":
        return _choice(qt, ctx, q, ids)
    if qt.name == "count" and not ids:
        value = 0.0  # the class is not in the scene
    else:
        value = float(qt.truth(ctx, ids))  # type: ignore[arg-type]
    if not math.isfinite(value):
        raise ValueError(f"{qt.name} is undefined for these objects (value {value})")
    return OracleAnswer(qtype=qt.name, kind=qt.kind, object_ids=ids, value=value)


def answer_qa(qa: QAPair, scene: Scene3D | SceneContext) -> OracleAnswer:
    """The exact answer to a generated ``QAPair`` in ``scene`` (see ``solve``)."""
    ctx = scene if isinstance(scene, SceneContext) else SceneContext.build(scene)
    return solve(ctx, query_of(qa))


def _phrase_index(qt: QuestionType, said: str | None, what: str, options: tuple[str, ...]) -> int:
    if said is None:
        raise ValueError(f"{qt.name}: the query needs its {what} (one of {list(options)})")
    low = [o.lower() for o in options]
    if said.lower() not in low:
        raise ValueError(f"{qt.name}: {what} {said!r} is not one of {list(options)}")
    return low.index(said.lower())


def _predicate(qt: QuestionType, ctx: SceneContext, q: OracleQuery, ids: list[str]) -> OracleAnswer:
    raw = qt.truth(ctx, ids)
    value: float | None = None
    if qt.name == "fits_between_predicate":
        if q.width_m is None:
            raise ValueError(f"{qt.name}: the query needs the stated width (width_m)")
        value = float(raw)  # type: ignore[arg-type]
        holds = value > q.width_m
    elif qt.name == "between_predicate":
        holds = bool(raw)
    else:  # truth is for phrases[0] ("to the left of"); the opposite phrase flips it
        holds = bool(raw) if _phrase_index(qt, q.phrase, "phrase", qt.phrases) == 0 else not bool(raw)
    return OracleAnswer(qtype=qt.name, kind=qt.kind, object_ids=ids, holds=holds, value=value)


def _choice(qt: QuestionType, ctx: SceneContext, q: OracleQuery, ids: list[str]) -> OracleAnswer:
    if not ctx.scene.objects:
        raise ValueError("no objects in the scene")
    win = str(qt.truth(ctx, ids))
    if qt.phrases:  # binary choice: truth names the winner under phrases[0]'s adjective
        if len(ids) != 2:
            raise ValueError(f"{qt.name}: a binary choice needs 2 object ids, got {len(ids)}")
        if _phrase_index(qt, q.adjective, "adjective", qt.phrases) != 0:
            win = ids[1] if win == ids[0] else ids[0]
    return OracleAnswer(qtype=qt.name, kind=qt.kind, object_ids=ids, winner_id=win)
