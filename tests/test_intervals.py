"""Quantities carry intervals: interval arithmetic, three-valued comparisons, gap intervals from the evidence on
``Object3D``, and an agent that says "can't tell" unless the interval settles the question."""

from __future__ import annotations

import math

import pytest

from spatial_agent import intervals
from spatial_agent.agent import SpatialAgent
from spatial_agent.arith import Quantity, compare, evaluate, kleene_and, kleene_or, length
from spatial_agent.graph import AgentState, render_template
from spatial_agent.testing import box_object
from spatial_agent.tools import GeometricTool
from spatialvlm_core import geometry
from spatialvlm_core.types import INTERVAL_LEVEL, Answer, Box3D, Object3D, OrientedBox3D, Scene3D


# --------------------------------------------------------------------------- arithmetic
def test_interval_arithmetic_propagates_bounds() -> None:
    env = {"g": length(0.5, (0.2, 0.9)), "w": length(0.3, (0.25, 0.35)), "a": length(2.0)}
    q = evaluate("g - w", env)
    assert isinstance(q, Quantity) and (q.low, q.high) == pytest.approx((0.2 - 0.35, 0.9 - 0.25))
    q = evaluate("g + 10 cm", env)
    assert (q.value, q.low, q.high) == pytest.approx((0.6, 0.3, 1.0))
    q = evaluate("g * w", env)
    assert q.dim == 2 and (q.low, q.high) == pytest.approx((0.05, 0.315))
    q = evaluate("a / g", env)
    assert (q.low, q.high) == pytest.approx((2.0 / 0.9, 10.0))
    q = evaluate("-g", env)
    assert (q.low, q.high) == pytest.approx((-0.9, -0.2))
    q = evaluate("abs(g - 0.5 m)", env)  # straddles zero: the smallest magnitude is 0
    assert (q.low, q.high) == pytest.approx((0.0, 0.4))
    q = evaluate("min(g, w)", env)
    assert (q.value, q.low, q.high) == pytest.approx((0.3, 0.2, 0.35))
    q = evaluate("max(g, w)", env)
    assert (q.value, q.low, q.high) == pytest.approx((0.5, 0.25, 0.9))
    q = evaluate("g / (g - 0.3 m)", env)  # the divisor may be zero: unbounded, but still a number
    assert math.isinf(q.low) and math.isinf(q.high)
    # Literals and exact quantities stay exact (and equal to the plain constructor's).
    assert evaluate("a - 50 cm", env) == Quantity(1.5, 1) and Quantity(1.5, 1).exact


def test_three_valued_comparisons_and_kleene_logic() -> None:
    g = length(0.5, (0.2, 0.9))
    assert compare(">=", g, length(0.1)) is True
    assert compare(">=", g, length(0.95)) is False
    assert compare(">=", g, length(0.41)) is None
    assert compare(">=", g, length(0.2)) is True and compare(">", g, length(0.2)) is None
    assert compare("==", g, length(2.0)) is False and compare("==", g, length(0.5)) is None
    env = {"g": g}
    assert evaluate("g >= 0.41 m", env) is None
    assert evaluate("not (g >= 0.41 m)", env) is None
    assert evaluate("g >= 0.41 m and g > 5 m", env) is False  # False wins an and
    assert evaluate("g >= 0.41 m or g > 0.1 m", env) is True  # True wins an or
    assert evaluate("0.1 m < g < 0.6 m", env) is None and evaluate("0.1 m < g < 1 m", env) is True
    assert kleene_and([True, None]) is None and kleene_or([False, None]) is None


# --------------------------------------------------------------------------- evidence
def _with_evidence(o: Object3D, visible: tuple[tuple[float, float], tuple[float, float]],
                   size_hi: tuple[float, float, float], sigma: float = 0.02) -> Object3D:
    """``o`` as a reconstruction states it: its box is the completed object, ``visible`` what the camera saw."""
    (x0, y0), (x1, y1) = visible
    z0, z1 = geometry.z_range(o)
    vis = box_object(o.id, o.name, (x0, y0), (x1, y1), (z0, z1))
    return o.model_copy(update={"visible_obb": vis.obb, "visible_aabb": vis.aabb, "size_lo": vis.obb.size,
                                "size_hi": size_hi, "center_sigma": (sigma, sigma, sigma), "footprint": []})


def test_gap_interval_upper_from_visible_lower_from_grown_footprints() -> None:
    true_gap = 0.6
    bed = box_object("bed", "bed", (0.0, 0.0), (2.0, 1.0), (0.0, 0.6))
    stand = box_object("stand", "nightstand", (2.0 + true_gap, 0.0), (2.5 + true_gap, 0.5), (0.0, 0.6))
    # Seen: only the bed's left half; completed to 1.6 m long, up to 2.2 m at the stated level.
    recon_bed = _with_evidence(
        box_object("bed", "bed", (0.0, 0.0), (1.6, 1.0), (0.0, 0.6)), ((0.0, 0.0), (1.0, 1.0)), (2.2, 1.1, 0.7))
    recon_stand = _with_evidence(stand, ((2.0 + true_gap, 0.0), (2.5 + true_gap, 0.5)), (0.55, 0.55, 0.65))
    value, lo, hi = intervals.gap_interval(recon_bed, recon_stand)
    assert value == pytest.approx(1.0)  # the completed (too short) bed
    visible = geometry.polygon_distance(intervals.visible_footprint(recon_bed), intervals.visible_footprint(recon_stand))
    assert visible == pytest.approx(1.6)
    assert hi == pytest.approx(visible + intervals.Z * math.hypot(0.02, 0.02))
    assert lo < true_gap < hi  # the bed grown to size_hi reaches past the truth's edge
    assert lo == pytest.approx(geometry.polygon_distance(intervals.grown_footprint(recon_bed),
                                                         intervals.grown_footprint(recon_stand)))
    # Exact objects (no evidence): a zero-width interval at the exact gap.
    assert intervals.gap_interval(bed, stand) == pytest.approx((true_gap, true_gap, true_gap))


def test_sizes_and_distances_carry_their_evidence() -> None:
    o = box_object("t", "table", (0.0, 0.0), (1.5, 0.8), (0.0, 0.75))
    r = _with_evidence(o, ((0.0, 0.0), (1.5, 0.8)), (1.7, 0.9, 0.8), sigma=0.05)
    v, lo, hi = intervals.width_interval(r)
    assert v == pytest.approx(1.5) and lo <= 1.5 and hi == pytest.approx(1.7)
    v, lo, hi = intervals.height_interval(r)
    assert lo <= 0.75 <= hi == pytest.approx(0.8)
    far = box_object("f", "lamp", (3.0, 0.0), (3.3, 0.3), (0.0, 1.5))
    v, lo, hi = intervals.center_distance_interval(r, far)
    assert lo < v < hi and hi - v == pytest.approx(intervals.Z * 0.05, rel=0.05)
    assert intervals.width_interval(o) == pytest.approx((1.5, 1.5, 1.5))


# --------------------------------------------------------------------------- agent
def _bedroom(visible_bed: tuple[tuple[float, float], tuple[float, float]], completed_bed_x1: float,
             bed_size_hi: tuple[float, float, float]) -> Scene3D:
    """Bed and night stand; the true gap is 0.21 m (stand at x = 2.21). The bed is stated by its evidence."""
    bed = box_object("bed", "bed", (0.2, 0.0), (completed_bed_x1, 2.0), (0.0, 0.6))
    bed = _with_evidence(bed, visible_bed, bed_size_hi)
    stand = box_object("stand", "nightstand", (2.21, 0.0), (2.66, 0.45), (0.0, 0.55), "the night stand")
    stand = _with_evidence(stand, ((2.21, 0.0), (2.66, 0.45)), (0.5, 0.5, 0.6))
    return Scene3D(scene_id="bedroom", objects=[bed, stand], canonical=True)


def test_fixed_scene_of_the_unsafe_case_gets_no_yes() -> None:
    # The camera saw only the bed's near end; completion did not extend it: the point estimate is 1.58 m.
    scene = _bedroom(((0.2, 0.0), (0.63, 2.0)), 0.63, (2.3, 2.1, 0.7))
    agent = SpatialAgent(tool=GeometricTool(scene=scene))
    r = agent.ask(None, "Can a 0.41 m wide robot fit between the bed and the night stand?")
    g = r.sub_answers["g"]
    assert g.meters == pytest.approx(1.58) and g.level == INTERVAL_LEVEL
    assert g.interval is not None and g.interval[0] <= 0.21 <= g.interval[1]
    assert r.decision is None and r.undecided and r.error is None
    assert r.interval == g.interval and r.level == INTERVAL_LEVEL
    assert r.answer.startswith("Can't tell: the free-space gap between the bed and the night stand is between ")
    assert "(80 % interval)" in r.answer and "0.41 m" in r.answer


def test_yes_only_when_the_interval_clears() -> None:
    # Whole bed seen and tightly sized: the gap is known to a few cm.
    scene = _bedroom(((0.2, 0.0), (2.0, 2.0)), 2.0, (1.85, 2.05, 0.65))
    agent = SpatialAgent(tool=GeometricTool(scene=scene))
    g = agent.ask(None, "What is the free-space gap between the bed and the night stand?")
    assert g.interval is not None and g.interval[0] < 0.21 < g.interval[1]
    assert g.answer.startswith("The free-space gap between the bed and the night stand is about 0.21 m (")
    lo, hi = g.interval
    yes = agent.ask(None, f"Can a {max(0.01, lo - 0.03):.2f} m wide robot fit between the bed and the night stand?")
    assert yes.decision is True and yes.answer.startswith("Yes: ") and not yes.undecided
    no = agent.ask(None, f"Can a {hi + 0.05:.2f} m wide robot fit between the bed and the night stand?")
    assert no.decision is False and no.answer.startswith("No: ")
    mid = agent.ask(None, f"Can a {(lo + hi) / 2:.2f} m wide robot fit between the bed and the night stand?")
    assert mid.decision is None and mid.undecided and mid.answer.startswith("Can't tell: ")


def test_exact_scenes_answer_as_before() -> None:
    bed = box_object("bed", "bed", (0.0, 0.0), (2.0, 1.0), (0.0, 0.6))
    stand = box_object("stand", "nightstand", (2.5, 0.0), (2.9, 0.4), (0.0, 0.5), "the night stand")
    agent = SpatialAgent(tool=GeometricTool(scene=Scene3D(scene_id="s", objects=[bed, stand], canonical=True)))
    r = agent.ask(None, "Can a 0.41 m wide robot fit between the bed and the night stand?")
    assert r.decision is True and "is 0.50 m," in r.answer and r.sub_answers["g"].interval == (0.5, 0.5)


def test_value_template_states_the_interval() -> None:
    state = AgentState(question="q", value=1.2, unit="m", interval=(0.9, 1.5))
    assert render_template("{value}", state) == "about 1.20 m (0.90-1.50 m)"
    state = AgentState(question="q", undecided=True,
                       sub_answers={"g": Answer(text="", value=0.5, unit="m", meters=0.5, interval=(0.2, 0.9),
                                                level=0.8)})
    assert render_template("{decision}: {g}", state) == "Can't tell: between 0.20 and 0.90 m (80 % interval)"


def test_gravity_frame_view_of_a_camera_frame_object() -> None:
    # Camera frame: x right, y down, z forward; a 0.9 m wide, 2.0 m tall, 0.05 m thick door.
    box = Box3D(center=(0.0, -1.0, 4.0), size=(0.9, 2.0, 0.05))
    door = Object3D(id="d", name="door", caption="the door", aabb=box,
                    obb=OrientedBox3D(center=box.center, size=box.size), centroid=box.center)
    g = intervals.to_gravity_frame(door)
    assert intervals.width_interval(g)[0] == pytest.approx(0.9)
    assert intervals.height_interval(g)[0] == pytest.approx(2.0)
