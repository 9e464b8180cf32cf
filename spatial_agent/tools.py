"""Spatial tools: the protocol the agent calls, a geometric tool over a 3D reconstruction, and the VLM tool.

A tool answers free text (``ask``) and structured sub-queries (``measure``). Text tools (the learned VLM)
get the sub-query rendered as a natural question; the geometric tool computes it exactly from a ``Scene3D``.
Answers are cached per (image hash, sub-query), so re-plans and repeated questions cost nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from spatial_agent.resolve import Resolution, is_plural, resolve
from spatial_agent.schema import SubQuery
from spatialvlm_core import geometry
from spatialvlm_core.types import Answer, Frame, Object3D, Scene3D


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
    if words and words[0].lower() in ("the", "a", "an", "this", "that"):
        words = words[1:]
    bare = " ".join(words) or phrase
    if is_plural(bare):
        return f"any {bare}"
    return ("an " if bare[:1].lower() in "aeiou" else "a ") + bare


def render_question(query: SubQuery) -> str:
    """A natural question for text tools, e.g. "What is the free-space gap between the sofa and the armchair?"."""
    if query.kind == "exists":
        return f"Is there {_indefinite(query.a)} in the image?"
    return _TEMPLATES[query.kind].format(a=with_article(query.a), b=with_article(query.b or ""))


# --------------------------------------------------------------------------- image identity and caching
def image_key(image: Any) -> str:
    """Content hash of an image-like input (path, PIL image, array, Frame, Scene3D, None)."""
    h = hashlib.sha1()
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
        self._data: dict[tuple[str, tuple[str, str, str]], Answer] = {}
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


def _width(o: Object3D) -> float:
    return float(max(o.obb.size[0], o.obb.size[1]))


def _depth(o: Object3D) -> float:
    return float(min(o.obb.size[0], o.obb.size[1]))


def _height(o: Object3D) -> float:
    return float(o.aabb.size[2])


def _elevation(o: Object3D) -> float:
    return float(o.height_above_floor) if o.height_above_floor is not None else float(o.aabb.min[2])


def _volume(o: Object3D) -> float:
    return float(np.prod(o.obb.size))


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
        from spatial_agent.planners.rules import RulePlanner

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
        return Answer(text=f"I cannot find {_indefinite(res.phrase)} in the image", source=self.name)

    def _measure(self, scene: Scene3D, q: SubQuery) -> Answer:
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
        a_objs = ra.objects
        if q.kind in ("distance", "closest", "gap", "size_compare"):
            rb = resolve(scene, q.b or "")
            if not rb.found:
                return self._missing(rb)
            pairs = [(x, y) for x in a_objs for y in rb.objects if x.id != y.id]
            if not pairs:
                return Answer(text=f"'{q.a}' and '{q.b}' are the same object", source=self.name)
            if q.kind == "size_compare":
                va = max(_volume(x) for x in a_objs)
                vb = max(_volume(y) for y in rb.objects)
                if vb <= 0:
                    return Answer(text=f"{with_article(q.b or '')} has no measurable size", source=self.name)
                bigger = va > vb
                word = "bigger" if bigger else "not bigger"
                return Answer(text=f"{'Yes' if bigger else 'No'}, {with_article(q.a)} is {word} than "
                              f"{with_article(q.b or '')}.", value=va / vb, unit=None, boolean=bigger,
                              source=self.name)
            fn = {"distance": geometry.center_distance, "closest": geometry.box_distance,
                  "gap": geometry.footprint_gap}[q.kind]
            m = min(fn(x, y) for x, y in pairs)
            label = {"distance": "distance", "closest": "closest distance",
                     "gap": "free-space gap"}[q.kind]
            text = f"The {label} between {with_article(q.a)} and {with_article(q.b or '')} is {_fmt(m)}."
            return Answer(text=text, value=round(m, 6), unit="m", meters=m, source=self.name)
        if q.kind == "elevation":
            m = min(_elevation(o) for o in a_objs)
            text = f"{with_article(q.a).capitalize()} is {_fmt(m)} above the floor."
        else:
            fn1 = {"width": _width, "height": _height, "depth": _depth}[q.kind]
            m = max(fn1(o) for o in a_objs)
            adj = {"width": "wide", "height": "tall", "depth": "deep"}[q.kind]
            text = f"{with_article(q.a).capitalize()} is {_fmt(m)} {adj}."
        return Answer(text=text, value=round(m, 6), unit="m", meters=m, source=self.name)


# --------------------------------------------------------------------------- learned (text) tool
class VLMTool:
    """Wraps a text tool with ``ask(image, question) -> Answer`` (e.g. ``spatialvlm_core.infer.SpatialVLM``)."""

    def __init__(self, vlm: Any, name: str | None = None) -> None:
        if not hasattr(vlm, "ask"):
            raise TypeError(f"{type(vlm).__name__} has no ask(image, question) method")
        self.vlm = vlm
        self.name = name or getattr(vlm, "source", "vlm")
        self.cache = AnswerCache()

    def ask(self, image: Any, question: str) -> Answer:
        return self.vlm.ask(image, question)

    def measure(self, image: Any, query: SubQuery) -> Answer:
        return self.cache.get_or_compute(image, query, lambda: self.vlm.ask(image, render_question(query)))
