"""Label noise for the noise-robustness study: jitter object positions and sizes before asking."""

from __future__ import annotations

import math
import random

from spatialvlm_core.types import Box3D, Object3D, OrientedBox3D, Scene3D

_MIN_SIZE = 1e-3  # a jittered extent never collapses below 1 mm


def perturb_object(obj: Object3D, sigma: float, rng: random.Random, canonical: bool) -> Object3D:
    """Shift the centre by N(0, sigma) per axis and each extent by N(0, sigma); boxes, footprint and
    height above floor stay mutually consistent (the footprint becomes the jittered box footprint)."""
    shift = [rng.gauss(0.0, sigma) for _ in range(3)]
    obb_size = tuple(max(_MIN_SIZE, s + rng.gauss(0.0, sigma)) for s in obj.obb.size)
    ratio = [n / o if o > 0 else 1.0 for n, o in zip(obb_size, obj.obb.size, strict=True)]
    obb_center = tuple(c + d for c, d in zip(obj.obb.center, shift, strict=True))
    obb = OrientedBox3D(center=obb_center, size=obb_size, yaw=obj.obb.yaw)
    # The AABB scales with the box: rotate-invariant for z, proportional for x/y.
    c, s = abs(math.cos(obj.obb.yaw)), abs(math.sin(obj.obb.yaw))
    aabb_xy = (c * obb_size[0] + s * obb_size[1], s * obb_size[0] + c * obb_size[1])
    if obj.obb.yaw == 0.0 and not canonical:
        aabb_xy = (obj.aabb.size[0] * ratio[0], obj.aabb.size[1] * ratio[1])
    aabb_size = (aabb_xy[0], aabb_xy[1], obj.aabb.size[2] * ratio[2])
    aabb = Box3D(center=tuple(c_ + d for c_, d in zip(obj.aabb.center, shift, strict=True)), size=aabb_size)
    update: dict[str, object] = {
        "obb": obb,
        "aabb": aabb,
        "centroid": tuple(c_ + d for c_, d in zip(obj.centroid, shift, strict=True)),
    }
    if canonical:
        update["footprint"] = [tuple(map(float, p)) for p in obb.corners_xy()] if obj.footprint else []
        update["height_above_floor"] = max(0.0, float(aabb.min[2]))
    return obj.model_copy(update=update)


def perturb_scene(scene: Scene3D, sigma: float, rng: random.Random) -> Scene3D:
    """A copy of ``scene`` with Gaussian noise (``sigma`` metres) on every object's position and size."""
    if not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"perturb_scene: sigma must be a finite number >= 0 (metres), got {sigma!r}")
    if sigma == 0:
        return scene
    objects = [perturb_object(o, sigma, rng, scene.canonical) for o in scene.objects]
    return scene.model_copy(update={"objects": objects, "notes": [*scene.notes, f"label_noise sigma={sigma} m"]})
