"""Generate and render a synthetic scene; package its exact ground truth as a ``Scene3D``."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from spatialvlm_core.sim.catalog import get_category
from spatialvlm_core.sim.config import SimConfig
from spatialvlm_core.sim.layout import Layout, PlacedObject
from spatialvlm_core.sim.mjcf import build_mjcf
from spatialvlm_core.sim.render import Renderer, get_renderer
from spatialvlm_core.sim.sampling import sample_layout
from spatialvlm_core.types import (
    CameraIntrinsics,
    CameraPose,
    DroppedObject,
    Frame,
    GroundTruth,
    NDArray,
    Object3D,
    Scene3D,
)

GENERATOR = "spatialvlm_core.sim"


class SimScene(BaseModel):
    """One rendered synthetic scene with its exact answers."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    layout: Layout
    rgb: NDArray  # uint8[H, W, 3]
    depth: NDArray  # float32[H, W], metres along the optical axis
    instances: NDArray  # int32[H, W], 0 = room/background, else Object3D.mask_id
    intrinsics: CameraIntrinsics
    pose: CameraPose  # world_from_camera, OpenCV camera
    scene: Scene3D  # ground truth, canonical world frame (+z up, floor z = 0)

    @property
    def image_id(self) -> str:
        return self.scene.scene_id

    def frame(self) -> Frame:
        return Frame(
            image_id=self.image_id,
            rgb=self.rgb,
            depth=self.depth,
            intrinsics=self.intrinsics,
            source=f"sim:{self.image_id}",
            ground_truth=GroundTruth(instances=self.instances, scene=self.scene),
        )


def scene_id_for(layout: Layout) -> str:
    return f"sim_{layout.room.kind}_{layout.seed if layout.seed is not None else 'x'}"


def instance_lut(model: object, layout: Layout) -> np.ndarray:
    """geom id -> instance value (1-based object index; 0 for room, lights and extra bodies).

    Index ``g + 1`` holds geom ``g``; index 0 is "no geom" (background).
    """
    import mujoco  # here, not at the top: sim.render must set MUJOCO_GL first (isort would put it above)

    assert isinstance(model, mujoco.MjModel)
    mask_of = {o.id: i + 1 for i, o in enumerate(layout.objects)}
    body_val = np.zeros(model.nbody, dtype=np.int32)
    for b in range(model.nbody):
        body_val[b] = mask_of.get(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) or "", 0)
    lut = np.zeros(model.ngeom + 1, dtype=np.int32)
    lut[1:] = body_val[model.geom_bodyid]
    return lut


def _captions(objs: list[PlacedObject]) -> dict[str, tuple[str, bool]]:
    """Caption per object id: "the red armchair", with the size word when colour alone is not enough.

    Returns (caption, ambiguous); ambiguous when even size + colour do not single the object out.
    """
    out: dict[str, tuple[str, bool]] = {}
    for o in objs:
        same = [p for p in objs if p.category == o.category and p.id != o.id]
        if not same:
            out[o.id] = (f"the {o.color} {o.category}", False)
            continue
        if all(p.color != o.color for p in same):
            out[o.id] = (f"the {o.color} {o.category}", False)
            continue
        amb = any(p.color == o.color and p.size == o.size for p in same)
        out[o.id] = (f"the {o.size} {o.color} {o.category}", amb)
    return out


def _object3d(o: PlacedObject, mask_id: int, caption: str, ambiguous: bool, box_2d: tuple[float, ...] | None) -> Object3D:
    obb = o.obb()
    z0 = obb.center[2] - obb.size[2] / 2
    return Object3D(
        id=o.id,
        name=o.category,
        caption=caption,
        aabb=o.aabb(),
        obb=obb,
        centroid=obb.center,
        footprint=[(float(x), float(y)) for x, y in obb.corners_xy()],
        height_above_floor=float(z0),
        attributes={"color": o.color, "size": o.size, "placement": get_category(o.category).placement},
        mask_id=mask_id,
        ambiguous=ambiguous,
        box_2d=box_2d,  # type: ignore[arg-type]
    )


def render_scene(
    layout: Layout,
    width: int = 320,
    height: int = 240,
    *,
    renderer: Renderer | None = None,
    min_visible_pixels: int = 25,
    config: SimConfig | None = None,
) -> SimScene:
    """Compile ``layout``, render it from its camera and assemble the ground truth.

    Objects with fewer than ``min_visible_pixels`` mask pixels are moved to ``scene.dropped`` and their
    pixels set to 0 in ``instances``, so every non-zero instance value names an object of ``scene.objects``.
    """
    import mujoco  # after sim.render set MUJOCO_GL (see instance_lut)

    renderer = renderer or get_renderer(width, height)
    if (renderer.width, renderer.height) != (width, height):
        raise ValueError(f"renderer is {renderer.width}x{renderer.height}, asked for {width}x{height}")
    model = mujoco.MjModel.from_xml_string(build_mjcf(layout, width=width, height=height))
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    intr = layout.camera.intrinsics(width, height)
    pose = layout.camera.pose()
    out = renderer.render(model, data, pose, intr, segmentation=True)
    assert out.geom_ids is not None
    instances = instance_lut(model, layout)[out.geom_ids + 1]

    counts = np.bincount(instances.ravel(), minlength=len(layout.objects) + 1)
    visible = [o for i, o in enumerate(layout.objects) if counts[i + 1] >= min_visible_pixels]
    dropped = [
        DroppedObject(id=o.id, reason=f"not visible in the image ({int(counts[i + 1])} pixels)")
        for i, o in enumerate(layout.objects)
        if counts[i + 1] < min_visible_pixels
    ]
    for d in dropped:
        instances[instances == int(d.id.split("_")[1])] = 0
    caps = _captions(visible)
    objects: list[Object3D] = []
    for o in visible:
        mask_id = layout.objects.index(o) + 1
        ys, xs = np.nonzero(instances == mask_id)
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        objects.append(_object3d(o, mask_id, *caps[o.id], box))
    provenance: dict[str, object] = {
        "generator": GENERATOR,
        "mujoco": mujoco.__version__,
        "seed": layout.seed,
        "room": layout.room.kind,
        "room_size": [layout.room.width, layout.room.depth],
        "camera": layout.camera.model_dump(),
    }
    if config is not None:
        provenance["config"] = config.model_dump(mode="json")
    if layout.gap is not None:
        provenance["gap"] = dict(layout.gap)
    scene = Scene3D(
        scene_id=scene_id_for(layout),
        objects=objects,
        canonical=True,
        gravity_confidence=1.0,
        camera=pose,
        intrinsics=intr,
        image_source=f"sim:{scene_id_for(layout)}",
        dropped=dropped,
        provenance=provenance,
    )
    return SimScene(layout=layout, rgb=out.rgb, depth=out.depth, instances=instances.astype(np.int32),
                    intrinsics=intr, pose=pose, scene=scene)  # fmt: skip


def generate_scene(seed: int, config: SimConfig | None = None, *, renderer: Renderer | None = None) -> SimScene:
    """Sample a layout from ``seed`` and render it; the same seed and config give byte-identical output."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    cfg = config or SimConfig()
    layout = sample_layout(int(seed), cfg)
    sim = render_scene(layout, cfg.width, cfg.height, renderer=renderer, min_visible_pixels=cfg.min_visible_pixels,
                       config=cfg)  # fmt: skip
    if layout.gap is not None:
        seen = {o.id for o in sim.scene.objects}
        if not {layout.gap["a"], layout.gap["b"]} <= seen:
            raise ValueError(f"seed {seed}: a gap object is hidden in the rendered view; try another seed")
    return sim
