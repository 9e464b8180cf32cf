"""Random, collision-free layouts in view of a random camera (everything drawn from one seeded rng).

Order of a draw: room size -> camera position/heading/fov -> the gap pair (if asked) -> floor objects
(against walls first) -> wall objects -> small objects on supports -> camera pitch that shows most objects
-> roll. Footprints are oriented rectangles checked with a separating-axis test plus a clearance.
"""

from __future__ import annotations

import math

import numpy as np

from spatialvlm_core.sim.catalog import CATEGORIES, CategorySpec, get_category, sample_dims, yaw_from_front
from spatialvlm_core.sim.config import ROOMS, SimConfig
from spatialvlm_core.sim.layout import CameraSpec, Layout, PlacedObject, Room, convex_distance, convex_overlap

ROOM_DIMS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "living_room": ((4.8, 6.5), (4.8, 6.5)),
    "bedroom": ((4.2, 5.8), (4.5, 6.0)),
    "kitchen": ((4.2, 5.8), (4.2, 5.8)),
    "office": ((4.2, 6.0), (4.5, 6.0)),
}
MAX_PER_CATEGORY: dict[str, int] = {"dining chair": 4, "bed": 1, "fridge": 1, "tv": 1, "wardrobe": 1, "door": 1, "desk": 1}
CLEARANCE = 0.08  # free space kept between floor footprints (m)
WALL_MARGIN = 0.01  # gap between a wall-side object and the wall (m)
MIN_FORWARD = 1.3  # objects closer than this (along the view) would fill the frame or fall below it
VIEW_MARGIN = 0.8  # use this fraction of the horizontal half-fov for placement (roll eats the corners)
ATTEMPTS = 12
GAP_PAIR_TRIES = 16
TRIES_PER_OBJECT = 60
MAX_ROOM_SIDE = 12.0


class _Retry(Exception):
    """This draw failed; the next attempt continues from the same rng stream (still deterministic)."""


def _footprint_ok(fp: np.ndarray, room: Room, margin: float = WALL_MARGIN) -> bool:
    return bool(
        fp[:, 0].min() >= -room.width / 2 + margin - 1e-9
        and fp[:, 0].max() <= room.width / 2 - margin + 1e-9
        and fp[:, 1].min() >= margin - 1e-9
        and fp[:, 1].max() <= room.depth - margin + 1e-9
    )


class _View:
    """Horizontal view wedge of the camera (pitch and roll come later)."""

    def __init__(self, xy: np.ndarray, heading: float, hfov_deg: float) -> None:
        self.xy = xy
        self.fwd = np.array([math.cos(heading), math.sin(heading)])
        self.right = np.array([math.sin(heading), -math.cos(heading)])
        self.tan = math.tan(math.radians(hfov_deg) / 2) * VIEW_MARGIN

    def contains(self, pts: np.ndarray, min_forward: float = MIN_FORWARD) -> bool:
        d = pts - self.xy
        f, lat = d @ self.fwd, d @ self.right
        return bool(np.all(f >= min_forward) and np.all(np.abs(lat) <= f * self.tan))


def _yaw_facing(view: _View, xy: np.ndarray) -> float:
    """Yaw whose front faces the camera from ``xy``."""
    d = view.xy - xy
    return yaw_from_front((float(d[0]), float(d[1])))


def _wall_pose(side: str, room: Room, t: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Point on a wall (t in [0, 1] along it), the inward normal and the yaw facing into the room."""
    if side == "back":
        p, n = np.array([(t - 0.5) * room.width, room.depth]), np.array([0.0, -1.0])
    elif side == "left":
        p, n = np.array([-room.width / 2, t * room.depth]), np.array([1.0, 0.0])
    else:
        p, n = np.array([room.width / 2, t * room.depth]), np.array([-1.0, 0.0])
    return p, n, yaw_from_front((float(n[0]), float(n[1])))


def _flush_to_wall(obj: PlacedObject, wall_pt: np.ndarray, normal: np.ndarray) -> PlacedObject:
    """Slide ``obj`` along ``normal`` until its footprint is WALL_MARGIN away from the wall line."""
    fp = obj.footprint()
    depth_into_wall = float(np.max((wall_pt - fp) @ normal))  # how far the farthest corner sits behind the wall
    shift = (depth_into_wall + WALL_MARGIN) * normal
    return obj.model_copy(update={"pos": (obj.pos[0] + shift[0], obj.pos[1] + shift[1], obj.pos[2])})


class _Placer:
    def __init__(self, rng: np.random.Generator, cfg: SimConfig, room: Room, view: _View) -> None:
        self.rng, self.cfg, self.room, self.view = rng, cfg, room, view
        self.objects: list[PlacedObject] = []
        self.reserved: list[np.ndarray] = []  # floor areas kept free (the gap corridor)
        self.colors_used: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ helpers
    def _new(self, spec: CategorySpec, pos: tuple[float, float, float], yaw: float, size: str, color: str,
             dims: tuple[float, float, float], support_id: str | None = None) -> PlacedObject:  # fmt: skip
        return PlacedObject(id="", category=spec.name, size=size, color=color, dims=dims, pos=pos, yaw=yaw,
                            support_id=support_id)  # fmt: skip

    def _appearance(self, spec: CategorySpec) -> tuple[str, str, tuple[float, float, float]]:
        size = str(self.rng.choice(sorted(spec.sizes)))
        used = self.colors_used.get(spec.name, set())
        free = [c for c in spec.colors if c not in used] or list(spec.colors)
        color = str(self.rng.choice(free))
        return size, color, sample_dims(spec, size, self.rng)

    def _commit(self, obj: PlacedObject) -> PlacedObject:
        obj = obj.model_copy(update={"id": f"obj_{len(self.objects) + 1:02d}"})  # 1-based, = mask order
        self.objects.append(obj)
        self.colors_used.setdefault(obj.category, set()).add(obj.color)
        return obj

    def _floor_free(self, fp: np.ndarray, z: tuple[float, float] = (0.0, 10.0)) -> bool:
        for o in self.objects:
            if o.support_id is not None:
                continue
            lo, hi = o.z_range()
            if hi <= z[0] or lo >= z[1]:
                continue
            if convex_overlap(fp, o.footprint(), CLEARANCE):
                return False
        return all(not convex_overlap(fp, r) for r in self.reserved)

    # ------------------------------------------------------------------ placements
    def place_floor(self, name: str) -> PlacedObject | None:
        spec = get_category(name)
        size, color, dims = self._appearance(spec)
        for _ in range(TRIES_PER_OBJECT):
            if spec.against_wall and self.rng.random() < 0.8:
                side = str(self.rng.choice(["back", "back", "left", "right"]))
                wall_pt, normal, yaw = _wall_pose(side, self.room, float(self.rng.uniform(0.05, 0.95)))
                obj = _flush_to_wall(self._new(spec, (*wall_pt, 0.0), yaw, size, color, dims), wall_pt, normal)
            else:
                xy = np.array([self.rng.uniform(-self.room.width / 2, self.room.width / 2),
                               self.rng.uniform(0, self.room.depth)])  # fmt: skip
                yaw = _yaw_facing(self.view, xy) + float(self.rng.uniform(-1.2, 1.2))
                obj = self._new(spec, (float(xy[0]), float(xy[1]), 0.0), yaw, size, color, dims)
            fp = obj.footprint()
            if _footprint_ok(fp, self.room) and self.view.contains(fp) and self._floor_free(fp):
                return self._commit(obj)
        return None

    def place_wall(self, name: str) -> PlacedObject | None:
        spec = get_category(name)
        size, color, dims = self._appearance(spec)
        for _ in range(TRIES_PER_OBJECT):
            side = str(self.rng.choice(["back", "back", "left", "right"]))
            wall_pt, normal, yaw = _wall_pose(side, self.room, float(self.rng.uniform(0.05, 0.95)))
            z = float(self.rng.uniform(*spec.mount_z))
            obj = _flush_to_wall(self._new(spec, (*wall_pt, z), yaw, size, color, dims), wall_pt, normal)
            fp = obj.footprint()
            if _footprint_ok(fp, self.room, WALL_MARGIN / 2) and self.view.contains(fp, MIN_FORWARD + 0.5) and (
                self._floor_free(fp, obj.z_range()) and obj.z_range()[1] < self.room.height - 0.05
            ):
                return self._commit(obj)
        return None

    def place_small(self, name: str) -> PlacedObject | None:
        spec = get_category(name)
        supports = [o for o in self.objects if get_category(o.category).support]
        if not supports:
            return None
        size, color, dims = self._appearance(spec)
        for _ in range(TRIES_PER_OBJECT):
            sup = supports[int(self.rng.integers(len(supports)))]
            lo, hi = sup.local_bounds()
            m = 0.03
            if hi[0] - lo[0] < 2 * m or hi[1] - lo[1] < 2 * m:
                continue
            local = np.array([self.rng.uniform(lo[0] + m, hi[0] - m), self.rng.uniform(lo[1] + m, hi[1] - m), hi[2], 1.0])
            world = sup.world_from_local() @ local
            yaw = sup.yaw + float(self.rng.uniform(-math.pi, math.pi))
            obj = self._new(spec, (float(world[0]), float(world[1]), float(world[2])), yaw, size, color, dims, sup.id)
            fp = obj.footprint()
            # The footprint must lie on the top (in the support's frame) and clear other small objects there.
            inv = np.linalg.inv(sup.world_from_local())
            loc = (inv @ np.c_[fp, np.zeros(4), np.ones(4)].T).T[:, :2]
            if loc[:, 0].min() < lo[0] + 0.01 or loc[:, 0].max() > hi[0] - 0.01:
                continue
            if loc[:, 1].min() < lo[1] + 0.01 or loc[:, 1].max() > hi[1] - 0.01:
                continue
            if any(o.support_id == sup.id and convex_overlap(fp, o.footprint(), 0.02) for o in self.objects):
                continue
            return self._commit(obj)
        return None

    def place_gap_pair(self, a: str, b: str, gap: float, cam_xy: np.ndarray) -> tuple[PlacedObject, PlacedObject]:
        spec_a, spec_b = get_category(a), get_category(b)
        (sa, ca, da), (sb, cb, db) = self._appearance(spec_a), self._appearance(spec_b)
        yaw = yaw_from_front((float(-self.view.fwd[0]), float(-self.view.fwd[1])))  # fronts face the camera
        oa = self._new(spec_a, (0.0, 0.0, 0.0), yaw, sa, ca, da)
        ob = self._new(spec_b, (0.0, 0.0, 0.0), yaw, sb, cb, db)
        (loa, hia), (lob, hib) = oa.local_bounds(), ob.local_bounds()
        total = (hia[0] - loa[0]) + gap + (hib[0] - lob[0])
        depth = max(hia[1] - loa[1], hib[1] - lob[1])
        f_need = total / 2 / self.view.tan + depth / 2
        f_max = float((self.room.depth - WALL_MARGIN - depth - cam_xy[1]) / max(self.view.fwd[1], 1e-6))
        if f_need > f_max:
            raise _Retry
        u = self.view.right  # local +x of both objects (yaw faces the camera)
        # Several draws of distance and sideways shift: a wide pair in a narrow room fits only some of them.
        for _ in range(GAP_PAIR_TRIES):
            f = float(self.rng.uniform(max(f_need, 2.2), max(f_need, 2.2, f_max * 0.9))) if f_need < f_max else f_need
            # The shift keeps the nearer (front) corners inside the view wedge too.
            slack = max(0.0, (f - depth / 2) * self.view.tan - total / 2)
            centre = cam_xy + self.view.fwd * f + u * float(self.rng.uniform(-0.3, 0.3)) * slack
            pa = centre + u * (-gap / 2 - hia[0])
            pb = centre + u * (gap / 2 - lob[0])
            oa = oa.model_copy(update={"pos": (float(pa[0]), float(pa[1]), 0.0)})
            ob = ob.model_copy(update={"pos": (float(pb[0]), float(pb[1]), 0.0)})
            if all(_footprint_ok(o.footprint(), self.room) and self.view.contains(o.footprint(), 1.0) for o in (oa, ob)):
                break
        else:
            raise _Retry
        oa, ob = self._commit(oa), self._commit(ob)
        # Keep the gap and the floor in front of it (towards the camera) free, so the gap stays visible.
        v = self.view.fwd
        near, far = -min(f - 1.0, 2.0), depth / 2
        self.reserved.append(np.array([centre + u * s + v * t for s, t in
                                       ((-gap / 2, near), (gap / 2, near), (gap / 2, far), (-gap / 2, far))]))  # fmt: skip
        return oa, ob


def _room(rng: np.random.Generator, cfg: SimConfig) -> Room:
    if cfg.room_size is not None:
        w, d = cfg.room_size
    else:
        (w0, w1), (d0, d1) = ROOM_DIMS[cfg.room]
        w, d = round(float(rng.uniform(w0, w1)), 2), round(float(rng.uniform(d0, d1)), 2)
    tint = rng.uniform(-0.06, 0.06, size=3)
    wall = tuple(float(np.clip(c + t, 0, 1)) for c, t in zip((0.84, 0.83, 0.79), tint, strict=True))
    return Room(kind=cfg.room, width=w, depth=d, wall_rgb=wall)  # type: ignore[arg-type]


def _check_gap_fits(cfg: SimConfig) -> None:
    """Deterministic refusal of a gap that can never fit: smallest size variants side by side vs the room."""
    if cfg.gap is None:
        return
    a, b, g = cfg.gap
    need = g + sum(min(rng[0][0] for rng in get_category(n).sizes.values()) for n in (a, b))
    width = cfg.room_size[0] if cfg.room_size else MAX_ROOM_SIDE
    if need > width - 2 * WALL_MARGIN:
        raise ValueError(
            f"gap of {g} m between {a!r} and {b!r} needs at least {need:.2f} m of floor side by side, "
            f"but the room is only {width:.2f} m wide"
        )


def _widen_for_gap(room: Room, cfg: SimConfig, rng: np.random.Generator) -> Room:
    """Sampled rooms grow to fit a wide gap pair (a fixed ``room_size`` is respected as given)."""
    if cfg.gap is None or cfg.room_size is not None:
        return room
    a, b, g = cfg.gap
    need = g + sum(max(r[0][1] for r in get_category(n).sizes.values()) for n in (a, b)) + 0.8
    w = min(MAX_ROOM_SIDE, max(room.width, need))
    d = min(MAX_ROOM_SIDE, max(room.depth, need * 0.9 + 1.5))
    return room.model_copy(update={"width": round(w, 2), "depth": round(d, 2)})


def _draw_names(rng: np.random.Generator, pool: tuple[str, ...], n: int, counts: dict[str, int]) -> list[str]:
    names: list[str] = []
    for _ in range(n * 4):
        if len(names) >= n:
            break
        name = str(rng.choice(pool))
        if counts.get(name, 0) >= MAX_PER_CATEGORY.get(name, 2):
            continue
        counts[name] = counts.get(name, 0) + 1
        names.append(name)
    return names


def _attempt(rng: np.random.Generator, cfg: SimConfig, seed: int) -> Layout:
    room = _widen_for_gap(_room(rng, cfg), cfg, rng)
    mix = ROOMS[cfg.room]
    cam_xy = np.array([rng.uniform(-0.12, 0.12) * room.width, rng.uniform(0.12, 0.35)])
    target = np.array([rng.uniform(-0.08, 0.08) * room.width, room.depth * 0.7])
    heading = math.atan2(*(target - cam_xy)[::-1])
    hfov = float(rng.uniform(*cfg.hfov_deg))
    cam_h = float(rng.uniform(*cfg.camera_height))
    view = _View(cam_xy, heading, hfov)
    placer = _Placer(rng, cfg, room, view)

    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    counts: dict[str, int] = {}
    gap_info = None
    if cfg.gap is not None:
        a, b, g = cfg.gap
        oa, ob = placer.place_gap_pair(a, b, g, cam_xy)
        counts[a] = counts.get(a, 0) + 1
        counts[b] = counts.get(b, 0) + 1
        gap_info = (oa, ob)
    n_left = n - len(placer.objects)
    n_wall = int(rng.integers(0, min(2, n_left // 4) + 1))
    n_small = int(rng.integers(n_left // 5, n_left // 3 + 1)) if n_left >= 3 else 0
    n_floor = max(0, n_left - n_wall - n_small)
    floor_names = _draw_names(rng, mix["floor"], n_floor, counts)
    supports = [s for s in mix["floor"] if CATEGORIES[s].support]
    if n_small and not any(CATEGORIES[f].support for f in floor_names) and floor_names:
        floor_names[0] = str(rng.choice(supports))  # small objects need something to stand on
    floor_names.sort(key=lambda s: not CATEGORIES[s].against_wall)  # big wall-side pieces first
    for name in floor_names:
        placer.place_floor(name)
    for name in _draw_names(rng, mix["wall"], n_wall, counts):
        placer.place_wall(name)
    for name in _draw_names(rng, mix["small"], n_small, counts):
        placer.place_small(name)
    # Top up with more floor objects if some placements failed (crowded room).
    for name in _draw_names(rng, mix["floor"], n * 2, counts):
        if len(placer.objects) >= n:
            break
        placer.place_floor(name)
    if len(placer.objects) < cfg.min_objects:
        raise _Retry

    objects = placer.objects
    camera = _choose_camera(rng, cfg, objects, cam_xy, cam_h, heading, hfov)
    gap = None
    if gap_info is not None:
        oa, ob = gap_info
        gap = {"a": oa.id, "b": ob.id, "gap_m": convex_distance(oa.footprint(), ob.footprint())}
        if not _inside(camera, cfg, np.array([oa.obb().center, ob.obb().center])).all():
            raise _Retry
    return Layout(room=room, objects=objects, camera=camera, gap=gap, seed=seed)


def _inside(camera: CameraSpec, cfg: SimConfig, centres: np.ndarray, margin: float = 0.04) -> np.ndarray:
    """Which world points project inside the image (with a margin, as a fraction of the size)."""
    cam_from_world = np.linalg.inv(camera.matrix())
    p = centres @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    f = (cfg.width / 2) / math.tan(math.radians(camera.hfov_deg) / 2)
    z = np.maximum(p[:, 2], 1e-9)
    u, v = f * p[:, 0] / z + cfg.width / 2, f * p[:, 1] / z + cfg.height / 2
    mu, mv = margin * cfg.width, margin * cfg.height
    return (p[:, 2] > 0.1) & (u >= mu) & (u <= cfg.width - mu) & (v >= mv) & (v <= cfg.height - mv)


def _choose_camera(rng: np.random.Generator, cfg: SimConfig, objects: list[PlacedObject], cam_xy: np.ndarray,
                   cam_h: float, heading: float, hfov: float) -> CameraSpec:  # fmt: skip
    """Pitch that shows the most object centres (ties: closest to looking at their median), then a random roll."""
    centres = np.array([o.obb().center for o in objects])
    fwd = np.array([math.cos(heading), math.sin(heading)])
    f = np.maximum((centres[:, :2] - cam_xy) @ fwd, 0.1)
    aim = float(np.degrees(np.median(np.arctan2(cam_h - centres[:, 2], f))))
    pos = (float(cam_xy[0]), float(cam_xy[1]), cam_h)
    best: tuple[int, float, float] | None = None
    for pitch in np.arange(cfg.min_pitch_deg, cfg.max_pitch_deg + 1e-9, 1.0):
        cam = CameraSpec(position=pos, heading=heading, pitch_deg=float(pitch), hfov_deg=hfov)
        key = (int(_inside(cam, cfg, centres).sum()), -abs(float(pitch) - aim), float(pitch))
        if best is None or key[:2] > best[:2]:
            best = key
    assert best is not None
    pitch = float(np.clip(best[2] + rng.uniform(-1.0, 1.0), cfg.min_pitch_deg, cfg.max_pitch_deg))
    for _ in range(8):
        roll = float(rng.uniform(-cfg.max_roll_deg, cfg.max_roll_deg))
        cam = CameraSpec(position=pos, heading=heading, pitch_deg=pitch, roll_deg=roll, hfov_deg=hfov)
        if _inside(cam, cfg, centres, 0.0).sum() >= 0.75 * len(objects):
            return cam
    raise _Retry


def sample_layout(seed: int, cfg: SimConfig) -> Layout:
    """A random layout for ``seed``; ValueError when the request cannot be met (too many objects, gap too wide)."""
    _check_gap_fits(cfg)
    rng = np.random.default_rng(seed)
    for _ in range(ATTEMPTS):
        try:
            return _attempt(rng, cfg, seed)
        except _Retry:
            continue
    size = f"{cfg.room_size[0]:.1f} x {cfg.room_size[1]:.1f} m " if cfg.room_size else ""
    what = f"{cfg.min_objects} objects" + (f" with a {cfg.gap[2]} m gap between {cfg.gap[0]} and {cfg.gap[1]}" if cfg.gap else "")
    raise ValueError(
        f"could not lay out {what} in the {size}{cfg.room} (seed {seed}) after {ATTEMPTS} attempts: "
        "lower min_objects, shrink the gap or give a larger room_size"
    )
