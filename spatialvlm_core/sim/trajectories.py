"""Robot trajectories with exact ground truth: a two-finger gripper approaches, grasps and moves a small object.

A scene is a table in a room with one target object (mug, bottle, bowl or a small box) and one or two other
small objects, seen from a fixed camera. The gripper is built from MuJoCo primitives as three mocap bodies
(``gripper`` = wrist + palm, ``gripper_finger_l`` / ``gripper_finger_r``), so its pose and opening change per
frame without recompiling the model; a grasped object is a mocap body too and follows the tip.

Kinds (all seeded, reproducible):
- ``success``: approach, descend, close on the object, lift it (``success=True``);
- ``fail``: either approach part way then drift away, or grasp beside the object and lift nothing;
- ``wander``: random waypoints around the table, never grasping;
- ``leave``: a successful grasp, then the object is carried out of the camera view (missing frames).

Ground truth per frame (documented distances, metres):
- ``true_distances``: centre-to-centre distance between the gripper's ``Object3D`` (tight box of all its geoms)
  and the target's ``Object3D`` -- the toolkit's "distance" semantics (``SubQuery`` kind ``distance``);
- ``tip_distances``: from the tip point (midway between the fingertips) to the target's oriented box surface
  (0 inside), the quantity a grasp controller cares about.
Both are defined for every frame, visible or not; ``visible`` says whether gripper and target both show with at
least ``min_visible_pixels`` mask pixels. ``scenes[i]`` follows ``render_scene``'s rule: objects below that
threshold are listed in ``dropped``, not in ``objects`` (so a tool reading the scene cannot see them either).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.atomic import atomic_dir
from spatialvlm_core.sim.catalog import COLORS, get_category, sample_dims
from spatialvlm_core.sim.layout import CameraSpec, Layout, PlacedObject, Room
from spatialvlm_core.sim.mjcf import build_mjcf, object_body_xml
from spatialvlm_core.sim.render import Renderer, get_renderer
from spatialvlm_core.types import (
    Box3D,
    CameraIntrinsics,
    CameraPose,
    DroppedObject,
    Frame,
    GroundTruth,
    NDArray,
    Object3D,
    OrientedBox3D,
    Scene3D,
)

TrajectoryKind = Literal["success", "fail", "wander", "leave"]
KINDS: tuple[str, ...] = ("success", "fail", "wander", "leave")
TARGETS: tuple[str, ...] = ("mug", "bottle", "bowl", "box")
DISTRACTORS: tuple[str, ...] = ("plate", "book", "vase", "laptop")
GRIPPER_ID = "gripper"
GRIPPER_RGB = (0.22, 0.23, 0.26)
FINGER_RGB = (0.62, 0.63, 0.66)

# Gripper geometry (metres), local frame at the tip point: +z up, fingers along local x.
FINGER_LEN = 0.07
FINGER_T = 0.012  # finger thickness along the closing axis
FINGER_W = 0.02
PALM_T = 0.02
WRIST_R = 0.018
WRIST_LEN = 0.05
FPS = 10.0  # nominal frame rate for the time axis


class GripperState(BaseModel):
    """Gripper pose of one frame: tip point (world), yaw about +z and finger opening (inner gap)."""

    model_config = ConfigDict(extra="forbid")

    tip: tuple[float, float, float]
    yaw: float
    opening: float = Field(ge=0)
    holding: bool = False


class Trajectory(BaseModel):
    """A rendered trajectory with exact per-frame answers (see the module docstring for the distances)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    trajectory_id: str
    seed: int
    kind: str
    success: bool
    task: str  # e.g. "pick up the mug"
    object_id: str
    object_name: str  # category of the target
    object_caption: str  # e.g. "the red mug"
    fps: float = FPS
    intrinsics: CameraIntrinsics
    pose: CameraPose  # world_from_camera (OpenCV), fixed over the trajectory
    frames: list[NDArray]  # uint8[H, W, 3] per frame
    depth: list[NDArray]  # float32[H, W] metres per frame
    instances: list[NDArray]  # int32[H, W] per frame, values = Object3D.mask_id (0 background)
    true_distances: list[float]  # gripper centre to object centre, metres
    tip_distances: list[float]  # gripper tip to object box surface, metres
    visible: list[bool]  # gripper and target both visible
    gripper: list[GripperState]
    scenes: list[Scene3D]  # exact scene per frame, incl. the gripper as Object3D "gripper"
    layout: Layout  # static layout (target at its start pose)
    provenance: dict[str, object] = Field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> tuple[int, int]:
        return self.intrinsics.width, self.intrinsics.height

    def frame(self, i: int) -> Frame:
        """Frame ``i`` with rgb, sensor depth, intrinsics and its ground truth."""
        return Frame(image_id=f"{self.trajectory_id}_f{i:03d}", rgb=self.frames[i], depth=self.depth[i],
                     intrinsics=self.intrinsics, source=f"sim:{self.trajectory_id}/{i}",
                     ground_truth=GroundTruth(instances=self.instances[i], scene=self.scenes[i]))

    def as_frames(self) -> list[Frame]:
        return [self.frame(i) for i in range(len(self))]


# --------------------------------------------------------------------------- gripper geometry
def _gripper_local_boxes(opening: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, half extents) of every gripper geom in the tip frame (yaw 0)."""
    half_gap = opening / 2
    palm_half_x = half_gap + FINGER_T
    palm_z = FINGER_LEN + PALM_T / 2
    return [
        (np.array([0.0, 0.0, palm_z]), np.array([palm_half_x, FINGER_W / 2 + 0.004, PALM_T / 2])),
        (np.array([0.0, 0.0, FINGER_LEN + PALM_T + WRIST_LEN / 2]), np.array([WRIST_R, WRIST_R, WRIST_LEN / 2])),
        (np.array([-(half_gap + FINGER_T / 2), 0.0, FINGER_LEN / 2]), np.array([FINGER_T / 2, FINGER_W / 2, FINGER_LEN / 2])),
        (np.array([half_gap + FINGER_T / 2, 0.0, FINGER_LEN / 2]), np.array([FINGER_T / 2, FINGER_W / 2, FINGER_LEN / 2])),
    ]  # fmt: skip


def gripper_object(state: GripperState, max_opening: float, mask_id: int | None = None) -> Object3D:
    """The gripper as an ``Object3D`` (tight oriented box of all its geoms; the palm is sized for ``max_opening``)."""
    boxes = _gripper_local_boxes(state.opening)
    palm_c, palm_h = _gripper_local_boxes(max_opening)[0]
    boxes[0] = (palm_c, palm_h)
    lo = np.min([c - h for c, h in boxes], axis=0)
    hi = np.max([c + h for c, h in boxes], axis=0)
    c, s = math.cos(state.yaw), math.sin(state.yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    centre = np.asarray(state.tip) + rot @ ((lo + hi) / 2)
    size = hi - lo
    obb = OrientedBox3D(center=tuple(float(v) for v in centre), size=tuple(float(v) for v in size), yaw=state.yaw)
    xy = obb.corners_xy()
    z0, z1 = centre[2] - size[2] / 2, centre[2] + size[2] / 2
    return Object3D(id=GRIPPER_ID, name="gripper", caption="the gripper", aabb=Box3D.from_min_max([*xy.min(0), z0], [*xy.max(0), z1]),
                    obb=obb, centroid=obb.center, footprint=[(float(x), float(y)) for x, y in xy],
                    height_above_floor=float(z0), attributes={"color": "gray"}, mask_id=mask_id)  # fmt: skip


def _gripper_xml(max_opening: float) -> str:
    """Three mocap bodies; the palm is sized for the widest opening, the fingers slide along local x."""
    (pc, ph), (wc, wh), (fc, fh), _ = _gripper_local_boxes(max_opening)
    g, f = " ".join(f"{v:.4g}" for v in (*GRIPPER_RGB, 1)), " ".join(f"{v:.4g}" for v in (*FINGER_RGB, 1))

    def v(a: np.ndarray) -> str:
        return " ".join(f"{x:.6g}" for x in a)

    finger = f'<geom type="box" pos="0 0 {fc[2]:.6g}" size="{v(fh)}" rgba="{f}"/>'
    return (
        f'<body name="{GRIPPER_ID}" mocap="true" pos="0 0 1">'
        f'<geom name="{GRIPPER_ID}/palm" type="box" pos="{v(pc)}" size="{v(ph)}" rgba="{g}"/>'
        f'<geom name="{GRIPPER_ID}/wrist" type="cylinder" pos="{v(wc)}" size="{wh[0]:.6g} {wh[2]:.6g}" rgba="{g}"/>'
        '</body>'
        f'<body name="{GRIPPER_ID}_finger_l" mocap="true" pos="0 0 1">{finger}</body>'
        f'<body name="{GRIPPER_ID}_finger_r" mocap="true" pos="0 0 1">{finger}</body>'
    )


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


# --------------------------------------------------------------------------- scene sampling
def _object3d(o: PlacedObject, mask_id: int, caption: str) -> Object3D:
    obb = o.obb()
    z0 = obb.center[2] - obb.size[2] / 2
    return Object3D(id=o.id, name=o.category, caption=caption, aabb=o.aabb(), obb=obb, centroid=obb.center,
                    footprint=[(float(x), float(y)) for x, y in obb.corners_xy()], height_above_floor=float(z0),
                    attributes={"color": o.color, "size": o.size}, mask_id=mask_id)  # fmt: skip


def _small(rng: np.random.Generator, oid: str, category: str, pos_xy: np.ndarray, top: float) -> PlacedObject:
    spec = get_category(category)
    size = "small" if "small" in spec.sizes else sorted(spec.sizes)[0]
    if category == "box":  # a small box that fits the gripper (the catalogue's boxes are floor boxes)
        dims = (round(float(rng.uniform(0.07, 0.1)), 3), round(float(rng.uniform(0.07, 0.1)), 3),
                round(float(rng.uniform(0.07, 0.12)), 3))  # fmt: skip
    else:
        dims = sample_dims(spec, size, rng)
    color = str(rng.choice([c for c in spec.colors if c in COLORS and c not in ("brown", "white")] or list(spec.colors)))
    return PlacedObject(id=oid, category=category, size=size, color=color, dims=dims,
                        pos=(float(pos_xy[0]), float(pos_xy[1]), float(top)), yaw=float(rng.uniform(-math.pi, math.pi)))


def _sample_layout(rng: np.random.Generator, seed: int, target_category: str | None) -> tuple[Layout, PlacedObject]:
    room = Room(kind="kitchen", width=float(rng.uniform(3.5, 5.0)), depth=float(rng.uniform(3.5, 5.0)))
    table_cat = str(rng.choice(["dining table", "coffee table", "side table"]))
    tspec = get_category(table_cat)
    tsize = str(rng.choice(sorted(tspec.sizes)))
    tdims = sample_dims(tspec, tsize, rng)
    tdims = (max(tdims[0], 0.6), max(tdims[1], 0.5), tdims[2])  # room for the target and one distractor
    tpos = np.array([float(rng.uniform(-0.3, 0.3)), room.depth / 2 + float(rng.uniform(-0.3, 0.3))])
    table = PlacedObject(id="obj_01", category=table_cat, size=tsize, color=str(rng.choice(["brown", "white", "gray", "beige"])),
                         dims=tdims, pos=(float(tpos[0]), float(tpos[1]), 0.0), yaw=0.0)  # fmt: skip
    top = table.z_range()[1]
    cat = target_category or str(rng.choice(TARGETS))
    if cat not in TARGETS:
        raise ValueError(f"target category must be one of {TARGETS}, got {cat!r}")
    target = _small(rng, "obj_02", cat, tpos + rng.uniform([-0.08, -0.06], [0.08, 0.06]), top)
    objects = [table, target]
    others = [c for c in DISTRACTORS if c != cat]
    n_extra = int(rng.integers(1, 3))
    for k, dcat in enumerate(rng.choice(others, size=n_extra, replace=False)):
        # Distractors sit left/right of the target, far enough not to touch the grasp.
        side = 1.0 if k == 0 else -1.0
        side *= 1.0 if rng.random() < 0.5 else -1.0
        xy = np.array([target.pos[0] + side * float(rng.uniform(0.2, 0.26)), target.pos[1] + float(rng.uniform(-0.08, 0.08))])
        xy = np.clip(xy, tpos - np.array(tdims[:2]) / 2 + 0.08, tpos + np.array(tdims[:2]) / 2 - 0.08)
        objects.append(_small(rng, f"obj_{k + 3:02d}", str(dcat), xy, top))
    # Camera looks at the target from the front-ish side, 0.8-1.1 m away, pitched down.
    heading = math.pi / 2 + float(rng.uniform(-0.5, 0.5))
    pitch = float(rng.uniform(32.0, 48.0))
    dist = float(rng.uniform(0.85, 1.1))
    tz = target.obb().center[2]
    fwd = np.array([math.cos(heading) * math.cos(math.radians(pitch)), math.sin(heading) * math.cos(math.radians(pitch)),
                    -math.sin(math.radians(pitch))])  # fmt: skip
    look = np.array([target.pos[0], target.pos[1], tz + 0.08])
    cam_pos = look - dist * fwd
    camera = CameraSpec(position=tuple(float(v) for v in cam_pos), heading=heading, pitch_deg=pitch,
                        hfov_deg=float(rng.uniform(58.0, 66.0)))
    return Layout(room=room, objects=objects, camera=camera, seed=seed), target


# --------------------------------------------------------------------------- motion
class _Key(BaseModel):
    tip: tuple[float, float, float]
    opening: float
    holding: bool = False
    duration: float = 1.0  # seconds to reach this key from the previous one


def _ease(u: float) -> float:
    """Minimum-jerk time scaling: zero velocity and acceleration at both ends of a segment."""
    return u * u * u * (10 - 15 * u + 6 * u * u)


def _sample_keys(keys: list[_Key], n: int) -> list[tuple[np.ndarray, float, bool]]:
    times = np.cumsum([0.0] + [k.duration for k in keys[1:]])
    out = []
    for t in np.linspace(0.0, times[-1], n):
        j = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(keys) - 2))
        u = _ease(float(np.clip((t - times[j]) / max(times[j + 1] - times[j], 1e-9), 0.0, 1.0)))
        a, b = keys[j], keys[j + 1]
        tip = (1 - u) * np.asarray(a.tip) + u * np.asarray(b.tip)
        opening = (1 - u) * a.opening + u * b.opening
        holding = a.holding and b.holding
        out.append((tip, float(opening), holding))
    return out


def _move(a: np.ndarray, b: np.ndarray, speed: float = 0.25) -> float:
    return max(0.4, float(np.linalg.norm(b - a)) / speed)


def _project(p: np.ndarray, pose: CameraPose, k: CameraIntrinsics) -> tuple[float, float, float]:
    cam = np.linalg.inv(pose.matrix()) @ np.append(p, 1.0)
    z = float(cam[2])
    if z <= 1e-6:
        return -1.0, -1.0, z
    return k.fx * cam[0] / z + k.cx, k.fy * cam[1] / z + k.cy, z


def _in_view(p: np.ndarray, pose: CameraPose, k: CameraIntrinsics, margin: float = 0.12) -> bool:
    u, v, z = _project(p, pose, k)
    return z > 0.2 and margin * k.width < u < (1 - margin) * k.width and margin * k.height < v < (1 - margin) * k.height


def _up(dz: float) -> np.ndarray:
    return np.array([0.0, 0.0, dz])


def _random_point(rng: np.random.Generator, centre: np.ndarray, rmin: float, rmax: float, zmin: float,
                  pose: CameraPose, k: CameraIntrinsics) -> np.ndarray:
    """A point at rmin..rmax from ``centre``, above ``zmin``, inside the view (falls back to the last draw)."""
    p = centre + np.array([0.0, 0.0, rmin])
    for _ in range(200):
        d = rng.normal(size=3)
        d[2] = abs(d[2]) + 0.3
        d /= np.linalg.norm(d)
        p = centre + d * float(rng.uniform(rmin, rmax))
        if p[2] >= zmin and _in_view(p, pose, k) and _in_view(p + _up(0.12), pose, k):
            return p
    return p


def _plan(kind: str, rng: np.random.Generator, target: PlacedObject, table_top: float, pose: CameraPose,
          k: CameraIntrinsics) -> tuple[list[_Key], bool, float]:
    """Key poses of the gripper tip for a trajectory kind; returns (keys, success, max opening)."""
    lo, hi = target.local_bounds()
    width = float(min(hi[0] - lo[0], hi[1] - lo[1]))
    obb = target.obb()
    centre = np.asarray(obb.center)
    top = obb.center[2] + obb.size[2] / 2
    open_w = width + 0.05
    grasp_z = max(table_top + 0.012, top - FINGER_LEN + 0.01)
    grasp = np.array([centre[0], centre[1], grasp_z])
    pre = grasp + _up(FINGER_LEN + 0.05)
    start = _random_point(rng, centre, 0.3, 0.45, table_top + 0.12, pose, k)
    keys = [_Key(tip=tuple(start), opening=open_w)]

    def add(p: np.ndarray, opening: float = open_w, holding: bool = False, dur: float | None = None) -> None:
        prev = np.asarray(keys[-1].tip)
        keys.append(_Key(tip=tuple(float(v) for v in p), opening=opening, holding=holding,
                         duration=dur if dur is not None else _move(prev, p)))

    lift = grasp + _up(float(rng.uniform(0.15, 0.22)))
    if kind in ("success", "leave"):
        add(pre)
        add(grasp, dur=0.8)
        add(grasp, opening=width, holding=True, dur=0.5)
        add(lift, opening=width, holding=True)
        if kind == "leave":
            # Carry the object sideways until it is well outside the image.
            side = pose.right * (1.0 if rng.random() < 0.5 else -1.0)
            away = lift.copy()
            for _ in range(40):
                away = away + side * 0.1
                if not _in_view(away, pose, k, margin=-0.35):
                    break
            add(away, opening=width, holding=True)
        return keys, True, open_w
    if kind == "fail":
        if rng.random() < 0.5:  # approach part way, then drift away
            part = start + float(rng.uniform(0.55, 0.8)) * (pre - start)
            add(part)
            add(_random_point(rng, centre, 0.4, 0.55, table_top + 0.12, pose, k))
        else:  # grasp miss: close beside the object, lift nothing
            off = rng.normal(size=2)
            off = off / np.linalg.norm(off) * (width / 2 + float(rng.uniform(0.06, 0.1)))
            miss = grasp + np.array([off[0], off[1], 0.0])
            add(miss + _up(FINGER_LEN + 0.05))
            add(miss, dur=0.8)
            add(miss, opening=0.01, dur=0.5)
            add(miss + _up(float(rng.uniform(0.15, 0.22))), opening=0.01)
        return keys, False, open_w
    if kind == "wander":
        for _ in range(int(rng.integers(3, 5))):
            add(_random_point(rng, centre, 0.15, 0.45, table_top + 0.1, pose, k))
        return keys, False, open_w
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


# --------------------------------------------------------------------------- rendering
def _instance_lut(model: object, layout: Layout, gripper_value: int) -> np.ndarray:
    import mujoco  # here, not at the top: sim.render must set MUJOCO_GL first (isort would put it above)

    assert isinstance(model, mujoco.MjModel)
    mask_of = {o.id: i + 1 for i, o in enumerate(layout.objects)}
    body_val = np.zeros(model.nbody, dtype=np.int32)
    for b in range(model.nbody):
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) or ""
        body_val[b] = gripper_value if name.startswith(GRIPPER_ID) else mask_of.get(name, 0)
    lut = np.zeros(model.ngeom + 1, dtype=np.int32)
    lut[1:] = body_val[model.geom_bodyid]
    return lut


def generate_trajectory(
    seed: int,
    kind: str = "success",
    n_frames: int = 20,
    size: tuple[int, int] = (160, 120),
    *,
    target: str | None = None,
    min_visible_pixels: int = 20,
    renderer: Renderer | None = None,
) -> Trajectory:
    """Sample a table scene and a gripper motion of ``kind`` from ``seed``, render ``n_frames`` frames.

    Same arguments -> identical output. ``target`` picks the category (one of ``TARGETS``), else sampled.
    """
    import mujoco  # after sim.render set MUJOCO_GL (see _instance_lut)

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if n_frames < 2:
        raise ValueError(f"n_frames must be >= 2, got {n_frames}")
    w, h = int(size[0]), int(size[1])
    if w < 16 or h < 16:
        raise ValueError(f"size must be at least 16x16, got {size}")
    rng = np.random.default_rng([int(seed), KINDS.index(kind), 7])
    layout, tobj = _sample_layout(rng, int(seed), target)
    pose, intr = layout.camera.pose(), layout.camera.intrinsics(w, h)
    table_top = layout.objects[0].z_range()[1]
    keys, success, max_open = _plan(kind, rng, tobj, table_top, pose, intr)
    samples = _sample_keys(keys, n_frames)

    static = layout.model_copy(update={"objects": [o for o in layout.objects if o.id != tobj.id]})
    target_xml = object_body_xml(tobj).replace(f'<body name="{tobj.id}"', f'<body name="{tobj.id}" mocap="true"', 1)
    model = mujoco.MjModel.from_xml_string(build_mjcf(static, target_xml + _gripper_xml(max_open), width=w, height=h))
    data = mujoco.MjData(model)
    mid = {n: int(model.body_mocapid[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, n)])
           for n in (tobj.id, GRIPPER_ID, f"{GRIPPER_ID}_finger_l", f"{GRIPPER_ID}_finger_r")}  # fmt: skip
    gripper_value = len(layout.objects) + 1
    lut = _instance_lut(model, layout, gripper_value)
    renderer = renderer or get_renderer(w, h)
    yaw = float(rng.uniform(-math.pi / 2, math.pi / 2))
    caption = f"the {tobj.color} {tobj.category}"
    statics = [_object3d(o, i + 1, f"the {o.color} {o.category}") for i, o in enumerate(layout.objects) if o.id != tobj.id]
    traj_id = f"traj_{kind}_{seed}"

    frames: list[np.ndarray] = []
    depths: list[np.ndarray] = []
    insts: list[np.ndarray] = []
    true_d: list[float] = []
    tip_d: list[float] = []
    vis: list[bool] = []
    grip: list[GripperState] = []
    scenes: list[Scene3D] = []
    obj_pos = np.asarray(tobj.pos, dtype=float)
    grasp_offset: np.ndarray | None = None
    rot = np.array([[math.cos(yaw), -math.sin(yaw), 0.0], [math.sin(yaw), math.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
    for i, (tip, opening, holding) in enumerate(samples):
        if holding:
            if grasp_offset is None:
                grasp_offset = obj_pos - tip
            obj_pos = tip + grasp_offset
        moved = tobj.model_copy(update={"pos": tuple(float(v) for v in obj_pos)})
        state = GripperState(tip=tuple(float(v) for v in tip), yaw=yaw, opening=opening, holding=holding)
        data.mocap_pos[mid[tobj.id]] = obj_pos
        data.mocap_quat[mid[tobj.id]] = _yaw_quat(tobj.yaw)
        q = _yaw_quat(yaw)
        data.mocap_pos[mid[GRIPPER_ID]] = tip
        data.mocap_quat[mid[GRIPPER_ID]] = q
        for name, sgn in ((f"{GRIPPER_ID}_finger_l", -1.0), (f"{GRIPPER_ID}_finger_r", 1.0)):
            data.mocap_pos[mid[name]] = tip + rot @ np.array([sgn * (opening / 2 + FINGER_T / 2), 0.0, 0.0])
            data.mocap_quat[mid[name]] = q
        mujoco.mj_kinematics(model, data)
        out = renderer.render(model, data, pose, intr, segmentation=True)
        assert out.geom_ids is not None
        inst = lut[out.geom_ids + 1]
        counts = np.bincount(inst.ravel(), minlength=gripper_value + 1)
        gobj = gripper_object(state, max_open, mask_id=gripper_value)
        tobj3d = _object3d(moved, layout.objects.index(tobj) + 1, caption)
        candidates = [*statics, tobj3d, gobj]
        objects: list[Object3D] = []
        dropped: list[DroppedObject] = []
        for o in candidates:
            assert o.mask_id is not None
            n = int(counts[o.mask_id])
            if n < min_visible_pixels:
                dropped.append(DroppedObject(id=o.id, reason=f"not visible in the image ({n} pixels)"))
                inst[inst == o.mask_id] = 0
                continue
            ys, xs = np.nonzero(inst == o.mask_id)
            objects.append(o.model_copy(update={"box_2d": (float(xs.min()), float(ys.min()), float(xs.max() + 1),
                                                           float(ys.max() + 1))}))  # fmt: skip
        seen = {o.id for o in objects}
        scenes.append(Scene3D(scene_id=f"{traj_id}_f{i:03d}", objects=objects, canonical=True, camera=pose,
                              intrinsics=intr, image_source=f"sim:{traj_id}/{i}", dropped=dropped,
                              provenance={"generator": "spatialvlm_core.sim.trajectories", "seed": int(seed),
                                          "kind": kind, "frame": i}))  # fmt: skip
        frames.append(out.rgb)
        depths.append(out.depth)
        insts.append(inst.astype(np.int32))
        true_d.append(float(np.linalg.norm(np.asarray(gobj.centroid) - np.asarray(tobj3d.centroid))))
        tip_d.append(_point_obb_distance(tip, tobj3d.obb))
        vis.append({GRIPPER_ID, tobj.id} <= seen)
        grip.append(state)
    verb = "pick up"
    return Trajectory(
        trajectory_id=traj_id, seed=int(seed), kind=kind, success=success, task=f"{verb} the {tobj.category}",
        object_id=tobj.id, object_name=tobj.category, object_caption=caption, intrinsics=intr, pose=pose,
        frames=frames, depth=depths, instances=insts, true_distances=true_d, tip_distances=tip_d, visible=vis,
        gripper=grip, scenes=scenes, layout=layout,
        provenance={"generator": "spatialvlm_core.sim.trajectories", "mujoco": mujoco.__version__, "seed": int(seed),
                    "kind": kind, "n_frames": n_frames, "size": [w, h], "distance": "gripper centre to object centre"},
    )  # fmt: skip


def _point_obb_distance(p: np.ndarray, box: OrientedBox3D) -> float:
    c, s = math.cos(box.yaw), math.sin(box.yaw)
    d = np.asarray(p, dtype=float) - np.asarray(box.center)
    local = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]])
    outside = np.maximum(np.abs(local) - np.asarray(box.size) / 2, 0.0)
    return float(np.linalg.norm(outside))


# --------------------------------------------------------------------------- save / load
_META = "trajectory.json"


def save_trajectory(traj: Trajectory, out_dir: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write ``frames/NNN.png``, ``depth.npz``, ``instances.npz`` and ``trajectory.json`` atomically."""
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (overwrite=False)")
    with atomic_dir(out, "trajectory folder") as tmp:
        (tmp / "frames").mkdir()
        for i, rgb in enumerate(traj.frames):
            Image.fromarray(rgb).save(tmp / "frames" / f"{i:03d}.png")
        np.savez_compressed(tmp / "depth.npz", depth=np.stack(traj.depth).astype(np.float32))
        np.savez_compressed(tmp / "instances.npz", instances=np.stack(traj.instances).astype(np.int32))
        meta = traj.model_dump(mode="json", exclude={"frames", "depth", "instances"})
        (tmp / _META).write_text(json.dumps(meta, indent=1))
    return out


def load_trajectory_meta(path: str | os.PathLike[str]) -> dict[str, object]:
    """The JSON of a trajectory folder (or of a ``trajectory.json`` file) without the images."""
    p = Path(path)
    meta = p / _META if p.is_dir() else p
    if not meta.is_file():
        raise FileNotFoundError(f"trajectory file not found: {meta}")
    try:
        data = json.loads(meta.read_text())
    except ValueError as e:
        raise ValueError(f"{meta}: not valid JSON ({e})") from e
    if not isinstance(data, dict) or "true_distances" not in data:
        raise ValueError(f"{meta}: not a trajectory file (no 'true_distances')")
    return data


def load_trajectory(folder: str | os.PathLike[str]) -> Trajectory:
    """Read a folder written by ``save_trajectory``; missing files -> FileNotFoundError, bad ones -> ValueError."""
    d = Path(folder)
    if not d.is_dir():
        raise FileNotFoundError(f"trajectory folder not found: {d}")
    meta = load_trajectory_meta(d)
    n = len(meta["true_distances"])  # type: ignore[arg-type]
    frames = []
    for i in range(n):
        p = d / "frames" / f"{i:03d}.png"
        if not p.is_file():
            raise FileNotFoundError(f"trajectory folder {d} is missing frames/{i:03d}.png")
        with Image.open(p) as im:
            frames.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
    arrays = {}
    for name in ("depth", "instances"):
        p = d / f"{name}.npz"
        if not p.is_file():
            raise FileNotFoundError(f"trajectory folder {d} is missing {name}.npz")
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays[name] = z[name]
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"{p}: not a readable {name} archive ({e})") from e
        if len(arrays[name]) != n:
            raise ValueError(f"{p}: has {len(arrays[name])} frames, trajectory.json has {n}")
    try:
        return Trajectory.model_validate({**meta, "frames": frames, "depth": list(arrays["depth"]),
                                          "instances": list(arrays["instances"].astype(np.int32))})
    except ValueError as e:
        raise ValueError(f"{d / _META}: invalid trajectory ({e})") from e
