"""Stage composition: frame -> detections -> masks -> depth -> lift -> name, and the `reconstruct` command.

Backends come from ``spatialvlm_core.perception`` (``create_detector`` / ``create_segmenter`` /
``create_depth``) by name, or are passed as ready objects (the pipeline builds them once per worker).
Several need no model: ``detector="ground-truth"`` (boxes + masks from ``frame.ground_truth``),
``detector="boxes"`` / ``boxes=`` (user-supplied labelled boxes), ``segmenter="ground-truth"`` (masks from the
instance image), ``depth="sensor"`` (``frame.depth``) and ``depth="size-prior"`` (class sizes). The default
``"auto"`` picks, per frame, backends that work without downloads (:func:`auto_backends`).

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
from PIL import Image

from spatialvlm_core import perception
from spatialvlm_core.json_file import read_json_file
from spatialvlm_core.lifting import LiftConfig, lift
from spatialvlm_core.naming import Captioner, ClipLike, name_objects
from spatialvlm_core.perception.boxes import box_mask
from spatialvlm_core.perception.depth_size_prior import PriorScaledDepth
from spatialvlm_core.perception.detect_boxes import BoxesDetector
from spatialvlm_core.perception.labels import vocabulary_of
from spatialvlm_core.types import CameraIntrinsics, Detections, Frame, OrientedBox3D, Scene3D

# --------------------------------------------------------------------------- backends


def resolve_backend(kind: str, spec: Any, **kwargs: Any) -> Any:
    """A backend object from a registry name (``spatialvlm_core.perception``) or the object itself."""
    if not isinstance(spec, str):
        return spec
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


def _scaled(backend: Any, scale: str) -> Any:
    # Our depth backends already turn a relative model's disparity into depth (up to scale): "relative".
    modes = {"size-prior": "relative", "size-prior-inverse": "inverse", "size-prior-check": "check"}
    if scale not in modes:
        raise ValueError(f"scale must be one of {sorted(modes)}, got {scale!r}")
    return PriorScaledDepth(backend, mode=modes[scale])


AUTO = "auto"


def _registered(kind: str, name: str) -> bool:
    reg = {"detector": perception.DETECTORS, "segmenter": perception.SEGMENTERS, "depth": perception.DEPTH}[kind]
    return name in reg


def auto_backends(frame: Frame, detector: Any = AUTO, segmenter: Any = AUTO, depth: Any = AUTO,
                  boxes: Any = None) -> tuple[Any, Any, Any]:
    """The backends ``"auto"`` stands for on this frame, so that ``reconstruct(frame)`` works on real frames:

    * detector: ``ground-truth`` for a synthetic frame (``frame.ground_truth``), else the given ``boxes``
      (a ``BoxesDetector``), else ``yolox-onnx`` (COCO, weights beside the repo or ``$SPATIALVLM_YOLOX``);
    * depth: ``sensor`` when ``frame.depth`` is set, else ``size-prior`` (metric depth from class sizes, no weights);
    * segmenter: ``region-grow`` when registered, else ``box-depth``.
    """
    if boxes is not None and not (isinstance(detector, str) and detector in (AUTO, "boxes")):
        raise ValueError(f"pass either boxes or a detector, not both (detector={_backend_name(detector)!r})")
    if boxes is not None or detector == "boxes":
        if boxes is None:
            raise ValueError("detector 'boxes' needs boxes=PATH_OR_LIST (labelled boxes JSON, see detect_boxes)")
        detector = boxes if isinstance(boxes, BoxesDetector) else BoxesDetector(boxes)
    elif detector == AUTO:
        detector = "ground-truth" if frame.ground_truth is not None else "yolox-onnx"
    if depth == AUTO:
        depth = "sensor" if frame.depth is not None else "size-prior"
    if segmenter == AUTO:
        segmenter = "region-grow" if _registered("segmenter", "region-grow") else "box-depth"
    return detector, segmenter, depth


def _depth_of(backend: Any, frame: Frame, dets: Detections) -> tuple[np.ndarray, Any]:
    """(depth map in metres, the backend's full output). Backends with ``needs_detections`` (``size-prior``)
    get the detections through ``predict_with_detections``."""
    if getattr(backend, "needs_detections", False):
        out = backend.predict_with_detections(frame, dets)
    else:
        out = _call(backend, ("predict", "estimate"), frame)
    return np.asarray(getattr(out, "depth", out), dtype=np.float32), out


def reconstruct(
    frame: Frame,
    detector: Any = AUTO,
    segmenter: Any = AUTO,
    depth: Any = AUTO,
    clip: ClipLike | None = None,
    captioner: Captioner | None = None,
    lift_config: LiftConfig | None = None,
    intrinsics: CameraIntrinsics | None = None,
    name: bool = True,
    boxes: Any = None,
    scale: str | None = None,
) -> Scene3D:
    """One frame to a named, metric ``Scene3D``. Backends are names or objects (see the module docstring);
    ``"auto"`` picks what works on this frame (:func:`auto_backends`). ``boxes``: labelled boxes to use instead
    of a detector (a JSON path, a list, or a ``BoxesDetector``; format in ``perception.detect_boxes``).

    Masks already on the detections are kept (the segmenter only runs when some are missing). The chosen
    backends are recorded in ``provenance`` (``detector``, ``segmenter``, ``depth``, and ``auto``: which were
    picked automatically), with what the detector can name (``detector_vocabulary`` / ``detector_classes``).

    ``scale``: "size-prior" puts a relative depth model (depth up to scale, e.g. ``dpt``/MiDaS through our
    backends) in metres with the class size priors; "size-prior-inverse" for a raw relative disparity;
    "size-prior-check" keeps a metric model's metres and notes its scale against the priors (flagged above 1.5x).
    """
    auto = [k for k, v in (("detector", detector), ("segmenter", segmenter), ("depth", depth)) if v == AUTO]
    detector, segmenter, depth = auto_backends(frame, detector, segmenter, depth, boxes)
    det_b = resolve_backend("detector", detector)
    dets: Detections = _call(det_b, ("detect",), frame)
    if not isinstance(dets, Detections):
        raise TypeError(f"detector {_backend_name(det_b)} returned {type(dets).__name__}, expected Detections")
    dep_b = resolve_backend("depth", depth)
    if scale is not None:
        dep_b = _scaled(dep_b, scale)
    dmap, dout = _depth_of(dep_b, frame, dets)
    sigma = getattr(dout, "sigma", None)
    if intrinsics is None and frame.intrinsics is None:
        intrinsics = getattr(dout, "intrinsics", None)  # e.g. size-prior's EXIF focal length
    seg_name = "-"
    met = getattr(dout, "metrology", None)
    object_depths = None
    if met is not None and getattr(dout, "scale", None) is None:
        # Size-prior depth: objects are placed whole from their own estimates; a box mask is all lifting needs.
        object_depths = {o.index: o for o in met.objects if math.isfinite(o.depth)}
        dets = dets.model_copy(update={"items": [d if d.mask is not None else d.model_copy(
            update={"mask": box_mask(d.box_xyxy, dets.width, dets.height)}) for d in dets.items]})
        seg_name = "box (size-prior placement)"
    if any(d.mask is None for d in dets.items):
        seg_b = resolve_backend("segmenter", segmenter)
        seg_name = _backend_name(seg_b)
        # Depth-aware segmenters see the depth through the frame.
        seg_frame = frame if frame.depth is not None else frame.model_copy(update={"depth": dmap})
        dets = _call(seg_b, ("segment",), seg_frame, dets)
    extra: dict[str, Any] = {"depth_sigma": np.asarray(sigma, dtype=np.float32)} if sigma is not None else {}
    if object_depths is not None:
        extra["object_depths"] = object_depths
    lift_frame, gravity_conf, horizon_note = frame, None, None
    if object_depths is not None and frame.gravity_up is None:
        # One photo: the floor is the metrology's own estimate (objects' floor contacts and sizes). Lifting takes
        # its up rather than re-searching the synthetic floor plane it was drawn from -- when that estimate is
        # firm enough; a horizon that is mostly the prior (no objects standing in view) leaves the scene in the
        # camera frame, as an unconfirmed floor does.
        intr_used = intrinsics or frame.intrinsics
        tilt_sd = met.tilt_sd_deg(intr_used.fy if intr_used is not None else 1.0)
        conf = math.exp(-0.5 * (tilt_sd / 3.0) ** 2)
        if conf >= (lift_config or LiftConfig()).min_floor_confidence:
            lift_frame = frame.model_copy(update={"gravity_up": tuple(float(v) for v in met.up)})
            gravity_conf = (conf, f"up from the size-prior horizon (row {met.horizon_v:.0f}, +-{tilt_sd:.1f} deg)")
        else:
            floor = met.floor_depth(intr_used) if intr_used is not None else np.zeros_like(dmap)
            dmap = np.where(np.isclose(dmap, floor), 0.0, dmap).astype(np.float32)
            # No floor is left to find: skip the image-wide floor cues (they cost more than the rest).
            lift_config = (lift_config or LiftConfig()).model_copy(update={"floor_checks": False})
            horizon_note = (f"the size-prior horizon is too uncertain (+-{tilt_sd:.1f} deg, {met.n_standing} objects "
                            "standing in view) for a gravity-aligned scene: it stays in the camera frame")
    scene = lift(lift_frame, dets, depth=dmap, intrinsics=intrinsics, config=lift_config, **extra)
    if gravity_conf is not None:
        conf, said = gravity_conf
        scene = scene.model_copy(update={
            "gravity_confidence": conf, "notes": [n.replace("up from frame.gravity_up", said) for n in scene.notes]})
    elif horizon_note is not None:
        scene = scene.model_copy(update={"notes": [horizon_note, *scene.notes]})
    if name:
        needs_frame = clip is not None or captioner is not None
        scene = name_objects(scene, frame=frame if needs_frame else None, clip=clip, captioner=captioner)
    prov = dict(scene.provenance)
    prov.update({"detector": _backend_name(det_b), "segmenter": seg_name, "depth": _backend_name(dep_b),
                 "clip": _backend_name(clip) if clip is not None else None, "auto": auto})
    prov.update(_vocabulary_provenance(det_b))
    notes = list(scene.notes) + [n for n in getattr(dout, "notes", None) or [] if n not in scene.notes]
    return scene.model_copy(update={"provenance": prov, "notes": notes})


def _vocabulary_provenance(det_b: Any) -> dict[str, Any]:
    """What the detector can name: a known closed set by name ("coco"), else its class list (boxes, custom
    closed sets); nothing for open-vocabulary or ground-truth detectors (they can name what is asked)."""
    classes = getattr(det_b, "classes", None)
    if not isinstance(classes, list | tuple) or not all(isinstance(c, str) for c in classes):
        return {}
    out: dict[str, Any] = {}
    vocab = vocabulary_of(list(classes))
    if vocab:
        out["detector_vocabulary"] = vocab
    else:
        out["detector_classes"] = list(classes)
    if getattr(det_b, "source", None):
        out["boxes"] = str(det_b.source)
    return out


# --------------------------------------------------------------------------- picture


def horizon_line(scene: Scene3D) -> np.ndarray | None:
    """Image line (a, b, c), a*u + b*v + c = 0, where the floor plane meets the sky at infinity: rays
    perpendicular to the scene's up axis. None unless the scene is canonical with camera pose and intrinsics."""
    if not scene.canonical or scene.camera is None or scene.intrinsics is None:
        return None
    up_cam = scene.camera.matrix()[:3, :3].T @ np.array([0.0, 0.0, 1.0])
    line = np.linalg.inv(scene.intrinsics.matrix()).T @ up_cam
    return line if np.hypot(line[0], line[1]) > 1e-12 else None


def project_floor(scene: Scene3D, points_xy: np.ndarray) -> np.ndarray:
    """Pixels (u, v) of floor points (z = 0) of a canonical scene; NaN where behind the camera (< 0.1 m ahead)."""
    assert scene.camera is not None and scene.intrinsics is not None
    pts = np.column_stack([points_xy, np.zeros(len(points_xy)), np.ones(len(points_xy))])
    cam = (np.linalg.inv(scene.camera.matrix()) @ pts.T)[:3].T
    uv = (scene.intrinsics.matrix() @ cam.T).T
    with np.errstate(divide="ignore", invalid="ignore"):
        out = uv[:, :2] / uv[:, 2:3]
    out[cam[:, 2] < 0.1] = np.nan
    return out


def _lighter(c: Any, amount: float = 0.55) -> tuple[float, float, float]:
    r, g, b = c[:3]
    return (r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount)


def _draw_floor(ax: Any, scene: Scene3D, width: int, height: int) -> str:
    """Horizon line and a 1 m floor grid over the image; returns a note for the title."""
    line = horizon_line(scene)
    if line is None:
        return "no floor found" if not scene.canonical else ""
    a, b, c = line
    if abs(b) > 1e-9:
        us = np.array([0.0, width - 1.0])
        ax.plot(us, -(a * us + c) / b, color="yellow", ls="--", lw=1.5, label="horizon")
    reach = max([6.0] + [float(np.hypot(*o.centroid[:2])) + 2 for o in scene.objects])
    xs = np.arange(-math.ceil(reach), math.ceil(reach) + 1)
    t = np.linspace(0.0, reach, 120)
    for x in xs:  # lines along +y (forward)
        uv = project_floor(scene, np.column_stack([np.full_like(t, x), t]))
        ax.plot(uv[:, 0], uv[:, 1], color="cyan", lw=0.6, alpha=0.5)
    s = np.linspace(-reach, reach, 240)
    for y in range(1, int(reach) + 1):  # lines across, 1 m apart
        uv = project_floor(scene, np.column_stack([s, np.full_like(s, float(y))]))
        ax.plot(uv[:, 0], uv[:, 1], color="cyan", lw=0.6, alpha=0.5)
    return "floor grid 1 m"


def render_scene_png(frame: Frame, scene: Scene3D, path: str | Path) -> Path:
    """Save the image with 2D boxes, captions, the horizon and a 1 m floor grid (canonical scenes), beside a
    top-down view: each footprint solid, its size interval (``size_lo``/``size_hi``) dashed around it, the
    part seen (``visible_obb``) lighter. matplotlib Agg."""
    import matplotlib  # heavy (~0.3 s), only when drawing; Agg must be chosen before pyplot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    path = Path(path)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 5.5))
    w, h = frame.size
    ax0.imshow(frame.rgb)
    floor_note = _draw_floor(ax0, scene, w, h)
    ax0.set_xlim(-0.5, w - 0.5)
    ax0.set_ylim(h - 0.5, -0.5)
    ax0.set_axis_off()
    prov = scene.provenance
    backends = ", ".join(f"{k} {prov[k]}" for k in ("detector", "depth") if prov.get(k))
    ax0.set_title(f"{frame.image_id}: {len(scene.objects)} objects" + (f" ({backends})" if backends else "")
                  + (f"; {floor_note}" if floor_note else ""), fontsize=9)
    cmap = plt.get_cmap("tab10")
    for i, o in enumerate(scene.objects):
        c = cmap(i % 10)
        if o.box_2d is not None:
            x0, y0, x1, y1 = o.box_2d
            ax0.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=c, lw=2,
                                        ls="--" if o.ambiguous else "-"))
            ax0.text(x0, y0, o.caption, color="white", fontsize=7, va="bottom",
                     bbox={"facecolor": c, "alpha": 0.7, "pad": 1, "lw": 0})
        if scene.canonical:
            if o.visible_obb is not None:
                vis = o.visible_obb.corners_xy()
                ax1.fill(*vis.T, color=_lighter(c), alpha=0.5, lw=0)
            corners = o.obb.corners_xy()
            ax1.fill(*np.asarray(o.footprint or corners).T, color=c, alpha=0.3, lw=0)
            ax1.plot(*np.vstack([corners, corners[:1]]).T, color=c, lw=1.5)
            for size in (o.size_lo, o.size_hi):
                if size is not None:
                    b = OrientedBox3D(center=o.obb.center, size=size, yaw=o.obb.yaw).corners_xy()
                    ax1.plot(*np.vstack([b, b[:1]]).T, color=c, lw=1, ls="--")
            ax1.text(o.centroid[0], o.centroid[1], o.caption.removeprefix("the "), fontsize=7, ha="center")
        else:  # camera frame: top-down is x (right) vs z (forward)
            if o.visible_aabb is not None:
                va = o.visible_aabb
                ax1.add_patch(plt.Rectangle((va.min[0], va.min[2]), va.size[0], va.size[2], color=_lighter(c),
                                            alpha=0.5, lw=0))
            ax1.add_patch(plt.Rectangle((o.aabb.min[0], o.aabb.min[2]), o.aabb.size[0], o.aabb.size[2],
                                        color=c, alpha=0.3))
            ax1.text(o.centroid[0], o.centroid[2], o.caption.removeprefix("the "), fontsize=7, ha="center")
    # Camera and its horizontal field of view.
    half = math.radians(scene.intrinsics.hfov_deg / 2) if scene.intrinsics else math.radians(30)
    fwd = 1 if scene.canonical else 2
    reach = max([3.0] + [float(np.hypot(o.centroid[0], o.centroid[fwd])) for o in scene.objects])
    for s in (-1, 1):
        ax1.plot([0, s * reach * math.sin(half)], [0, reach * math.cos(half)], "k:", lw=1)
    ax1.plot(0, 0, "k^", ms=10)
    ax1.set_aspect("equal")
    ax1.grid(alpha=0.3)
    ax1.set_xlabel("x (m, right)")
    ax1.set_ylabel("y (m, forward)" if scene.canonical else "z (m, camera forward)")
    ax1.set_title("top-down, canonical frame" if scene.canonical else "top-down, camera frame (no floor found)",
                  fontsize=9)
    if scene.canonical and any(o.size_lo is not None or o.visible_obb is not None for o in scene.objects):
        ax1.legend(handles=[
            Line2D([], [], color="k", lw=1.5, label="estimated footprint"),
            Line2D([], [], color="k", lw=1, ls="--", label="size interval (low, high)"),
            Line2D([], [], color=_lighter((0.0, 0.0, 0.0)), lw=6, label="seen part"),
        ], fontsize=7, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- CLI


def load_intrinsics(path: str | Path, width: int, height: int) -> CameraIntrinsics:
    """Intrinsics JSON: {fx, fy, cx, cy[, width, height]} or {"K": 3x3}, at the top or under "intrinsics" (the
    sim's camera.json); width/height default to the image."""
    p, d = read_json_file(path, "intrinsics file")
    if isinstance(d.get("intrinsics"), dict):
        d = d["intrinsics"]
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
    """Depth in metres from .npy/.npz (metres) or a 16-bit PNG (millimetres unless ``scale`` says otherwise)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"depth file not found: {p}")
    if p.suffix == ".npy":
        d = np.load(p).astype(np.float32)
        s = 1.0 if scale is None else scale
    elif p.suffix == ".npz":  # compressed (sparse LiDAR maps): the array "depth", or the only one
        with np.load(p) as z:
            key = "depth" if "depth" in z.files else (z.files[0] if len(z.files) == 1 else None)
            if key is None:
                raise ValueError(f"{p}: .npz must hold an array 'depth' (found {z.files})")
            d = z[key].astype(np.float32)
        s = 1.0 if scale is None else scale
    elif p.suffix in (".png", ".tif", ".tiff"):
        d = np.asarray(Image.open(p)).astype(np.float32)
        s = 0.001 if scale is None else scale
    else:
        raise ValueError(f"{p}: depth must be .npy/.npz (metres) or a 16-bit .png (millimetres)")
    if d.ndim != 2:
        raise ValueError(f"{p}: depth must be HxW, got shape {d.shape}")
    return d * s


def load_gravity(path: str | Path) -> tuple[float, float, float] | None:
    """World up in camera coordinates from a camera JSON (``gravity_up_in_camera`` or ``gravity_up``), if given."""
    d = json.loads(Path(path).read_text())
    g = d.get("gravity_up_in_camera", d.get("gravity_up")) if isinstance(d, dict) else None
    if g is None:
        return None
    if not isinstance(g, list) or len(g) != 3 or not all(isinstance(v, int | float) for v in g):
        raise ValueError(f"{path}: gravity_up_in_camera must be 3 numbers, got {g!r}")
    return (float(g[0]), float(g[1]), float(g[2]))


def _run(args: argparse.Namespace) -> int:
    img_path = Path(args.image)
    if not img_path.exists():
        raise FileNotFoundError(f"image not found: {img_path}")
    try:
        with Image.open(img_path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except OSError as e:  # PIL's UnidentifiedImageError is an OSError: not an image, or a corrupt one
        raise ValueError(f"{img_path}: not a readable image ({' '.join(str(e).split())})") from e
    h, w = rgb.shape[:2]
    depth = load_depth(args.depth, args.depth_scale) if args.depth else None
    intr = load_intrinsics(args.intrinsics, w, h) if args.intrinsics else None
    gravity = load_gravity(args.intrinsics) if args.intrinsics else None
    frame = Frame(image_id=img_path.stem, rgb=rgb, depth=depth, intrinsics=intr, gravity_up=gravity,
                  source=str(img_path))
    detector: Any = args.detector
    if args.detector_model:
        if args.detector in (AUTO, "boxes") or args.boxes:
            raise ValueError("--detector-model needs --detector NAME (e.g. owlv2, grounding-dino, yolox-onnx)")
        detector = resolve_backend("detector", args.detector, model=args.detector_model)
    cfg = LiftConfig(seed=args.seed)
    scene = reconstruct(frame, detector=detector, segmenter=args.segmenter, depth=args.depth_model,
                        lift_config=cfg, boxes=args.boxes, scale=args.scale)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(scene.model_dump_json(indent=1))
    png = Path(args.png) if args.png else out.with_suffix(".png")
    render_scene_png(frame, scene, png)
    prov = scene.provenance
    print(f"{len(scene.objects)} objects ({len(scene.dropped)} dropped, "
          f"{sum(o.ambiguous for o in scene.objects)} ambiguous), canonical={scene.canonical} -> {out}, {png}")
    print(f"  backends: detector {prov.get('detector')}, segmenter {prov.get('segmenter')}, "
          f"depth {prov.get('depth')}" + (f" (auto: {', '.join(prov['auto'])})" if prov.get("auto") else ""))
    for n in scene.notes:
        print(f"  note: {n}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``spatialvlm reconstruct``."""
    p = subparsers.add_parser("reconstruct", help="one image -> metric 3D scene (JSON) + picture")
    p.add_argument("image", help="RGB image file")
    p.add_argument("--depth", help="metric depth: .npy/.npz in metres or 16-bit .png in millimetres")
    p.add_argument("--depth-scale", type=float, default=None, help="multiply the depth file by this (to metres)")
    p.add_argument("--intrinsics", help='JSON {"fx","fy","cx","cy"} or {"K": 3x3} (optional '
                   '"gravity_up_in_camera": [x, y, z]); default: the photo\'s EXIF or a 60 deg FoV prior')
    p.add_argument("--boxes", default=None, help='labelled boxes JSON instead of a detector: {"boxes": [{"label": '
                   '"night stand", "box": [x0, y0, x1, y1], "score": 1.0, "mask": "m.png"}]} (score, mask optional)')
    p.add_argument("--detector", default=AUTO, help="detector backend (auto: yolox-onnx, or the --boxes)")
    p.add_argument("--detector-model", default=None, help="local weights directory/file for --detector")
    p.add_argument("--segmenter", default=AUTO, help="segmenter backend (auto: region-grow, else box-depth)")
    p.add_argument("--depth-model", default=AUTO,
                   help="depth backend (auto: sensor with --depth, else size-prior, which needs no weights)")
    p.add_argument("--scale", default=None, choices=["size-prior", "size-prior-inverse", "size-prior-check"],
                   help="put a relative --depth-model in metres by class size priors (or check a metric one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="scene JSON to write")
    p.add_argument("--png", default=None, help="picture to write (default: next to --out)")
    p.set_defaults(func=_run)
