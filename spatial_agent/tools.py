"""Spatial tools: the protocol the agent calls, a geometric tool over a 3D reconstruction, and the VLM tool.

A tool answers free text (``ask``) and structured sub-queries (``measure``). Text tools (the learned VLM)
get the sub-query rendered as a natural question; the geometric tool computes it exactly from a ``Scene3D``.
Answers are cached per (image hash, sub-query), so re-plans and repeated questions cost nothing.

Spatial relations (sub-query kind ``relation``) are computed here, never by a planner:

- on: a's bottom within ``ON_TOLERANCE_M`` (5 cm) of b's top and their footprints overlap by at least
  ``MIN_OVERLAP`` (20 %) of the smaller footprint ("on the floor": a's bottom within 5 cm of z = 0);
- under (beneath, underneath): footprints overlap as for "on", a's top below b's top and a's centre lower;
  over is under with a and b swapped;
- next_to (beside, near, close to, by): closest points of the two objects within ``within`` metres, by default
  ``NEAR_DEFAULT_M`` (0.5 m);
- left_of / right_of, in_front_of / behind (from the camera's view) and above / below (centre heights): the QA
  data's own predicates (``spatialvlm_core.questions.question_types.RELATIONS``, same score and sign), so the
  agent and the learned model's training data agree on them.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from spatial_agent import intervals
from spatial_agent.planners.rules import RulePlanner
from spatial_agent.schema import SubQuery
from spatialvlm_core import geometry
from spatialvlm_core.phrases import Resolution, is_definite, is_plural, is_wildcard, resolve
from spatialvlm_core.questions import templates as qa_templates
from spatialvlm_core.questions.geometry_ops import SceneContext
from spatialvlm_core.questions.question_types import RELATIONS as QA_RELATIONS
from spatialvlm_core.questions.question_types import Relation as QARelation
from spatialvlm_core.types import INTERVAL_LEVEL, Answer, Frame, Object3D, Scene3D


@runtime_checkable
class SpatialTool(Protocol):
    """What the agent needs from a spatial tool."""

    name: str

    def ask(self, image: Any, question: str) -> Answer: ...

    def measure(self, image: Any, query: SubQuery) -> Answer: ...


# --------------------------------------------------------------------------- rendering sub-queries as text
_TEMPLATES: dict[str, str] = {
    "distance": "What is the distance between {a} and {b}?",
    "closest": "How close do {a} and {b} come to each other at their nearest points?",
    "gap": "What is the free-space gap between {a} and {b}?",
    "width": "How wide is {a}?",
    "height": "How tall is {a}?",
    "depth": "How deep is {a}?",
    "elevation": "How high above the floor is {a}?",
    "size_compare": "Is {a} bigger than {b}?",
    "exists": "Is there {a} in the image?",
    "relation": "Is {a} {rel} {b}?",
}
# How a relation reads in a sentence.
RELATION_PHRASES: dict[str, str] = {
    "on": "on", "under": "under", "over": "over", "above": "above", "below": "below", "next_to": "next to",
    "in_front_of": "in front of", "behind": "behind", "left_of": "to the left of", "right_of": "to the right of",
}


def with_article(phrase: str) -> str:
    """'sofa' -> 'the sofa'; leaves 'the red chair' / 'a lamp' / 'chairs' readable."""
    p = phrase.strip()
    first = p.split()[0].lower() if p else ""
    if first in ("the", "a", "an", "this", "that", "these", "those", "both", "all", "any", "some"):
        return p
    return f"the {p}"


def _indefinite(phrase: str) -> str:
    words = phrase.strip().split()
    if words and words[0].lower() in ("the", "a", "an", "this", "that", "any", "some"):
        words = words[1:]
    bare = " ".join(words) or phrase
    if is_plural(bare):
        return f"any {bare}"
    return ("an " if bare[:1].lower() in "aeiou" else "a ") + bare


def _definite(phrase: str) -> str:
    """'a mug' / 'any mugs' -> 'the mug' / 'the mugs' (how the QA data names objects)."""
    words = phrase.strip().split()
    if words and words[0].lower() in ("a", "an", "any", "some"):
        words = words[1:]
    return with_article(" ".join(words) or phrase)


def render_question(query: SubQuery) -> str:
    """A natural question for text tools, e.g. "What is the free-space gap between the sofa and the armchair?"."""
    if query.kind == "exists":
        return f"Is there {_indefinite(query.a)} in the image?"
    if query.kind == "relation":
        rel = RELATION_PHRASES[query.relation or ""]
        if query.relation == "next_to" and query.within is not None:
            rel = f"within {query.within:.2f} m of"
        b = with_article(query.b or "")
        if is_definite(query.a):
            return f"Is {query.a} {rel} {b}?"
        return f"Is there {'anything' if is_wildcard(query.a) else _indefinite(query.a)} {rel} {b}?"
    return _TEMPLATES[query.kind].format(a=with_article(query.a), b=with_article(query.b or ""))


# The QA type whose training questions ask what each metric sub-query kind measures (same definition).
_QA_TYPE_OF_KIND: dict[str, str] = {
    "distance": "distance", "closest": "min_distance", "gap": "gap", "width": "width", "height": "height",
    "depth": "depth", "elevation": "height_above_floor",
}  # fmt: skip


def trained_question(query: SubQuery) -> str:
    """The sub-query in the wording of the QA data a learned model was trained on (first template of the matching
    question type), so that the model is asked what it learned; other kinds fall back to ``render_question``."""
    qtype = _QA_TYPE_OF_KIND.get(query.kind)
    if qtype is not None and qtype in qa_templates.QUANT_Q:
        b = with_article(query.b or "") if query.b else ""
        return qa_templates.render(qa_templates.QUANT_Q[qtype][0], A=_definite(query.a), B=b)
    if query.kind == "size_compare" and query.b:
        return qa_templates.render(qa_templates.COMPARATIVE_PREDICATE_Q[0], A=_definite(query.a),
                                   B=with_article(query.b), rel="bigger than")
    return render_question(query)


_SYMMETRIC_KINDS = {"distance", "closest", "gap"}


def trained_questions(query: SubQuery) -> list[str]:
    """Every training wording of the sub-query's QA type, and for a symmetric measure (distance, closest, gap)
    both object orders: a tool that can pool estimates over paraphrases asks all of them."""
    qtype = _QA_TYPE_OF_KIND.get(query.kind)
    if qtype is None or qtype not in qa_templates.QUANT_Q:
        return [trained_question(query)]
    pairs = [(query.a, query.b)]
    if query.kind in _SYMMETRIC_KINDS and query.b:
        pairs.append((query.b, query.a))
    return [qa_templates.render(t, A=_definite(a), B=with_article(b) if b else "")
            for t in qa_templates.QUANT_Q[qtype] for a, b in pairs]


# --------------------------------------------------------------------------- image identity and caching
def image_key(image: Any) -> str:
    """Content hash of an image-like input (path, PIL image, array, Frame, Scene3D, None)."""
    h = hashlib.sha1(usedforsecurity=False)  # a cache key, not a signature
    if image is None:
        return "none"
    if isinstance(image, str | Path):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image not found: {path}")
        h.update(path.read_bytes())
    elif isinstance(image, Frame):
        h.update(np.ascontiguousarray(image.rgb).tobytes())
        h.update(image.image_id.encode())
    elif isinstance(image, Scene3D):
        h.update(image.model_dump_json().encode())
    elif isinstance(image, np.ndarray):
        h.update(str(image.shape).encode())
        h.update(np.ascontiguousarray(image).tobytes())
    elif hasattr(image, "tobytes") and hasattr(image, "size"):  # PIL.Image
        h.update(f"{image.size}{getattr(image, 'mode', '')}".encode())
        h.update(image.tobytes())
    else:
        raise TypeError(f"unsupported image type {type(image).__name__}: expected a path, PIL image, array or Frame")
    return h.hexdigest()


class AnswerCache:
    """Thread-safe memo of tool answers keyed by (image hash, sub-query)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, tuple[str, ...]], Answer] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, image: Any, query: SubQuery, fn: Callable[[], Answer]) -> Answer:
        key = (image_key(image), query.key())
        with self._lock:
            if key in self._data:
                self.hits += 1
                return self._data[key]
            self.misses += 1
        ans = fn()
        with self._lock:
            self._data[key] = ans
        return ans

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# --------------------------------------------------------------------------- geometric tool
def _fmt(m: float) -> str:
    return f"{m:.2f} m"


def _fmt_iv(iv: intervals.Interval) -> str:
    """'1.58 m' when exact, else 'about 0.45 m (80 % interval 0.20-0.90 m)'."""
    if intervals.is_exact(iv):
        return _fmt(iv[0])
    hi = f"{iv[2]:.2f}" if math.isfinite(iv[2]) else "?"
    return f"about {iv[0]:.2f} m ({round(100 * INTERVAL_LEVEL)} % interval {iv[1]:.2f}-{hi} m)"


def _fmt_ratio(iv: intervals.Interval) -> str:
    hi = f"{iv[2]:.2f}" if math.isfinite(iv[2]) else "any number of"
    return f"{iv[0]:.2f}" if intervals.is_exact(iv) else f"between {iv[1]:.2f} and {hi}"


def _measured(text: str, iv: intervals.Interval, unit: str | None, boolean: bool | None = None,
              source: str = "") -> Answer:
    """A measurement's Answer: the value (metres when ``unit`` is "m") and its interval at INTERVAL_LEVEL."""
    m = iv[0]
    return Answer(text=text, value=round(m, 6), unit=unit, meters=m if unit == "m" else None, boolean=boolean,
                  interval=(iv[1], iv[2]), level=INTERVAL_LEVEL, source=source)


# --------------------------------------------------------------------------- spatial relations (see module doc)
ON_TOLERANCE_M = 0.05  # reconstructed boxes are a few cm off: a mug "on" a table may float or sink that much
NEAR_DEFAULT_M = 0.5  # "next to / near / beside" when the question states no distance
MIN_OVERLAP = 0.2  # share of the smaller footprint: boxes touching at an edge do not hold one another up
_QA_BY_KEY: dict[str, QARelation] = {r.key: r for r in QA_RELATIONS}
# relation -> (QA relation key, sign): "A right of B" is the QA's "left of" with the sign flipped.
_QA_RELATION: dict[str, tuple[str, int]] = {
    "left_of": ("left_right", 1), "right_of": ("left_right", -1), "in_front_of": ("front_behind", 1),
    "behind": ("front_behind", -1), "above": ("above_below", 1), "below": ("above_below", -1),
}
_GRAVITY_RELATIONS = frozenset({"on", "under", "over"})


def _bottom(o: Object3D) -> float:
    return geometry.z_range(o)[0]


def _top(o: Object3D) -> float:
    return geometry.z_range(o)[1]


def _clip_convex(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of polygon ``subject`` inside the convex counter-clockwise polygon ``clip``."""
    out = subject
    for i in range(len(clip)):
        if len(out) == 0:
            break
        p0, p1 = clip[i], clip[(i + 1) % len(clip)]
        edge = p1 - p0

        def side(pt: np.ndarray, p0: np.ndarray = p0, edge: np.ndarray = edge) -> float:
            return float(edge[0] * (pt[1] - p0[1]) - edge[1] * (pt[0] - p0[0]))

        pts: list[np.ndarray] = []
        for j in range(len(out)):
            cur, nxt = out[j], out[(j + 1) % len(out)]
            sc, sn = side(cur), side(nxt)
            if sc >= 0:
                pts.append(cur)
            if (sc >= 0) != (sn >= 0):
                pts.append(cur + (nxt - cur) * (sc / (sc - sn)))
        out = np.array(pts).reshape(-1, 2)
    return out


def footprint_overlap(a: Object3D, b: Object3D) -> float:
    """Overlap of the two floor footprints (convex hulls) as a share of the smaller one, in [0, 1]."""
    pa = geometry.convex_hull_2d(geometry.footprint_of(a))
    pb = geometry.convex_hull_2d(geometry.footprint_of(b))
    smaller = min(geometry.polygon_area(pa), geometry.polygon_area(pb))
    if smaller <= 1e-12 or len(pa) < 3 or len(pb) < 3:
        return 0.0
    return min(1.0, geometry.polygon_area(_clip_convex(pa, pb)) / smaller)


def relation_holds(ctx: SceneContext, relation: str, a: Object3D, b: Object3D, within: float | None = None) -> bool:
    """Whether object ``a`` is ``relation`` object ``b`` (definitions in the module docstring)."""
    if relation == "on":
        return abs(_bottom(a) - _top(b)) <= ON_TOLERANCE_M and footprint_overlap(a, b) >= MIN_OVERLAP
    if relation == "under":
        return (footprint_overlap(a, b) >= MIN_OVERLAP and _top(a) < _top(b) - 0.01
                and float(a.centroid[2]) < float(b.centroid[2]))
    if relation == "over":
        return relation_holds(ctx, "under", b, a)
    if relation == "next_to":
        return ctx.min_distance(a, b) <= (NEAR_DEFAULT_M if within is None else within)
    key, sign = _QA_RELATION[relation]
    return sign * _QA_BY_KEY[key].score(ctx, a, b) > 0


def relation_unsupported(scene: Scene3D, ctx: SceneContext, relation: str) -> str | None:
    """Why the relation cannot be told in this scene (no gravity, no camera), else None."""
    qa = _QA_BY_KEY[_QA_RELATION[relation][0]] if relation in _QA_RELATION else None
    if not scene.canonical and (relation in _GRAVITY_RELATIONS or (qa is not None and qa.requires_canonical)):
        return "the scene is not gravity-aligned (no floor was found), so I don't know which way is up"
    if qa is not None and qa.needs_camera and not ctx.has_camera:
        return "the scene has no camera pose, so I don't know the viewpoint"
    return None


def _is_floor(phrase: str) -> bool:
    return [w for w in re.findall(r"[a-z]+", phrase.lower()) if w not in ("the", "a", "an")] in (["floor"], ["ground"])


def _axis_text(ctx: SceneContext, relation: str, a: Object3D, b: Object3D, b_text: str) -> str:
    """Where a is along the relation's axis, e.g. "0.30 m to the right of the table, centre to centre"."""
    qa = _QA_BY_KEY[_QA_RELATION[relation][0]]
    score = qa.score(ctx, a, b)  # > 0: a is qa.rel b
    if score == 0:
        return f"level with {b_text}"
    how = "centre to centre, from the camera's view" if qa.needs_camera else "comparing centre heights"
    return f"{abs(score):.2f} m {qa.rel if score > 0 else qa.opp} {b_text}, {how}"


def _evidence(ctx: SceneContext, relation: str, a: Object3D, b: Object3D, b_text: str) -> str:
    """Why a relation holds, when a number says it ("0.20 m apart at the closest points"); else ""."""
    if relation == "next_to":
        return f" ({ctx.min_distance(a, b):.2f} m apart at the closest points)"
    if relation in _QA_RELATION:
        qa = _QA_BY_KEY[_QA_RELATION[relation][0]]
        how = "centre to centre, from the camera's view" if qa.needs_camera else "comparing centre heights"
        return f" (by {abs(qa.score(ctx, a, b)):.2f} m, {how})"
    return ""


def _why_not(ctx: SceneContext, relation: str, a: Object3D, b: Object3D, b_text: str, subj: str,
             within: float | None) -> str:
    """Where a is instead, e.g. "it is on the wall shelf" / "it is 1.20 m from the table"."""
    d = ctx.min_distance(a, b)
    if relation == "on":
        support = [o for o in ctx.scene.objects if o.id != a.id and relation_holds(ctx, "on", a, o)]
        if support:
            return f"{subj} is on {support[0].caption}"
        if _bottom(a) <= ON_TOLERANCE_M:
            return f"{subj} stands on the floor" + (f", {d:.2f} m from {b_text}" if d > 0.005 else "")
        if d > 0.005:
            return f"{subj} is {d:.2f} m from {b_text}"
        if _bottom(a) > _top(b):
            return f"{subj} is {_bottom(a) - _top(b):.2f} m above the top of {b_text}"
        return f"{subj} touches {b_text} but does not rest on top of it"
    if relation in ("under", "over"):
        if relation_holds(ctx, "on", a, b):
            return f"{subj} is on {b_text}"
        if relation == "over" and relation_holds(ctx, "under", a, b):
            return f"{subj} is under {b_text}"
        gap = geometry.footprint_gap(a, b)
        if gap > 0.005:
            return f"{subj} is {gap:.2f} m to the side of {b_text}"
        if footprint_overlap(a, b) < MIN_OVERLAP:
            return f"{subj} is beside {b_text}, not {RELATION_PHRASES[relation]} it"
        return f"{subj} reaches higher than {b_text}" if relation == "under" else f"{subj} is lower than {b_text}"
    if relation == "next_to":
        limit = (f"next to means within {NEAR_DEFAULT_M:.2f} m" if within is None
                 else f"the question asks for within {within:.2f} m")
        return f"{subj} is {d:.2f} m from {b_text} at the closest points; {limit}"
    return f"{subj} is {_axis_text(ctx, relation, a, b, b_text)}"


def _floor_relation(relation: str, a: Object3D) -> bool | None:
    """a on / above / over the floor (z = 0); None for relations the floor cannot take part in."""
    if relation == "on":
        return _bottom(a) <= ON_TOLERANCE_M
    if relation in ("above", "over"):
        return _bottom(a) > ON_TOLERANCE_M
    return None


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


class GeometricTool:
    """Answers sub-queries exactly from a ``Scene3D`` of the image.

    ``scene``: one fixed scene (e.g. ``--scene scene.json``); otherwise ``reconstruct(image) -> Scene3D``.
    An image that already is a ``Scene3D`` is used as is. Group semantics (plural phrases): pair measures
    (distance, closest, gap) take the minimum over members; width/height/depth the largest member; elevation the lowest.
    """

    name = "geometric"

    def __init__(self, scene: Scene3D | None = None,
                 reconstruct: Callable[[Any], Scene3D] | None = None) -> None:
        self.scene = scene
        self.reconstruct = reconstruct
        self.cache = AnswerCache()
        self._scenes: dict[str, Scene3D] = {}
        self._lock = threading.Lock()

    def scene_for(self, image: Any) -> Scene3D:
        if isinstance(image, Scene3D):
            return image
        if self.scene is not None:
            return self.scene
        if self.reconstruct is None:
            raise ValueError("GeometricTool needs a scene or a reconstruct(image) -> Scene3D callable")
        key = image_key(image)
        with self._lock:
            if key in self._scenes:
                return self._scenes[key]
        scene = self.reconstruct(image)
        with self._lock:
            self._scenes[key] = scene
        return scene

    def ask(self, image: Any, question: str) -> Answer:
        plan = RulePlanner().plan(question)
        if plan.refusal or len(plan.subqueries) != 1:
            return Answer(text=plan.refusal or "I can only answer one measurement at a time.", source=self.name)
        return self.measure(image, plan.subqueries[0])

    def measure(self, image: Any, query: SubQuery) -> Answer:
        key_image = image if self.scene is None else None  # one fixed scene: the image does not matter
        return self.cache.get_or_compute(key_image, query, lambda: self._measure(self.scene_for(image), query))

    # -- computation
    def _missing(self, res: Resolution) -> Answer:
        if res.ambiguous:
            return Answer(text=f"'{res.phrase}' is ambiguous in the image: it could be {res.describe()}",
                          source=self.name)
        # When the scene's detector cannot name the class at all, say so and what would (phrases.detector_gap).
        why = f": {res.unnamed}" if res.unnamed else ""
        return Answer(text=f"I cannot find {_indefinite(res.phrase)} in the image{why}", source=self.name)

    def _measure(self, scene: Scene3D, q: SubQuery) -> Answer:
        if q.kind == "relation":
            return self._relation(scene, q)
        ra = resolve(scene, q.a)
        if q.kind == "exists":
            # Only strict matches count: the relaxed head-noun fallback would say "yes" to a blue sofa when the
            # sofa is grey (it is there to forgive colour noise when measuring, not to confirm existence).
            n = 0 if ra.relaxed else len(ra.objects)
            seen = f" (I see {ra.describe()})" if ra.relaxed else ""
            text = (f"Yes, there {'is' if n == 1 else 'are'} {n} matching object{'s' if n != 1 else ''}."
                    if n else f"No, I cannot find {_indefinite(q.a)} in the image{seen}")
            return Answer(text=text, value=float(n), unit="count", boolean=n > 0, source=self.name)
        if not ra.found:
            return self._missing(ra)
        # Measures are defined with +z up; a scene left in the camera frame is read with the camera's down as
        # gravity (else "width" and "height" would be the image-plane extents).
        view = (lambda o: o) if scene.canonical else intervals.to_gravity_frame
        a_objs = [view(o) for o in ra.objects]
        if q.kind in ("distance", "closest", "gap", "size_compare"):
            rb = resolve(scene, q.b or "")
            if not rb.found:
                return self._missing(rb)
            b_objs = [view(o) for o in rb.objects]
            pairs = [(x, y) for x in a_objs for y in b_objs if x.id != y.id]
            if not pairs:
                return Answer(text=f"'{q.a}' and '{q.b}' are the same object", source=self.name)
            if q.kind == "size_compare":
                va = intervals.interval_max([intervals.volume_interval(x) for x in a_objs])
                vb = intervals.interval_max([intervals.volume_interval(y) for y in b_objs])
                if vb[0] <= 0:
                    return Answer(text=f"{with_article(q.b or '')} has no measurable size", source=self.name)
                r = intervals.ratio_interval(va, vb)
                bigger = True if r[1] > 1 else (False if r[2] <= 1 else None)  # three-valued, as arith compares
                a_text, b_text = with_article(q.a), with_article(q.b or "")
                if bigger is None:
                    text = (f"I can't tell whether {a_text} is bigger than {b_text}: it is {_fmt_ratio(r)} "
                            f"times its size.")
                else:
                    word = "bigger" if bigger else "not bigger"
                    text = f"{'Yes' if bigger else 'No'}, {a_text} is {word} than {b_text}."
                return _measured(text, r, None, boolean=bigger, source=self.name)
            fn = {"distance": intervals.center_distance_interval, "closest": intervals.closest_interval,
                  "gap": intervals.gap_interval}[q.kind]
            iv = intervals.interval_min([fn(x, y) for x, y in pairs])
            label = {"distance": "distance", "closest": "closest distance",
                     "gap": "free-space gap"}[q.kind]
            text = f"The {label} between {with_article(q.a)} and {with_article(q.b or '')} is {_fmt_iv(iv)}."
            return _measured(text, iv, "m", source=self.name)
        if q.kind == "elevation":
            iv = intervals.interval_min([intervals.elevation_interval(o) for o in a_objs])
            text = f"{with_article(q.a).capitalize()} is {_fmt_iv(iv)} above the floor."
        else:
            fn1 = {"width": intervals.width_interval, "height": intervals.height_interval,
                   "depth": intervals.depth_interval}[q.kind]
            iv = intervals.interval_max([fn1(o) for o in a_objs])
            adj = {"width": "wide", "height": "tall", "depth": "deep"}[q.kind]
            text = f"{with_article(q.a).capitalize()} is {_fmt_iv(iv)} {adj}."
        return _measured(text, iv, "m", source=self.name)


    def _relation(self, scene: Scene3D, q: SubQuery) -> Answer:
        """Whether a is ``q.relation`` b. Existential a ("a mug", "anything"): any matching object (strict matches,
        like ``exists``; none means No); definite a ("the mug"): that object, or every member of a plural group.
        b: one object, or any member of a group / an indefinite phrase, or the floor."""
        rel = q.relation or ""
        phrase = RELATION_PHRASES[rel]
        b_phrase = q.b or ""
        b_text = with_article(b_phrase)
        wildcard = is_wildcard(q.a)
        definite = not wildcard and is_definite(q.a)
        a_objs: list[Object3D] = []
        if not wildcard:
            ra = resolve(scene, q.a)
            if definite:
                if not ra.found:
                    return self._missing(ra)
                a_objs = list(ra.objects)
            else:
                a_objs = [] if ra.relaxed else list(ra.objects)  # strict only, as for exists; several: any of them
                if not a_objs:
                    seen = f" (I see {ra.describe()})" if ra.relaxed else ""
                    return Answer(text=f"I cannot find {_indefinite(q.a)} in the image{seen}.", value=0.0,
                                  unit="count", boolean=False, source=self.name)
        floor = _is_floor(b_phrase)
        b_objs: list[Object3D] = []
        if not floor:
            rb = resolve(scene, b_phrase)
            if is_definite(b_phrase):
                if not rb.found:
                    return self._missing(rb)
                b_objs = list(rb.objects)
            else:  # "a table": any table
                b_objs = [] if rb.relaxed else list(rb.objects)
                if not b_objs:
                    return self._missing(Resolution(phrase=b_phrase))
        if wildcard:
            b_ids = {o.id for o in b_objs}
            a_objs = [o for o in scene.objects if o.id not in b_ids]
        subject = q.a if definite else ("anything" if wildcard else _indefinite(q.a))
        ctx = SceneContext.build(scene)
        why = relation_unsupported(scene, ctx, rel)
        if floor and not scene.canonical:
            why = "the scene is not gravity-aligned (no floor was found)"
        elif floor and a_objs and _floor_relation(rel, a_objs[0]) is None:
            why = "I can only tell whether something is on or above the floor"
        if why:
            return Answer(text=f"I can't tell whether {subject} is {phrase} {b_text}: {why}.", source=self.name)

        def others(x: Object3D) -> list[Object3D]:
            return [y for y in b_objs if y.id != x.id]

        cands = [x for x in a_objs if floor or others(x)]
        if not cands:
            text = (f"Nothing is {phrase} {b_text}: there is no other object." if wildcard
                    else f"'{q.a}' and '{b_phrase}' are the same object")
            return Answer(text=text, source=self.name)

        def holding(x: Object3D) -> list[Object3D]:
            return [y for y in others(x) if relation_holds(ctx, rel, x, y, q.within)]

        def evidence(x: Object3D) -> str:
            if floor:
                return f" (its bottom is {_bottom(x):.2f} m up)" if rel != "on" else ""
            y = min(holding(x), key=lambda o: ctx.min_distance(x, o))
            return _evidence(ctx, rel, x, y, b_text)

        def why_not(x: Object3D, subj: str) -> str:
            if floor:
                return (f"{subj} is {_bottom(x):.2f} m above the floor" if rel == "on"
                        else f"{subj} stands on the floor")
            y = min(others(x), key=lambda o: ctx.min_distance(x, o))
            return _why_not(ctx, rel, x, y, b_text, subj, q.within)

        yes = [x for x in cands if (bool(_floor_relation(rel, x)) if floor else bool(holding(x)))]
        no = [x for x in cands if x not in yes]
        n = len(yes)
        if definite:
            decision = not no
            if len(cands) == 1 and not is_plural(q.a):
                x = cands[0]
                text = (f"{_cap(q.a)} is {phrase} {b_text}{evidence(x)}." if decision
                        else f"{_cap(q.a)} is not {phrase} {b_text} ({why_not(x, 'it')}).")
            elif decision:
                text = f"{_cap(q.a)} are {phrase} {b_text}."
            else:
                lead = "None" if not yes else "Not all"
                text = f"{lead} of {q.a} are {phrase} {b_text} ({'; '.join(why_not(x, x.caption) for x in no[:4])})."
        else:
            decision = n > 0
            if decision:
                shown = [x.caption for x in yes[:5]] + ([f"{n - 5} more"] if n > 5 else [])
                text = f"{_cap(_join(shown))} {'is' if n == 1 else 'are'} {phrase} {b_text}" + (
                    f"{evidence(yes[0])}." if n == 1 else ".")
            elif wildcard:
                text = f"Nothing is {phrase} {b_text}."
            elif len(cands) == 1:
                text = f"There is {subject}, but it is not {phrase} {b_text} ({why_not(cands[0], 'it')})."
            else:
                text = (f"I see {_join([x.caption for x in cands[:5]])}, but none is {phrase} {b_text} "
                        f"({'; '.join(why_not(x, x.caption) for x in cands[:4])}).")
        return Answer(text=text, value=float(n), unit="count", boolean=decision, source=self.name)


# --------------------------------------------------------------------------- learned (text) tool
class VLMTool:
    """Wraps a text tool with ``ask(image, question) -> Answer`` (e.g. ``spatialvlm_core.infer.SpatialVLM``).

    Every answer goes through ``parsing.checked_answer``: a sentence that names other objects or states another
    quantity than the question asked is no measurement of it (its number is dropped, the text says why), whatever
    model wrote it."""

    def __init__(self, vlm: Any, name: str | None = None) -> None:
        if not hasattr(vlm, "ask"):
            raise TypeError(f"{type(vlm).__name__} has no ask(image, question) method")
        self.vlm = vlm
        self.name = name or getattr(vlm, "source", "vlm")
        self.cache = AnswerCache()

    def ask(self, image: Any, question: str) -> Answer:
        from spatialvlm_core.model.parsing import checked_answer  # torch (model/ loads it): VLMTool only

        return checked_answer(question, self.vlm.ask(image, question))

    def measure(self, image: Any, query: SubQuery) -> Answer:
        if query.kind == "relation":
            return self.cache.get_or_compute(image, query, lambda: self._relation(image, query))
        return self.cache.get_or_compute(image, query, lambda: self._measure(image, query))

    def _measure(self, image: Any, query: SubQuery) -> Answer:
        """The model's answer to the trained question; a length states the model's estimate pooled over every
        trained wording of the question, when the model can give one (``SpatialVLM.ask(..., wordings=)``)."""
        from spatialvlm_core.model.parsing import checked_answer  # torch (model/ loads it)

        question = trained_question(query)
        if query.kind in _QA_TYPE_OF_KIND and getattr(self.vlm, "head_numbers", False):
            return checked_answer(question, self.vlm.ask(image, question, wordings=trained_questions(query)))
        return checked_answer(question, self.vlm.ask(image, question))

    def _relation(self, image: Any, q: SubQuery) -> Answer:
        """A relation through the question the model was trained on: the QA predicate ("Is the mug to the left of
        the table?") for left/right/front/behind/above/below, the closest-points distance compared in code for
        next_to; on/under/over have no trained question, so the tool says it cannot tell.

        The training questions name single objects, so "a mug" is asked as "the mug" (one mug is assumed)."""
        rel = q.relation or ""
        phrase = RELATION_PHRASES[rel]
        a, b = _definite(q.a), with_article(q.b or "")
        ask = self.ask  # checked: a sentence about other objects is neither a yes/no nor a distance of these
        if rel in _QA_RELATION:
            qa = _QA_BY_KEY[_QA_RELATION[rel][0]]
            said = qa.rel if _QA_RELATION[rel][1] > 0 else qa.opp
            question = qa_templates.render(qa_templates.SPATIAL_PREDICATE_Q[0], A=a, B=b, rel=said)
            ans = ask(image, question)
            if ans.boolean is None:
                return Answer(text=f"The model's answer to {question!r} is not a yes or no: {ans.text}",
                              source=ans.source or self.name)
            verdict = ans.boolean
            text = f"The model says {a} is {'' if verdict else 'not '}{phrase} {b}."
        elif rel == "next_to":
            limit = NEAR_DEFAULT_M if q.within is None else q.within
            question = qa_templates.render(qa_templates.QUANT_Q["min_distance"][0], A=a, B=b)
            ans = ask(image, question)
            if ans.meters is None:
                return Answer(text=f"The model's answer to {question!r} is not a distance: {ans.text}",
                              source=ans.source or self.name)
            verdict = ans.meters <= limit
            text = (f"The model says {a} comes within {ans.meters:.2f} m of {b}, so it is "
                    f"{'' if verdict else 'not '}next to it (within {limit:.2f} m).")
        else:
            return Answer(text=f"The learned model was not trained on questions about one object being {phrase} "
                               f"another, so it cannot tell whether {a} is {phrase} {b}.", source=self.name)
        return Answer(text=text, value=float(verdict), unit="count", boolean=verdict, source=ans.source or self.name)
