"""GeometricVLM: the SpatialVLM tool interface (``ask(image, question) -> Answer``) answered by geometry.

A ``QAPair`` is answered by its question type and object ids (``answer_qa`` / ``explain_qa``: the oracle,
``questions.oracle``, with no reading of its text). A free-text question is read back into (question type,
objects): every template of the question-type registry is compiled into a regex whose ``{A}``/``{B}``/``{C}``
slots capture captions, ``{rel}``/``{adj}`` capture the relation phrase (and so the polarity), ``{width}`` a
stated length and ``{plural}`` a category. Captions are resolved against a reconstruction (``Scene3D``) of the
image and the reading is answered by the same oracle. Either way the answer is phrased with the registry's
answer templates and ``format_length``. So it is the
oracle / cross-check the learned model is measured against: with the reconstruction the questions were made
from it is exact up to the human rounding of the answer.

The "image" may be a ``Scene3D`` (used as is), a ``Frame`` (reconstructed with the configured backends, by
default ground-truth detections/masks and sensor depth; pass a depth backend object to corrupt the depth),
a key of the ``scenes`` mapping given at construction (e.g. a dataset's image path), a synthetic scene
folder, or an image file/array (then the configured backends must work without ground truth).
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.phrases import resolve
from spatialvlm_core.questions import REGISTRY, format_length, parse_answer
from spatialvlm_core.questions import templates as T
from spatialvlm_core.questions.geometry_ops import SceneContext
from spatialvlm_core.questions.oracle import OracleAnswer, OracleQuery, query_of, solve
from spatialvlm_core.questions.question_types import plural
from spatialvlm_core.questions.registry import QuestionType
from spatialvlm_core.reconstruct import reconstruct
from spatialvlm_core.types import Answer, Frame, Object3D, QAPair, Scene3D
from spatialvlm_core.units import to_meters

# How each quantitative type states its number (the registry keeps this inside its builders).
CLOCK_TYPES = frozenset({"clock_direction", "relative_clock"})
DEGREE_TYPES = frozenset({"bearing"})
COUNT_TYPES = frozenset({"count", "stack_count", "side_by_side_count"})

_CAPTION_SLOTS = ("A", "B", "C")
_SLOT = re.compile(r"\{([A-Za-z_]+)\}")
_TRAIL = re.compile(r"[\s?.!]+$")
_SPACES = re.compile(r"\s+")


def quantity_kind(qtype: str) -> Literal["length", "count", "deg", "clock"]:
    """How a quantitative type's value is stated."""
    if qtype in CLOCK_TYPES:
        return "clock"
    if qtype in DEGREE_TYPES:
        return "deg"
    if qtype in COUNT_TYPES:
        return "count"
    return "length"


# --------------------------------------------------------------------------- question patterns
@dataclass(frozen=True)
class QuestionPattern:
    """One compiled question template."""

    qtype: str
    index: int  # position in the type's question_templates
    regex: re.Pattern[str]
    literal_len: int  # characters of fixed text: more specific templates win ties
    anchor: str  # longest fixed chunk (lower case): a cheap prefilter


class ParsedQuestion(BaseModel):
    """A question matched to a template: its type and the raw slot texts."""

    model_config = ConfigDict(extra="forbid")

    qtype: str
    template: int
    slots: dict[str, str] = Field(default_factory=dict)
    literal_len: int = 0


def _norm(text: str) -> str:
    return _TRAIL.sub("", _SPACES.sub(" ", text.strip()))


def _slot_regex(qt: QuestionType, slot: str) -> str:
    if slot in _CAPTION_SLOTS or slot in ("width", "plural"):
        return f"(?P<{slot}>.+?)"
    if slot in ("rel", "adj"):
        if not qt.phrases:
            raise ValueError(f"question type {qt.name}: template slot {{{slot}}} but no phrases")
        return f"(?P<{slot}>" + "|".join(re.escape(p) for p in sorted(qt.phrases, key=len, reverse=True)) + ")"
    raise ValueError(f"question type {qt.name}: unknown template slot {{{slot}}}")


def compile_template(qt: QuestionType, index: int) -> QuestionPattern:
    template = _norm(qt.question_templates[index])
    parts: list[str] = []
    literals: list[str] = []
    pos = 0
    seen: set[str] = set()
    for m in _SLOT.finditer(template):
        lit = template[pos:m.start()]
        literals.append(lit)
        parts.append(re.escape(lit).replace(r"\ ", r"\s+"))
        slot = m.group(1)
        # A slot used twice must capture the same text the second time.
        parts.append(f"(?P={slot})" if slot in seen else _slot_regex(qt, slot))
        seen.add(slot)
        pos = m.end()
    literals.append(template[pos:])
    parts.append(re.escape(template[pos:]).replace(r"\ ", r"\s+"))
    anchor = max((s.strip().lower() for s in literals), key=len)
    return QuestionPattern(qt.name, index, re.compile("".join(parts), re.IGNORECASE | re.DOTALL),
                           sum(len(s) for s in literals), anchor)


@functools.cache
def question_patterns() -> tuple[QuestionPattern, ...]:
    """Every template of every registered type, compiled once."""
    return tuple(compile_template(qt, i) for qt in REGISTRY.values() for i in range(len(qt.question_templates)))


def match_question(question: str, qtypes: Sequence[str] | None = None) -> list[ParsedQuestion]:
    """All (type, template) readings of ``question``, most specific template first."""
    text = _norm(question)
    low = text.lower()
    allowed = set(qtypes) if qtypes is not None else None
    out = []
    for p in question_patterns():
        if (allowed is not None and p.qtype not in allowed) or p.anchor not in low:
            continue
        m = p.regex.fullmatch(text)
        if m is not None:
            slots = {k: v.strip() for k, v in m.groupdict().items() if v is not None}
            out.append(ParsedQuestion(qtype=p.qtype, template=p.index, slots=slots, literal_len=p.literal_len))
    out.sort(key=lambda r: -r.literal_len)
    return out


# --------------------------------------------------------------------------- caption resolution
# Captions ({A}, {B}, {C}) resolve through the toolkit's one phrase resolver (``phrases.resolve``: exact
# caption, else class + words, alias kinds, relaxed attributes). Only the count slot's category is matched here:
# counting takes the objects whose category name is that plural, as the oracle counts.
_ARTICLES = frozenset({"the", "a", "an"})


def _bare(text: str) -> str:
    return " ".join(t for t in re.findall(r"[a-z0-9']+", text.lower()) if t not in _ARTICLES)


# --------------------------------------------------------------------------- results
class GeometricResult(BaseModel):
    """What the geometric backend worked out for one question (``answer`` is what ``ask`` returns)."""

    model_config = ConfigDict(extra="forbid")

    answer: Answer
    qtype: str | None = None
    object_ids: list[str] = Field(default_factory=list)
    exact: float | bool | str | None = None  # before rounding: SI value, bool, or winning object id
    exact_captions: bool = True  # False: some caption was not the object's own (a class / relaxed match)
    error: str | None = None


ImageLike = Any  # Scene3D | Frame | str | Path | np.ndarray | PIL.Image
DepthBackend = Any  # a name or an object with predict(frame) -> HxW metres


class GeometricVLM:
    """Answers generated spatial questions from a 3D reconstruction (see the module docstring).

    ``units`` picks metric or imperial phrasing of lengths; ``hedge`` allows "about"; ``seed`` fixes the
    template choice (answers use the first template of each bank unless ``vary_templates``).
    """

    def __init__(
        self,
        *,
        detector: Any = "ground-truth",
        segmenter: Any = "ground-truth",
        depth: DepthBackend = "sensor",
        scenes: Mapping[str, Scene3D] | None = None,
        units: Literal["metric", "imperial"] = "metric",
        hedge: bool = False,
        vary_templates: bool = False,
        seed: int = 0,
        fuzzy_captions: bool = True,
        name: str = "geometric",
        reconstruct_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if units not in ("metric", "imperial"):
            raise ValueError(f"units must be 'metric' or 'imperial', got {units!r}")
        self.detector, self.segmenter, self.depth = detector, segmenter, depth
        self.scenes: dict[str, Scene3D] = {str(k): v for k, v in (scenes or {}).items()}
        self.units = units
        self.hedge = hedge
        self.vary_templates = vary_templates
        self.seed = seed
        self.fuzzy_captions = fuzzy_captions
        self.source = name
        self.reconstruct_kwargs = dict(reconstruct_kwargs or {})
        self._cache: dict[str, tuple[Scene3D, SceneContext]] = {}

    # ------------------------------------------------------------------ images -> scenes
    def scene_for(self, image: ImageLike) -> Scene3D:
        """The reconstruction this backend answers from (cached per image id / path)."""
        return self._context(image)[0]

    def _context(self, image: ImageLike) -> tuple[Scene3D, SceneContext]:
        if isinstance(image, Scene3D):
            key = f"scene:{id(image)}"
            if key not in self._cache:
                self._cache[key] = (image, SceneContext.build(image))
            return self._cache[key]
        key = self._key(image)
        if key not in self._cache:
            scene = self.scenes.get(key) if key is not None else None
            if scene is None:
                scene = self._reconstruct(self._frame(image))
            if key is None:
                return scene, SceneContext.build(scene)
            self._cache[key] = (scene, SceneContext.build(scene))
        return self._cache[key]

    @staticmethod
    def _key(image: ImageLike) -> str | None:
        if isinstance(image, Frame):
            return f"frame:{image.image_id}"
        if isinstance(image, (str, Path)):
            return str(image)
        return None  # arrays / PIL images carry no identity: not cached

    def _frame(self, image: ImageLike) -> Frame:
        if isinstance(image, Frame):
            return image
        if isinstance(image, (str, Path)):
            p = Path(image)
            if p.is_dir():
                from spatialvlm_core.sim import load_scene  # mujoco: only for a scene folder

                return load_scene(p).frame()
            if not p.is_file():
                raise FileNotFoundError(f"GeometricVLM: image not found and not a registered scene: {p}")
            with Image.open(p) as im:
                rgb = np.asarray(im.convert("RGB"))
            return Frame(image_id=p.stem, rgb=rgb, source=str(p))
        if isinstance(image, np.ndarray):
            return Frame(image_id="array", rgb=image)
        if hasattr(image, "convert"):  # PIL image
            return Frame(image_id="image", rgb=np.asarray(image.convert("RGB")))
        raise ValueError(f"GeometricVLM: cannot use an image of type {type(image).__name__} "
                         "(give a Scene3D, a Frame, a scene folder, an image path or an array)")

    def _reconstruct(self, frame: Frame) -> Scene3D:
        return reconstruct(frame, detector=self.detector, segmenter=self.segmenter, depth=self.depth,
                           **self.reconstruct_kwargs)

    # ------------------------------------------------------------------ answering
    def ask(self, image: ImageLike, question: str) -> Answer:
        return self.explain(image, question).answer

    def ask_batch(self, images: Sequence[ImageLike], questions: Sequence[str]) -> list[Answer]:
        if len(images) != len(questions):
            raise ValueError(f"got {len(images)} images but {len(questions)} questions")
        return [self.ask(im, q) for im, q in zip(images, questions, strict=True)]

    def explain(self, image: ImageLike, question: str) -> GeometricResult:
        """The answer plus how it was found (type, objects, exact value before rounding)."""
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question is empty")
        return self.answer_scene(self._context(image)[1], question)

    def answer_qa(self, image: ImageLike, qa: QAPair) -> Answer:
        """The answer to a generated ``QAPair`` (by its type and object ids, not its text)."""
        return self.explain_qa(image, qa).answer

    def explain_qa(self, image: ImageLike, qa: QAPair) -> GeometricResult:
        """``answer_qa`` plus how it was found. The objects are the pair's ids in the reconstruction (the scene
        the questions were made from, or one that keeps its ids); a missing id is an error result."""
        ctx = self._context(image)[1]
        try:
            query = query_of(qa)
            objs = [ctx.scene.get(i) for i in query.object_ids]
            sol = solve(ctx, query)
        except (KeyError, ValueError, ZeroDivisionError, IndexError) as e:
            return self._fail(f"Cannot answer: {e}", qtype=qa.qtype)
        slots = {k: o.caption for k, o in zip(_CAPTION_SLOTS, objs, strict=False)}
        if query.phrase is not None:
            slots["rel"] = query.phrase
        if query.adjective is not None:
            slots["adj"] = query.adjective
        if qa.qtype == "count" and objs:
            slots["plural"] = plural(objs[0].name)
        return self._phrase(sol, slots, objs, ctx, qa.qtype + "|" + "|".join(slots.values()))

    def answer_scene(self, scene: Scene3D | SceneContext, question: str) -> GeometricResult:
        ctx = scene if isinstance(scene, SceneContext) else SceneContext.build(scene)
        readings = match_question(question)
        if not readings:
            return self._fail("Cannot answer: the question matches none of the known question templates.")
        best: tuple[int, int, ParsedQuestion, list[Object3D], bool] | None = None
        for r in readings:
            resolved = self._resolve(r, ctx)
            if resolved is None:
                continue
            objs, exact = resolved
            rank = (2 if exact else 1, r.literal_len)
            if best is None or rank > best[:2]:
                best = (*rank, r, objs, exact)
        if best is None:
            names = sorted({v for r in readings for k, v in r.slots.items() if k in _CAPTION_SLOTS})
            return self._fail(f"Cannot answer: could not find {', '.join(repr(n) for n in names)} in the image.",
                              qtype=readings[0].qtype)
        _, _, reading, objs, exact = best
        try:
            res = self._compute(reading, objs, ctx)
        except (ValueError, ZeroDivisionError, IndexError) as e:
            return self._fail(f"Cannot answer: {e}", qtype=reading.qtype)
        res.exact_captions = exact
        return res

    def _fail(self, text: str, qtype: str | None = None) -> GeometricResult:
        return GeometricResult(answer=Answer(text=text, source=self.source), qtype=qtype, error=text)

    def _resolve(self, r: ParsedQuestion, ctx: SceneContext) -> tuple[list[Object3D], bool] | None:
        """Objects for the caption slots (in A, B, C order); None when one cannot be found."""
        objs: list[Object3D] = []
        exact = True
        for slot in _CAPTION_SLOTS:
            if slot not in r.slots:
                continue
            found = resolve(ctx.scene, r.slots[slot])
            if not found.found or len(found.objects) != 1 or not (found.exact or self.fuzzy_captions):
                return None
            o = found.objects[0]
            if any(o.id == x.id for x in objs):
                return None
            objs.append(o)
            exact &= found.exact
        if "plural" in r.slots:  # count: every object of that category (none: the answer is zero)
            want = _bare(r.slots["plural"])
            same = [o for o in ctx.scene.objects if _bare(plural(o.name)) == want]
            objs = same[:1]
            exact = bool(same)
        if "width" in r.slots and parse_answer(r.slots["width"]).meters is None:
            return None
        return objs, exact

    def _pick(self, bank: tuple[str, ...], question: str) -> str:
        if not self.vary_templates:
            return bank[0]
        return bank[random.Random(f"{self.seed}|{question}").randrange(len(bank))]

    def _length(self, meters: float, question: str) -> tuple[str, float, str]:
        rng = random.Random(f"{self.seed}|len|{question}")
        return format_length(max(0.0, float(meters)), rng, self.units, hedge=self.hedge)

    def _compute(self, r: ParsedQuestion, objs: list[Object3D], ctx: SceneContext) -> GeometricResult:
        width_m = None
        if "width" in r.slots:
            width_m = parse_answer(r.slots["width"]).meters  # not None: checked in _resolve
        query = OracleQuery(qtype=r.qtype, object_ids=[o.id for o in objs], phrase=r.slots.get("rel"),
                            adjective=r.slots.get("adj"), width_m=width_m)
        slots = {k: o.caption for k, o in zip(_CAPTION_SLOTS, objs, strict=False)}
        slots.update({k: r.slots[k] for k in ("rel", "adj", "plural") if k in r.slots})
        question = r.qtype + "|" + "|".join(r.slots.values())  # seeds template / hedge choices
        return self._phrase(solve(ctx, query), slots, objs, ctx, question)

    def _phrase(self, sol: OracleAnswer, slots: dict[str, str], objs: list[Object3D], ctx: SceneContext,
                question: str) -> GeometricResult:
        """The oracle's exact answer in words. ``slots``: the captions (A, B, C) and the wording's rel / adj /
        plural; ``question`` seeds the template and rounding choices."""
        qt = REGISTRY[sol.qtype]
        caps = {k: v for k, v in slots.items() if k in _CAPTION_SLOTS}
        if qt.kind == "predicate":
            return self._predicate(qt, sol, slots, caps, question)
        if qt.kind == "choice":
            return self._choice(qt, sol, slots, objs, ctx, caps)
        return self._quantity(qt, sol, slots, objs, ctx, caps, question)

    def _predicate(self, qt: QuestionType, sol: OracleAnswer, slots: dict[str, str], caps: dict[str, str],
                   question: str) -> GeometricResult:
        holds = bool(sol.holds)
        out = dict(caps)
        if qt.name == "fits_between_predicate":
            assert sol.value is not None  # the oracle gives the gap
            out["value"] = self._length(sol.value, question)[0]
        elif qt.name != "between_predicate":
            said = slots["rel"].lower()
            other = qt.phrases[1] if said == qt.phrases[0].lower() else qt.phrases[0]
            out.update(rel=said, opp=other)
        bank = qt.answer_templates if holds else qt.negative_answer_templates
        text = T.render(self._pick(bank, question), **out)
        return GeometricResult(answer=Answer(text=text, boolean=holds, source=self.source), qtype=qt.name,
                               object_ids=sol.object_ids, exact=holds)

    def _choice(self, qt: QuestionType, sol: OracleAnswer, slots: dict[str, str], objs: list[Object3D],
                ctx: SceneContext, caps: dict[str, str]) -> GeometricResult:
        ids = list(sol.object_ids)
        win_id = str(sol.winner_id)
        winner = ctx.scene.get(win_id)
        if qt.phrases:  # binary choice
            adj = slots["adj"].lower()
            loser = ctx.scene.get(ids[1] if win_id == ids[0] else ids[0])
            rel_idx = 0 if adj == qt.phrases[0].lower() else 1
            # The relation phrase that goes with the adjective ("more to the left" -> "to the left of").
            rel = _relation_phrase(qt.name, rel_idx)
            text = T.render(self._pick(qt.answer_templates, adj + win_id), X=winner.caption, Y=loser.caption,
                            adj=adj, rel=rel)
        else:  # open choice ("which object is tallest / closest to A")
            text = T.render(self._pick(qt.answer_templates, win_id), X=winner.caption, **caps)
            ids = [*ids, win_id]
        return GeometricResult(answer=Answer(text=text, source=self.source), qtype=qt.name, object_ids=ids,
                               exact=win_id)

    def _quantity(self, qt: QuestionType, sol: OracleAnswer, slots: dict[str, str], objs: list[Object3D],
                  ctx: SceneContext, caps: dict[str, str], question: str) -> GeometricResult:
        kind = quantity_kind(qt.name)
        out = dict(caps)
        exact = float(sol.value)  # type: ignore[arg-type]
        meters: float | None = None
        if kind == "length":
            vtext, value, unit = self._length(exact, question)
            meters = to_meters(value, unit)
        elif kind == "count":
            value, unit = float(round(exact)), "count"
            vtext = str(int(value))
            if "plural" in slots:
                out["plural"] = slots["plural"]
        elif kind == "clock":
            value, unit = float(_hour_of(exact)), "o'clock"
            vtext = f"{int(value)} o'clock"
        else:
            signed = ctx.m(objs[0]).bearing_deg
            value, unit = float(5 * round(abs(signed) / 5)), "deg"
            vtext = f"{int(value)} degrees " + ("to the right" if signed > 0 else "to the left")
        text = T.render(self._pick(qt.answer_templates, question), value=vtext, **out)
        ans = Answer(text=text, value=value, unit=None if unit == "count" else unit, meters=meters,
                     source=self.source)
        return GeometricResult(answer=ans, qtype=qt.name, object_ids=list(sol.object_ids), exact=exact)


def _hour_of(clock_value: float) -> int:
    """Clock hour 1..12 of an exact clock value (as ``rounded_clock`` states it)."""
    h = round(clock_value) % 12
    return 12 if h == 0 else int(h)


def _relation_phrase(choice_qtype: str, index: int) -> str:
    """The predicate phrase of a binary choice's relation ("left_right_choice", 0 -> "to the left of")."""
    pred = REGISTRY.get(choice_qtype.removesuffix("_choice") + "_predicate")
    if pred is None or len(pred.phrases) < 2:
        return ""
    return pred.phrases[index]

