"""``generate_qa``: sample question types and objects from a ``Scene3D`` and render ``QAPair``s.

Deterministic given (scene, seed, config). Balance is kept per scene by deficit counting rather than plain coin
flips: the next question is qualitative with probability clamp(share * (k + 1) - qualitative_so_far), and the
next predicate is phrased true the same way, so shares hold within one item per scene. A type whose margin rule keeps rejecting is dropped for the rest of the scene.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from spatialvlm_core.questions import question_types as _types  # noqa: F401  (registers the 38 types)
from spatialvlm_core.questions.geometry_ops import SceneContext
from spatialvlm_core.questions.noise import perturb_scene
from spatialvlm_core.questions.registry import REGISTRY, Draft, QuestionType, Request
from spatialvlm_core.types import Object3D, QAPair, Scene3D

GENERATOR_VERSION = "1"


class QAConfig(BaseModel):
    """Knobs of the QA generator (all optional; defaults follow the SpatialVLM paper's mix)."""

    model_config = ConfigDict(extra="forbid")

    qualitative_share: float = Field(0.5, ge=0, le=1)
    imperial_share: float = Field(0.2, ge=0, le=1)  # metric 0.8 / imperial 0.2
    true_share: float = Field(0.5, ge=0, le=1)  # predicates stated true
    allow: list[str] | None = None  # question types to use (None: all)
    deny: list[str] = Field(default_factory=list)
    default_n: int = Field(20, ge=0)  # questions per scene when generate_qa gets n=None
    max_per_scene: int = Field(200, ge=0)
    margin_scale: float = Field(1.0, ge=0)  # 0 disables the margin rules (tests, ablations)
    label_noise: float = Field(0.0, ge=0)  # sigma in metres on positions and sizes (noise study)
    hedge: bool = True  # allow "about"/"roughly" before numbers
    # True: stop when the category the share calls for is used up (keeps the share exact);
    # False: fill the rest of the scene's quota from the other category.
    strict_share: bool = True
    max_failures_per_type: int = Field(12, ge=1)

    @field_validator("allow", "deny")
    @classmethod
    def _known(cls, v: list[str] | None) -> list[str] | None:
        for name in v or []:
            if name not in REGISTRY:
                raise ValueError(f"unknown question type {name!r} in allow/deny; known: {sorted(REGISTRY)}")
        return v


def referable(scene: Scene3D) -> list[Object3D]:
    """Objects a question may name: not ambiguous, caption unique among those."""
    askable = scene.askable
    counts: dict[str, int] = {}
    for o in askable:
        counts[o.caption] = counts.get(o.caption, 0) + 1
    return [o for o in askable if o.caption.strip() and counts[o.caption] == 1]


def eligible_types(ctx: SceneContext, config: QAConfig, n_referable: int) -> list[QuestionType]:
    names = config.allow if config.allow is not None else list(REGISTRY)
    deny = set(config.deny)
    return [REGISTRY[n] for n in names if n not in deny and REGISTRY[n].eligible(ctx, n_referable)]


def generate_qa(scene: Scene3D, n: int | None = None, seed: int = 0, config: QAConfig | None = None
                ) -> list[QAPair]:
    """Up to ``n`` QA pairs about ``scene`` (fewer when the scene cannot support more distinct questions)."""
    if not isinstance(scene, Scene3D):
        raise ValueError(f"generate_qa: scene must be a Scene3D, got {type(scene).__name__}")
    config = config or QAConfig()
    n = config.default_n if n is None else n
    if n < 0:
        raise ValueError(f"generate_qa: n must be >= 0, got {n}")
    n = min(n, config.max_per_scene)
    rng = random.Random(f"{scene.scene_id}|{seed}")
    if config.label_noise > 0:
        scene = perturb_scene(scene, config.label_noise, random.Random(f"noise|{scene.scene_id}|{seed}"))
    pool = referable(scene)
    ctx = SceneContext.build(scene)
    by_cat: dict[str, list[QuestionType]] = {"qualitative": [], "quantitative": []}
    for qt in eligible_types(ctx, config, len(pool)):
        by_cat[qt.category].append(qt)

    # The share binds only when both categories can be asked at all (an allow list may name one).
    strict = config.strict_share and all(by_cat.values()) and 0.0 < config.qualitative_share < 1.0
    out: list[QAPair] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    failures: dict[str, int] = {}
    n_qual = n_true = n_pred = 0
    while len(out) < n and (by_cat["qualitative"] or by_cat["quantitative"]):
        want_qual = rng.random() < _deficit(config.qualitative_share, len(out), n_qual)
        cat = "qualitative" if want_qual else "quantitative"
        if not by_cat[cat]:
            if strict:
                break
            cat = "quantitative" if cat == "qualitative" else "qualitative"
        qt = rng.choice(by_cat[cat])
        objs = _sample(pool, qt.n_objects, rng)
        target = rng.random() < _deficit(config.true_share, n_pred, n_true)
        req = Request(rng=rng, target_bool=target,
                      units="imperial" if rng.random() < config.imperial_share else "metric",
                      margin_scale=config.margin_scale, hedge=config.hedge)
        draft = qt.build(ctx, objs, req) if objs is not None else None
        key = dedupe_key(qt, draft, ctx) if draft is not None else ("", ())
        if draft is None or key in seen:
            failures[qt.name] = failures.get(qt.name, 0) + 1
            if failures[qt.name] >= config.max_failures_per_type:
                by_cat[cat].remove(qt)
            continue
        seen.add(key)
        failures[qt.name] = 0
        n_qual += qt.category == "qualitative"
        if qt.kind == "predicate":
            n_pred += 1
            n_true += bool(draft.truth_bool)
        out.append(QAPair(
            id=f"{scene.scene_id}-{seed}-{len(out):03d}",
            image_id=scene.scene_id,
            qtype=qt.name,
            category=qt.category,
            kind=qt.kind,
            question=draft.question,
            answer=draft.answer,
            value=draft.value,
            unit=draft.unit,
            truth=draft.truth,
            truth_bool=draft.truth_bool,
            choice=draft.choice,
            object_ids=draft.object_ids,
            provenance={
                "template": draft.q_index,
                "answer_template": draft.a_index,
                "seed": seed,
                "units": req.units,
                "label_noise": config.label_noise,
                "generator": f"spatialvlm_core.questions/{GENERATOR_VERSION}",
                **draft.extra,
            },
        ))
    return out


# Types whose question about (A, B) is the mirror of the one about (B, A): "is A left of B?" vs "is B left
# of A?", "which is higher, A or B?" vs "B or A?", "how far apart are A and B?". Keyed on sorted ids.
_RELATION_FAMILIES = ("left_right", "above_below", "front_behind", "closer", "bigger", "taller", "wider")
SYMMETRIC_TYPES: frozenset[str] = frozenset(
    [f"{r}_{k}" for r in _RELATION_FAMILIES for k in ("predicate", "choice")]
    + ["fits_between_predicate", "distance", "horizontal_distance", "vertical_distance", "gap", "min_distance",
       "elevation_difference", "height_difference", "farther_by", "stack_count", "side_by_side_count"]
)


def dedupe_key(qt: QuestionType, draft: Draft, ctx: SceneContext) -> tuple[str, tuple[str, ...]]:
    """What makes two questions in one scene the same question.

    ``count`` is about a category name, not the sampled object: four chairs give one "how many chairs?".
    Symmetric pair types ignore object order, so a mirror of a question already asked is not asked again;
    ``between_predicate`` is symmetric in its two end points only. Other types key on ids in order
    (``relative_clock`` from A and from B are different questions).
    """
    ids = tuple(draft.object_ids)
    if qt.name == "count":
        return qt.name, (ctx.scene.get(ids[0]).name,)
    if qt.name in SYMMETRIC_TYPES:
        return qt.name, tuple(sorted(ids))
    if qt.name == "between_predicate":
        return qt.name, (ids[0], *sorted(ids[1:]))
    return qt.name, ids


def _deficit(share: float, total: int, hits: int) -> float:
    """Probability the next item should be a hit so the running share stays on target (0..1): exact
    alternation for share 0.5, with the order of each pair left to the rng."""
    return min(1.0, max(0.0, share * (total + 1) - hits))


def _sample(pool: Sequence[Object3D], k: int, rng: random.Random) -> list[Object3D] | None:
    if len(pool) < k:
        return None
    return rng.sample(list(pool), k)
