"""Stage composition: frame -> detections -> masks -> depth -> lift -> name, and the `reconstruct` command.

Backends come from ``spatialvlm_core.perception`` (``create_detector`` / ``create_segmenter`` /
``create_depth``) by name, or are passed as ready objects (the pipeline builds them once per worker).
Three need no model: ``detector="ground-truth"`` (boxes + masks from ``frame.ground_truth``),
``segmenter="ground-truth"`` (masks from the instance image) and ``depth="sensor"`` (``frame.depth``).

Backend call protocol (first method found is used): detectors ``detect(frame)``; segmenters
``segment(frame, detections)``; depth ``predict(frame)`` / ``estimate(frame)`` returning metres HxW (or an
object with ``.depth``); a plain callable works for any of them.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from spatialvlm_core.lifting import LiftConfig, lift
from spatialvlm_core.naming import Captioner, ClipLike, name_objects
from spatialvlm_core.types import CameraIntrinsics, Detections, Frame, Scene3D

# --------------------------------------------------------------------------- backends


def resolve_backend(kind: str, spec: Any, **kwargs: Any) -> Any:
    """A backend object from a registry name (``spatialvlm_core.perception``) or the object itself."""
    if not isinstance(spec, str):
        return spec
    from spatialvlm_core import perception

    return getattr(perception, f"create_{kind}")(spec, **kwargs)


def _call(backend: Any, methods: tuple[str, ...], *args: Any) -> Any:
    for m in methods:
        fn = getattr(backend, m, None)
        if callable(fn):
            return fn(*args)
    if callable(backend):
        return backend(*args)
    raise TypeError(f"backend {type(backend).__name__} has none of {methods} and is not callable")


def _backend_name(b: Any) -> str:
    return str(getattr(b, "name", type(b).__name__))


# --------------------------------------------------------------------------- composition


def reconstruct(
    frame: Frame,
    detector: Any = "ground-truth",
    segmenter: Any = "box-depth",
    depth: Any = "sensor",
    clip: ClipLike | None = None,
    captioner: Captioner | None = None,
    lift_config: LiftConfig | None = None,
    intrinsics: CameraIntrinsics | None = None,
    name: bool = True,
) -> Scene3D:
    """One frame to a named, metric ``Scene3D``. Backends are names or objects (see the module docstring).

    Masks already on the detections are kept (the segmenter only runs when some are missing).
    """
    det_b = resolve_backend("detector", detector)
    dets: Detections = _call(det_b, ("detect",), frame)
    if not isinstance(dets, Detections):
        raise TypeError(f"detector {_backend_name(det_b)} returned {type(dets).__name__}, expected Detections")
    dep_b = resolve_backend("depth", depth)
    dmap = _call(dep_b, ("predict", "estimate"), frame)
    dmap = np.asarray(getattr(dmap, "depth", dmap), dtype=np.float32)
    seg_name = "-"
    if any(d.mask is None for d in dets.items):
        seg_b = resolve_backend("segmenter", segmenter)
        seg_name = _backend_name(seg_b)
        # Depth-aware segmenters see the depth through the frame.
        seg_frame = frame if frame.depth is not None else frame.model_copy(update={"depth": dmap})
        dets = _call(seg_b, ("segment",), seg_frame, dets)
    scene = lift(frame, dets, depth=dmap, intrinsics=intrinsics, config=lift_config)
    if name:
        needs_frame = clip is not None or captioner is not None
        scene = name_objects(scene, frame=frame if needs_frame else None, clip=clip, captioner=captioner)
    prov = dict(scene.provenance)
    prov.update({"detector": _backend_name(det_b), "segmenter": seg_name, "depth": _backend_name(dep_b),
                 "clip": _backend_name(clip) if clip is not None else None})
    return scene.model_copy(update={"provenance": prov})


# --------------------------------------------------------------------------- picture


def render_scene_png(frame: Frame, scene: Scene3D, path: str | Path) -> Path:
    """Save the image with 2D boxes and captions beside a top-down view of the footprints (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 5))
    ax0.imshow(frame.rgb)
    ax0.set_axis_off()
    ax0.set_title(f"{frame.image_id}: {len(scene.objects)} objects")
    cmap = plt.get_cmap("tab10")
    for i, o in enumerate(scene.objects):
        c = cmap(i % 10)
        if o.box_2d is not None:
            x0, y0, x1, y1 = o.box_2d
            ax0.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=c, lw=2,
                                        ls="--" if o.ambiguous else "-"))
            ax0.text(x0, y0, o.caption, color="white", fontsize=7, va="bottom",
                     bbox={"facecolor": c, "alpha": 0.7, "pad": 1, "lw": 0})
        corners = o.obb.corners_xy()
        if scene.canonical:
            ax1.fill(*np.asarray(o.footprint or corners).T, color=c, alpha=0.35)
            ax1.plot(*np.vstack([corners, corners[:1]]).T, color=c, lw=1.5)
            ax1.text(o.centroid[0], o.centroid[1], o.caption.removeprefix("the "), fontsize=7, ha="center")
        else:  # camera frame: top-down is x (right) vs z (forward)
            ax1.add_patch(plt.Rectangle((o.aabb.min[0], o.aabb.min[2]), o.aabb.size[0], o.aabb.size[2],
                                        color=c, alpha=0.35))
            ax1.text(o.centroid[0], o.centroid[2], o.caption.removeprefix("the "), fontsize=7, ha="center")
    # Camera and its horizontal field of view.
    half = math.radians(scene.intrinsics.hfov_deg / 2) if scene.intrinsics else math.radians(30)
    reach = max([3.0] + [float(np.hypot(o.centroid[0], o.centroid[1 if scene.canonical else 2])) for o in scene.objects])
    for s in (-1, 1):
        ax1.plot([0, s * reach * math.sin(half)], [0, reach * math.cos(half)], "k:", lw=1)
    ax1.plot(0, 0, "k^", ms=10)
    ax1.set_aspect("equal")
    ax1.grid(alpha=0.3)
    ax1.set_xlabel("x (m, right)")
    ax1.set_ylabel("y (m, forward)" if scene.canonical else "z (m, camera forward)")
    ax1.set_title("top-down, canonical frame" if scene.canonical else "top-down, camera frame (no floor found)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- CLI


def load_intrinsics(path: str | Path, width: int, height: int) -> CameraIntrinsics:
    """Intrinsics JSON: {fx, fy, cx, cy[, width, height]} or {"K": 3x3}; width/height default to the image."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"intrinsics file not found: {p}")
    try:
        d = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not valid JSON ({e})") from e
    if "K" in d:
        k = np.asarray(d["K"], dtype=float)
        if k.shape != (3, 3):
            raise ValueError(f"{p}: K must be 3x3, got shape {k.shape}")
        d = {"fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2]}
    missing = {"fx", "fy", "cx", "cy"} - set(d)
    if missing:
        raise ValueError(f"{p}: missing intrinsics fields {sorted(missing)}")
    return CameraIntrinsics(fx=d["fx"], fy=d["fy"], cx=d["cx"], cy=d["cy"],
                            width=int(d.get("width", width)), height=int(d.get("height", height)))


def load_depth(path: str | Path, scale: float | None = None) -> np.ndarray:
    """Depth in metres from .npy (metres) or a 16-bit PNG (millimetres unless ``scale`` says otherwise)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"depth file not found: {p}")
    if p.suffix == ".npy":
        d = np.load(p).astype(np.float32)
        s = 1.0 if scale is None else scale
    elif p.suffix in (".png", ".tif", ".tiff"):
        from PIL import Image

        d = np.asarray(Image.open(p)).astype(np.float32)
        s = 0.001 if scale is None else scale
    else:
        raise ValueError(f"{p}: depth must be .npy (metres) or a 16-bit .png (millimetres)")
    if d.ndim != 2:
        raise ValueError(f"{p}: depth must be HxW, got shape {d.shape}")
    return d * s


def _run(args: argparse.Namespace) -> int:
    from PIL import Image

    img_path = Path(args.image)
    if not img_path.exists():
        raise FileNotFoundError(f"image not found: {img_path}")
    rgb = np.asarray(Image.open(img_path).convert("RGB"))
    h, w = rgb.shape[:2]
    depth = load_depth(args.depth, args.depth_scale) if args.depth else None
    intr = load_intrinsics(args.intrinsics, w, h) if args.intrinsics else None
    frame = Frame(image_id=img_path.stem, rgb=rgb, depth=depth, intrinsics=intr, source=str(img_path))
    depth_backend = args.depth_model or ("sensor" if depth is not None else "depth-anything-v2-metric")
    cfg = LiftConfig(seed=args.seed)
    scene = reconstruct(frame, detector=args.detector, segmenter=args.segmenter, depth=depth_backend,
                        lift_config=cfg)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(scene.model_dump_json(indent=1))
    png = Path(args.png) if args.png else out.with_suffix(".png")
    render_scene_png(frame, scene, png)
    print(f"{len(scene.objects)} objects ({len(scene.dropped)} dropped, "
          f"{sum(o.ambiguous for o in scene.objects)} ambiguous), canonical={scene.canonical} -> {out}, {png}")
    for n in scene.notes:
        print(f"  note: {n}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``spatialvlm reconstruct``."""
    p = subparsers.add_parser("reconstruct", help="one image -> metric 3D scene (JSON) + picture")
    p.add_argument("image", help="RGB image file")
    p.add_argument("--depth", help="metric depth: .npy in metres or 16-bit .png in millimetres")
    p.add_argument("--depth-scale", type=float, default=None, help="multiply the depth file by this (to metres)")
    p.add_argument("--intrinsics", help='JSON {"fx","fy","cx","cy"} or {"K": 3x3}; default: 60 deg FoV prior')
    p.add_argument("--detector", default="yolox-onnx")
    p.add_argument("--segmenter", default="box-depth")
    p.add_argument("--depth-model", default=None, help="depth backend (default: sensor with --depth)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="scene JSON to write")
    p.add_argument("--png", default=None, help="picture to write (default: next to --out)")
    p.set_defaults(func=_run)
