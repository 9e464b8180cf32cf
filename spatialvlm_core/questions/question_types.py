"""The 38 registered question types.

=====  ==========================  ============  ============  ====  =========  ==========================================
#      name                        category      kind          objs  canonical  exact answer
=====  ==========================  ============  ============  ====  =========  ==========================================
1      left_right_predicate        qualitative   predicate     2     no         A left of B (camera right direction)
2      left_right_choice           qualitative   choice        2     no         which is more to the left / right
3      above_below_predicate       qualitative   predicate     2     yes        A's centre above B's centre
4      above_below_choice          qualitative   choice        2     yes        which is higher / lower
5      front_behind_predicate      qualitative   predicate     2     no         A in front of B (depth along view)
6      front_behind_choice         qualitative   choice        2     no         which is in front / further back
7      closer_predicate            qualitative   predicate     2     no         A closer to the camera centre than B
8      closer_choice               qualitative   choice        2     no         which is closer / farther from camera
9      bigger_predicate            qualitative   predicate     2     no         volume(A) > volume(B)
10     bigger_choice               qualitative   choice        2     no         which is bigger / smaller
11     taller_predicate            qualitative   predicate     2     yes        height(A) > height(B)
12     taller_choice               qualitative   choice        2     yes        which is taller / shorter
13     wider_predicate             qualitative   predicate     2     no         width(A) > width(B)
14     wider_choice                qualitative   choice        2     no         which is wider / thinner
15     between_predicate           qualitative   predicate     3     no         A between B and C in the ground plane
16     fits_between_predicate      qualitative   predicate     2     yes        footprint gap(A, B) > stated width
17     closest_object_choice       qualitative   choice        2     no         object nearest to A (box distance)
18     nearest_to_camera_choice    qualitative   choice        2     no         object nearest to the camera
19     tallest_choice              qualitative   choice        2     yes        tallest object
20     distance                    quantitative  quantitative  2     no         centroid-to-centroid distance (m)
21     horizontal_distance         quantitative  quantitative  2     yes        centroid distance in the floor plane (m)
22     vertical_distance           quantitative  quantitative  2     yes        |z(A) - z(B)| of centroids (m)
23     gap                         quantitative  quantitative  2     yes        free space between footprints (m)
24     min_distance                quantitative  quantitative  2     no         closest points of the two boxes (m)
25     width                       quantitative  quantitative  1     no         larger horizontal extent (m)
26     height                      quantitative  quantitative  1     yes        vertical extent (m)
27     depth                       quantitative  quantitative  1     no         smaller horizontal extent (m)
28     height_above_floor          quantitative  quantitative  1     yes        bottom of A above z = 0 (m)
29     elevation_difference        quantitative  quantitative  2     yes        top(A) - top(B) (m, A the higher)
30     height_difference           quantitative  quantitative  2     yes        height(A) - height(B) (m, A the taller)
31     distance_to_camera          quantitative  quantitative  1     no         camera centre to centroid (m)
32     farther_by                  quantitative  quantitative  2     no         camera distance A - B (m, A farther)
33     clock_direction             quantitative  quantitative  1     no         clock hour of A seen from the camera
34     relative_clock              quantitative  quantitative  2     no         clock hour of B from A, camera heading
35     bearing                     quantitative  quantitative  1     no         |angle| off the optical axis (deg)
36     count                       quantitative  quantitative  1     no         number of objects named like A
37     stack_count                 quantitative  quantitative  2     yes        height(B) / height(A)
38     side_by_side_count          quantitative  quantitative  2     no         width(B) / width(A)
=====  ==========================  ============  ============  ====  =========  ==========================================

"canonical = yes" types are only asked in gravity-aligned scenes; camera-relative types also need
``Scene3D.camera`` there (a non-canonical scene is in the camera frame already).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spatialvlm_core.questions import templates as T
from spatialvlm_core.questions.geometry_ops import SceneContext, clock_hour, rounded_clock
from spatialvlm_core.questions.quantities import format_length
from spatialvlm_core.questions.registry import Draft, Objs, QuestionType, Request, register
from spatialvlm_core.types import Object3D
from spatialvlm_core.units import to_meters

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _pick(rng_templates: tuple[str, ...], req: Request) -> tuple[int, str]:
    i = req.rng.randrange(len(rng_templates))
    return i, rng_templates[i]


def plural(name: str) -> str:
    """English plural of a category name ("chair" -> "chairs", "shelf" -> "shelves")."""
    n = name.strip()
    irregular = {"person": "people", "man": "men", "woman": "women", "child": "children", "mouse": "mice",
                 "foot": "feet", "shelf": "shelves", "knife": "knives", "leaf": "leaves"}
    last = n.split(" ")[-1]
    if last in irregular:
        return n[: len(n) - len(last)] + irregular[last]
    if n.endswith(("s", "x", "z", "ch", "sh")):
        return n + "es"
    if n.endswith("y") and len(n) > 1 and n[-2] not in "aeiou":
        return n[:-1] + "ies"
    return n + "s"


# --------------------------------------------------------------------------- pairwise relations
@dataclass(frozen=True)
class Relation:
    key: str
    score: Callable[[SceneContext, Object3D, Object3D], float]  # > 0: "A rel B" holds
    margin: Callable[[SceneContext, Object3D, Object3D], float]
    rel: str
    opp: str
    adj: str
    adj_opp: str
    spatial: bool
    requires_canonical: bool
    needs_camera: bool
    description: str


def _log_ratio(a: float, b: float) -> float:
    if a <= 1e-9 or b <= 1e-9:
        return 0.0  # degenerate size: the margin rule skips it
    return math.log(a / b)


RELATIONS: tuple[Relation, ...] = (
    Relation("left_right", lambda c, a, b: c.m(b).lateral - c.m(a).lateral, lambda c, a, b: 0.05,
             "to the left of", "to the right of", "more to the left", "more to the right", True, False, True,
             "left/right along the camera's right direction; margin 5 cm"),
    Relation("above_below", lambda c, a, b: c.m(a).up - c.m(b).up, lambda c, a, b: 0.10,
             "above", "below", "higher", "lower", True, True, False,
             "centroid heights; margin 10 cm"),
    Relation("front_behind", lambda c, a, b: c.m(b).depth - c.m(a).depth, lambda c, a, b: 0.10,
             "in front of", "behind", "more in front", "further back", True, False, True,
             "depth along the horizontal viewing direction; margin 10 cm"),
    Relation("closer", lambda c, a, b: c.m(b).cam_dist - c.m(a).cam_dist,
             lambda c, a, b: max(0.10, 0.05 * max(c.m(a).cam_dist, c.m(b).cam_dist)),
             "closer to the camera than", "farther from the camera than", "closer to the camera",
             "farther from the camera", False, False, True,
             "distance camera centre to centroid; margin max(10 cm, 5%)"),
    Relation("bigger", lambda c, a, b: _log_ratio(c.m(a).volume, c.m(b).volume),
             lambda c, a, b: math.log(1.2), "bigger than", "smaller than", "bigger", "smaller", False, False, False,
             "box volume; skipped when volumes differ by < 20%"),
    Relation("taller", lambda c, a, b: _log_ratio(c.m(a).height, c.m(b).height),
             lambda c, a, b: math.log(1.05), "taller than", "shorter than", "taller", "shorter", False, True, False,
             "vertical extent; skipped when heights differ by < 5%"),
    Relation("wider", lambda c, a, b: _log_ratio(c.m(a).width, c.m(b).width),
             lambda c, a, b: math.log(1.05), "wider than", "thinner than", "wider", "thinner", False, False, False,
             "larger horizontal extent; skipped when widths differ by < 5%"),
)


def _rel_clear(rel: Relation) -> Callable[[SceneContext, Objs, float], bool]:
    def clear(ctx: SceneContext, objs: Objs, scale: float) -> bool:
        s = rel.score(ctx, objs[0], objs[1])
        return s != 0 and abs(s) >= rel.margin(ctx, objs[0], objs[1]) * scale

    return clear


def _predicate_builder(rel: Relation) -> Callable[[QuestionType, SceneContext, Objs, Request], Draft | None]:
    clear = _rel_clear(rel)

    def build(qt: QuestionType, ctx: SceneContext, objs: Objs, req: Request) -> Draft | None:
        a, b = objs[0], objs[1]
        if not clear(ctx, objs, req.margin_scale):
            return None
        holds = rel.score(ctx, a, b) > 0
        # Phrase it so the stated truth is the requested one: "left of" when it holds and True is wanted.
        use_pos = holds == req.target_bool
        said, other = (rel.rel, rel.opp) if use_pos else (rel.opp, rel.rel)
        qi, qtpl = _pick(qt.question_templates, req)
        bank = qt.answer_templates if req.target_bool else qt.negative_answer_templates
        ai, atpl = _pick(bank, req)
        slots = {"A": a.caption, "B": b.caption, "rel": said, "opp": other}
        return Draft(question=T.render(qtpl, **slots), answer=T.render(atpl, **slots), object_ids=[a.id, b.id],
                     q_index=qi, a_index=ai, truth_bool=req.target_bool,
                     extra={"phrase": said, "score": rel.score(ctx, a, b)})

    return build


def _choice_builder(rel: Relation) -> Callable[[QuestionType, SceneContext, Objs, Request], Draft | None]:
    clear = _rel_clear(rel)

    def build(qt: QuestionType, ctx: SceneContext, objs: Objs, req: Request) -> Draft | None:
        a, b = objs[0], objs[1]
        if not clear(ctx, objs, req.margin_scale):
            return None
        holds = rel.score(ctx, a, b) > 0
        use_pos = req.rng.random() < 0.5
        adj, said = (rel.adj, rel.rel) if use_pos else (rel.adj_opp, rel.opp)
        winner, loser = (a, b) if holds == use_pos else (b, a)
        first, second = (a, b) if req.rng.random() < 0.5 else (b, a)
        qi, qtpl = _pick(qt.question_templates, req)
        ai, atpl = _pick(qt.answer_templates, req)
        q = T.render(qtpl, A=first.caption, B=second.caption, adj=adj)
        ans = T.render(atpl, X=winner.caption, Y=loser.caption, adj=adj, rel=said)
        return Draft(question=q, answer=ans, object_ids=[first.id, second.id], q_index=qi, a_index=ai,
                     choice=winner.caption, extra={"adjective": adj, "winner_id": winner.id})

    return build


for _rel in RELATIONS:
    _truth_pred: Callable[[SceneContext, Objs], bool] = (
        lambda r: lambda ctx, o: r.score(ctx, o[0], o[1]) > 0)(_rel)
    _truth_choice: Callable[[SceneContext, Objs], str] = (
        lambda r: lambda ctx, o: o[0].id if r.score(ctx, o[0], o[1]) > 0 else o[1].id)(_rel)
    register(QuestionType(
        name=f"{_rel.key}_predicate", category="qualitative", kind="predicate", n_objects=2,
        requires_canonical=_rel.requires_canonical, needs_camera=_rel.needs_camera,
        question_templates=T.SPATIAL_PREDICATE_Q if _rel.spatial else T.COMPARATIVE_PREDICATE_Q,
        answer_templates=T.PREDICATE_YES, negative_answer_templates=T.PREDICATE_NO,
        truth_fn=_truth_pred, clear_fn=_rel_clear(_rel), build_fn=_predicate_builder(_rel),
        phrases=(_rel.rel, _rel.opp), description=_rel.description,
    ))
    register(QuestionType(
        name=f"{_rel.key}_choice", category="qualitative", kind="choice", n_objects=2,
        requires_canonical=_rel.requires_canonical, needs_camera=_rel.needs_camera,
        question_templates=T.CHOICE_Q, answer_templates=T.CHOICE_A,
        truth_fn=_truth_choice, clear_fn=_rel_clear(_rel), build_fn=_choice_builder(_rel),
        phrases=(_rel.adj, _rel.adj_opp), description=_rel.description,
    ))


# --------------------------------------------------------------------------- between / fits between
def _between_score(ctx: SceneContext, objs: Objs) -> tuple[float, float]:
    """(t, perpendicular distance / |BC|) of A projected on segment B->C in the ground plane."""
    p, b, c = (ctx.plane_xy(o) for o in objs[:3])
    if ctx.scene.canonical:  # use the true floor plane (independent of the camera)
        p, b, c = (np.asarray(o.centroid[:2], dtype=float) for o in objs[:3])
    bc = c - b
    n2 = float(bc @ bc)
    if n2 < 1e-12:
        return -1.0, math.inf
    t = float((p - b) @ bc) / n2
    perp = abs(float(bc[0] * (p - b)[1] - bc[1] * (p - b)[0])) / n2
    return t, perp


def _between_truth(ctx: SceneContext, objs: Objs) -> bool:
    t, perp = _between_score(ctx, objs)
    return 0.0 < t < 1.0 and perp < 0.4


def _between_clear(ctx: SceneContext, objs: Objs, scale: float) -> bool:
    t, perp = _between_score(ctx, objs)
    if not math.isfinite(perp) or float(np.linalg.norm(ctx.plane_xy(objs[1]) - ctx.plane_xy(objs[2]))) < 0.3:
        return False
    inside = 0.15 * scale <= t <= 1 - 0.15 * scale and perp <= 0.4 - 0.15 * scale
    outside = t <= -0.15 * scale or t >= 1 + 0.15 * scale or perp >= 0.4 + 0.2 * scale
    return inside or outside


def _between_build(qt: QuestionType, ctx: SceneContext, objs: Objs, req: Request) -> Draft | None:
    if not _between_clear(ctx, objs, req.margin_scale):
        return None
    truth = _between_truth(ctx, objs)
    if truth != req.target_bool:
        return None  # the generator retries with other objects; "between" cannot be re-phrased
    a, b, c = objs[0], objs[1], objs[2]
    qi, qtpl = _pick(qt.question_templates, req)
    ai, atpl = _pick(qt.answer_templates if truth else qt.negative_answer_templates, req)
    slots = {"A": a.caption, "B": b.caption, "C": c.caption}
    return Draft(question=T.render(qtpl, **slots), answer=T.render(atpl, **slots), object_ids=[a.id, b.id, c.id],
                 q_index=qi, a_index=ai, truth_bool=truth)


register(QuestionType(
    name="between_predicate", category="qualitative", kind="predicate", n_objects=3, requires_canonical=False,
    needs_camera=False, question_templates=T.BETWEEN_Q, answer_templates=T.BETWEEN_YES,
    negative_answer_templates=T.BETWEEN_NO, truth_fn=_between_truth, clear_fn=_between_clear,
    build_fn=_between_build, phrases=("between",),
    description="A's centroid projects inside segment B-C (t in (0, 1)) within 0.4 |BC| of it; margins 0.15",
))


def _fits_truth(ctx: SceneContext, objs: Objs) -> float:
    return ctx.footprint_gap(objs[0], objs[1])


def _fits_clear(ctx: SceneContext, objs: Objs, scale: float) -> bool:
    return _fits_truth(ctx, objs) >= 0.2


def _fits_build(qt: QuestionType, ctx: SceneContext, objs: Objs, req: Request) -> Draft | None:
    gap = _fits_truth(ctx, objs)
    if gap < 0.2:
        return None
    factor = req.rng.uniform(0.35, 0.8) if req.target_bool else req.rng.uniform(1.25, 2.0)
    w_text, w_value, w_unit = format_length(gap * factor, req.rng, req.units, hedge=False)
    w_m = to_meters(w_value, w_unit)
    if abs(gap - w_m) < max(0.05, 0.1 * gap) * req.margin_scale:
        return None  # stated width too close to the gap after rounding
    truth = w_m < gap
    g_text, _, _ = format_length(gap, req.rng, req.units, hedge=req.hedge)
    a, b = objs[0], objs[1]
    qi, qtpl = _pick(qt.question_templates, req)
    ai, atpl = _pick(qt.answer_templates if truth else qt.negative_answer_templates, req)
    slots = {"A": a.caption, "B": b.caption, "width": w_text, "value": g_text}
    return Draft(question=T.render(qtpl, **slots), answer=T.render(atpl, **slots), object_ids=[a.id, b.id],
                 q_index=qi, a_index=ai, truth_bool=truth, truth=gap,
                 extra={"width_m": w_m, "width_value": w_value, "width_unit": w_unit})


register(QuestionType(
    name="fits_between_predicate", category="qualitative", kind="predicate", n_objects=2, requires_canonical=True,
    needs_camera=False, question_templates=T.FITS_Q, answer_templates=T.FITS_YES,
    negative_answer_templates=T.FITS_NO, truth_fn=_fits_truth, clear_fn=_fits_clear, build_fn=_fits_build,
    description="footprint gap vs a stated width; gap >= 20 cm, |gap - width| >= max(5 cm, 10%)",
))


# --------------------------------------------------------------------------- open choices (which object)
def _ranked(ctx: SceneContext, key: Callable[[Object3D], float], exclude: str | None = None
            ) -> list[tuple[float, Object3D]]:
    return sorted(((key(o), o) for o in ctx.scene.objects if o.id != exclude), key=lambda t: t[0])


def _open_choice(name: str, n_objects: int, requires_canonical: bool, needs_camera: bool,
                 key: Callable[[SceneContext, Object3D | None, Object3D], float], anchored: bool,
                 rel_margin: float, abs_margin: float, description: str) -> None:
    def ranking(ctx: SceneContext, objs: Objs) -> list[tuple[float, Object3D]]:
        anchor = objs[0] if anchored else None
        return _ranked(ctx, lambda o: key(ctx, anchor, o), exclude=anchor.id if anchor else None)

    def truth(ctx: SceneContext, objs: Objs) -> str:
        return ranking(ctx, objs)[0][1].id

    def clear(ctx: SceneContext, objs: Objs, scale: float) -> bool:
        r = ranking(ctx, objs)
        if len(r) < 2 or r[0][1].ambiguous:
            return False  # the winner must be nameable
        best, second = r[0][0], r[1][0]
        return second - best >= max(abs_margin, rel_margin * abs(second)) * scale

    def build(qt: QuestionType, ctx: SceneContext, objs: Objs, req: Request) -> Draft | None:
        if not clear(ctx, objs, req.margin_scale):
            return None
        winner = ranking(ctx, objs)[0][1]
        if sum(o.caption == winner.caption for o in ctx.scene.objects) > 1:
            return None
        slots = {"A": objs[0].caption} if anchored else {}
        qi, qtpl = _pick(qt.question_templates, req)
        ai, atpl = _pick(qt.answer_templates, req)
        ids = [objs[0].id, winner.id] if anchored else [winner.id]
        return Draft(question=T.render(qtpl, **slots), answer=T.render(atpl, X=winner.caption, **slots),
                     object_ids=ids, q_index=qi, a_index=ai, choice=winner.caption)

    register(QuestionType(
        name=name, category="qualitative", kind="choice", n_objects=n_objects,
        requires_canonical=requires_canonical, needs_camera=needs_camera,
        question_templates=T.open_choice_questions(name), answer_templates=T.OPEN_CHOICE_A[name], truth_fn=truth,
        clear_fn=clear, build_fn=build, description=description,
    ))


_open_choice("closest_object_choice", 2, False, False, lambda c, a, o: c.min_distance(a, o), True, 0.2, 0.05,
             "nearest object to A by closest-point distance; runner-up >= max(5 cm, 20%) farther")
_open_choice("nearest_to_camera_choice", 2, False, True, lambda c, a, o: c.m(o).cam_dist, False, 0.05, 0.1,
             "object nearest the camera centre; runner-up >= max(10 cm, 5%) farther")
_open_choice("tallest_choice", 2, True, False, lambda c, a, o: -c.m(o).height, False, 0.05, 0.02,
             "tallest object; runner-up >= max(2 cm, 5%) shorter")


# --------------------------------------------------------------------------- quantitative
ValueFn = Callable[[SceneContext, Objs], float]


def _quant(name: str, n_objects: int, requires_canonical: bool, needs_camera: bool, value: ValueFn,
           fmt: str, min_value: float, description: str, order: Callable[[SceneContext, Objs], bool] | None = None,
           clear_extra: Callable[[SceneContext, Objs, float], bool] | None = None) -> None:
    """Register a quantitative type. ``order(ctx, objs)`` True means swap A and B before asking."""

    def clear(ctx: SceneContext, objs: Objs, scale: float) -> bool:
        v = value(ctx, objs)
        if not math.isfinite(v) or v < min_value * scale:
            return False
        return clear_extra is None or clear_extra(ctx, objs, scale)

    def build(qt: QuestionType, ctx: SceneContext, objs: Objs, req: Request) -> Draft | None:
        objs = list(objs)
        if order is not None and order(ctx, objs):
            objs[0], objs[1] = objs[1], objs[0]
        if not clear(ctx, objs, req.margin_scale):
            return None
        truth = value(ctx, objs)
        slots = {k: o.caption for k, o in zip("ABC", objs, strict=False)}
        extra: dict[str, object] = {}
        if fmt == "length":
            text, stated, unit = format_length(truth, req.rng, req.units, hedge=req.hedge)
        elif fmt == "count":
            stated, unit = float(round(truth)), "count"
            k = int(stated)
            text = _NUMBER_WORDS[k] if k < len(_NUMBER_WORDS) and req.rng.random() < 0.3 else str(k)
            slots["plural"] = plural(objs[0].name)
        elif fmt == "clock":
            bearing = _clock_bearing(ctx, objs)
            stated, unit = float(rounded_clock(bearing)), "o'clock"
            text = f"{int(stated)} o'clock"
        elif fmt == "deg":
            signed = ctx.m(objs[0]).bearing_deg
            stated, unit = float(5 * round(abs(signed) / 5)), "deg"
            text = f"{int(stated)} degrees " + ("to the right" if signed > 0 else "to the left")
            extra["signed_deg"] = signed
        else:  # pragma: no cover - guarded by registration below
            raise ValueError(f"unknown format {fmt!r}")
        qi, qtpl = _pick(qt.question_templates, req)
        ai, atpl = _pick(qt.answer_templates, req)
        return Draft(question=T.render(qtpl, **slots), answer=T.render(atpl, value=text, **slots),
                     object_ids=[o.id for o in objs[:n_objects]], q_index=qi, a_index=ai, value=stated, unit=unit,
                     truth=truth, extra=extra)

    if fmt not in ("length", "count", "clock", "deg"):
        raise ValueError(f"{name}: unknown format {fmt!r}")
    register(QuestionType(
        name=name, category="quantitative", kind="quantitative", n_objects=n_objects,
        requires_canonical=requires_canonical, needs_camera=needs_camera,
        question_templates=T.quant_questions(name), answer_templates=T.quant_answers(name),
        truth_fn=lambda ctx, objs: value(ctx, list(_ordered(ctx, objs, order))), clear_fn=clear, build_fn=build,
        description=description,
    ))


def _ordered(ctx: SceneContext, objs: Objs, order: Callable[[SceneContext, Objs], bool] | None) -> Objs:
    objs = list(objs)
    if order is not None and order(ctx, objs):
        objs[0], objs[1] = objs[1], objs[0]
    return objs


def _clock_bearing(ctx: SceneContext, objs: Objs) -> float:
    if len(objs) == 1:
        return ctx.m(objs[0]).bearing_deg
    d = ctx.plane_xy(objs[1]) - ctx.plane_xy(objs[0])
    return math.degrees(math.atan2(d[0], d[1]))


def _clock_clear(ctx: SceneContext, objs: Objs, scale: float) -> bool:
    if len(objs) == 1 and ctx.m(objs[0]).depth <= 0:
        return False  # behind the camera: not in the picture
    if len(objs) == 2 and ctx.horizontal_distance(objs[0], objs[1]) < 0.2:
        return False
    frac = clock_hour(_clock_bearing(ctx, objs)) % 1.0
    return abs(frac - 0.5) >= 0.1 * scale  # 3 degrees away from the half-hour rounding edge


def _ratio(attr: str) -> ValueFn:
    def value(ctx: SceneContext, objs: Objs) -> float:
        small = getattr(ctx.m(objs[0]), attr)
        return getattr(ctx.m(objs[1]), attr) / small if small > 1e-6 else math.inf

    return value


def _ratio_rounding_clear(attr: str) -> Callable[[SceneContext, Objs, float], bool]:
    def clear(ctx: SceneContext, objs: Objs, scale: float) -> bool:
        r = _ratio(attr)(ctx, objs)
        return r <= 30 and abs(r % 1.0 - 0.5) >= 0.1 * scale

    return clear


_quant("distance", 2, False, False, lambda c, o: float(np.linalg.norm(np.subtract(o[0].centroid, o[1].centroid))),
       "length", 0.05, "centroid-to-centroid Euclidean distance")
_quant("horizontal_distance", 2, True, False,
       lambda c, o: float(np.linalg.norm(np.subtract(o[0].centroid[:2], o[1].centroid[:2]))),
       "length", 0.05, "centroid distance in the floor plane")
_quant("vertical_distance", 2, True, False, lambda c, o: abs(c.m(o[0]).up - c.m(o[1]).up), "length", 0.05,
       "absolute difference of centroid heights")
_quant("gap", 2, True, False, lambda c, o: c.footprint_gap(o[0], o[1]), "length", 0.02,
       "free space between the two footprints (0 when they overlap: skipped)")
_quant("min_distance", 2, False, False, lambda c, o: c.min_distance(o[0], o[1]), "length", 0.02,
       "closest points of the two objects (prisms when canonical, AABBs otherwise)")
_quant("width", 1, False, False, lambda c, o: c.m(o[0]).width, "length", 0.01, "larger horizontal extent")
_quant("height", 1, True, False, lambda c, o: c.m(o[0]).height, "length", 0.01, "vertical extent")
_quant("depth", 1, False, False, lambda c, o: c.m(o[0]).length, "length", 0.01, "smaller horizontal extent")
_quant("height_above_floor", 1, True, False, lambda c, o: c.m(o[0]).bottom, "length", 0.05,
       "bottom above the floor; objects resting on the floor (< 5 cm) are skipped")
_quant("elevation_difference", 2, True, False, lambda c, o: c.m(o[0]).top - c.m(o[1]).top, "length", 0.05,
       "top(A) - top(B) with A the higher", order=lambda c, o: c.m(o[0]).top < c.m(o[1]).top)
_quant("height_difference", 2, True, False, lambda c, o: c.m(o[0]).height - c.m(o[1]).height, "length", 0.05,
       "height(A) - height(B) with A the taller", order=lambda c, o: c.m(o[0]).height < c.m(o[1]).height)
_quant("distance_to_camera", 1, False, True, lambda c, o: c.m(o[0]).cam_dist, "length", 0.1,
       "camera centre to centroid")
_quant("farther_by", 2, False, True, lambda c, o: c.m(o[0]).cam_dist - c.m(o[1]).cam_dist, "length", 0.1,
       "camera distance difference, A the farther", order=lambda c, o: c.m(o[0]).cam_dist < c.m(o[1]).cam_dist)
_quant("clock_direction", 1, False, True, lambda c, o: clock_hour(_clock_bearing(c, o)), "clock", 0.0,
       "clock hour seen from the camera (12 = straight ahead); skipped within 3 deg of a rounding edge",
       clear_extra=_clock_clear)
_quant("relative_clock", 2, False, True, lambda c, o: clock_hour(_clock_bearing(c, o)), "clock", 0.0,
       "clock hour of B seen from A facing the camera's heading", clear_extra=_clock_clear)
_quant("bearing", 1, False, True, lambda c, o: abs(c.m(o[0]).bearing_deg), "deg", 2.5,
       "|angle| between the optical axis and A (deg, direction in the text)",
       clear_extra=lambda c, o, s: c.m(o[0]).depth > 0)
_quant("count", 1, False, False, lambda c, o: float(sum(x.name == o[0].name for x in c.scene.objects)), "count",
       1.0, "objects sharing A's category name (ambiguous ones included: counting needs no reference)")
_quant("stack_count", 2, True, False, _ratio("height"), "count", 1.5,
       "height(B) / height(A), A the shorter; ratio in [1.5, 30], 0.1 away from x.5",
       order=lambda c, o: c.m(o[0]).height > c.m(o[1]).height, clear_extra=_ratio_rounding_clear("height"))
_quant("side_by_side_count", 2, False, False, _ratio("width"), "count", 1.5,
       "width(B) / width(A), A the narrower; ratio in [1.5, 30], 0.1 away from x.5",
       order=lambda c, o: c.m(o[0]).width > c.m(o[1]).width, clear_extra=_ratio_rounding_clear("width"))
