"""Is an image like the simulator renders the learned model was trained on? An out-of-distribution score on the
model's own vision features.

The shipped SpatialVLM learned everything it knows from 128x96 MuJoCo renders; on a photo it still writes fluent
sentences with numbers, but they mean nothing. So before it answers, the image's pooled vision-tower features
(the mean and the spread of its grid tokens) are compared with those of held-out simulator renders: the score is
the Mahalanobis distance to their distribution (mean and shrunk covariance), and an image scoring above the
threshold is declined. The threshold comes from the renders alone: their ``PERCENTILE`` th percentile times
``MARGIN``. Photos are never used to set it (``evals/domain.py`` only reports how well it separates them).

``python -m spatialvlm_core.domain calibrate`` renders the calibration scenes (held-out seeds of the simulator,
disjoint from training's) and writes ``domain.npz`` beside the model; ``SpatialVLM.load`` picks it up.
``python -m spatialvlm_core.domain score IMAGE...`` prints each image's score.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialvlm_core.dataset.splits import scene_seeds, split_seed
from spatialvlm_core.model_dir import resolve_model_dir

CALIBRATION_FILE = "domain.npz"
SCENE_SEED = split_seed("held_out")  # the held-out split's (dataset.splits): no training scene among them
CALIBRATION_SCENES = 600  # scenes i = 0 .. 599 of that seed
# Plus held-out manipulation frames (sim/manipulation.py, split SCENE_SEED: a gripper over a tabletop), so the
# robot-reward frames a model trained with them answers are in its domain (5 frames per trajectory).
CALIBRATION_MANIPULATION = 120
EVAL_FIRST = 100_000  # evals/domain.py scores scenes from here on: disjoint from the calibration's
PERCENTILE = 99.5
MARGIN = 1.5
SHRINKAGE = 0.1  # covariance shrunk toward its mean variance: 600 renders for 256 feature dimensions
RENDER_SIZE = (128, 96)  # what the model was trained on (dataset/sim_splits.py)


def render_sim(first: int, n: int, size: tuple[int, int] = RENDER_SIZE, seed: int = SCENE_SEED) -> list[np.ndarray]:
    """RGB renders of scenes ``first .. first + n - 1`` of the simulator's ``seed`` split, rooms cycled as in the
    training data (``dataset/sim_splits.py``); seeds the simulator rejects are skipped."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    from spatialvlm_core.sim import ROOMS, SimConfig, generate_scene  # mujoco, after MUJOCO_GL is set

    rooms = sorted(ROOMS)
    out = []
    seeds = scene_seeds(seed, first + n)
    for i in range(first, first + n):
        try:
            sim = generate_scene(seeds[i], SimConfig(width=size[0], height=size[1],
                                                                 room=rooms[i % len(rooms)]))
        except ValueError:
            continue
        out.append(np.asarray(sim.rgb))
    return out


def render_manipulation(n: int, size: tuple[int, int] = RENDER_SIZE, split: int = SCENE_SEED) -> list[np.ndarray]:
    """RGB of ``n`` held-out manipulation frames (trajectories 0, 1, ... of ``split``, all their frames)."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    from spatialvlm_core.sim.manipulation import manipulation_frames  # mujoco, after MUJOCO_GL is set

    out: list[np.ndarray] = []
    index = 0
    while len(out) < n:
        out += [np.asarray(f.rgb) for f in manipulation_frames(split, index, size)]
        index += 1
    return out[:n]


def features(model: Any, images: Sequence[Any], batch_size: int = 64) -> np.ndarray:
    """(N, 2 * dim) pooled vision-tower features: the mean and the standard deviation of each image's grid tokens."""
    import torch  # heavy: only when a model is scored

    from spatialvlm_core.model.base import to_pil  # torch (model/ loads it)

    if not hasattr(model, "vision") or not hasattr(model, "pixels"):
        raise ValueError(f"model {type(model).__name__} has no vision tower to score the image domain with")
    out = []
    with torch.no_grad():
        for s in range(0, len(images), batch_size):
            px = model.pixels([to_pil(im) for im in images[s:s + batch_size]])
            tokens, _ = model.vision.split(model.vision(px))
            tokens = tokens.float()
            out.append(torch.cat([tokens.mean(1), tokens.std(1)], -1).cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))


class DomainCheck:
    """Mahalanobis distance of pooled tower features to the simulator renders' distribution, and its threshold."""

    def __init__(self, mean: np.ndarray, whiten: np.ndarray, threshold: float, meta: dict[str, Any]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.whiten = np.asarray(whiten, dtype=np.float64)  # W with W.T @ W = inverse (shrunk) covariance
        self.threshold = float(threshold)
        self.meta = meta
        if self.whiten.shape != (self.mean.size, self.mean.size):
            raise ValueError(f"domain calibration: whitening matrix {self.whiten.shape} does not fit a mean of "
                             f"{self.mean.size} features")

    def distances(self, feats: np.ndarray) -> np.ndarray:
        if feats.ndim != 2 or feats.shape[1] != self.mean.size:
            raise ValueError(f"domain features have shape {feats.shape}; the calibration expects (N, {self.mean.size})")
        return np.linalg.norm((feats - self.mean) @ self.whiten.T, axis=1)

    def scores(self, model: Any, images: Sequence[Any]) -> np.ndarray:
        """The domain score of each image (higher: less like the renders)."""
        return self.distances(features(model, images))

    def reason(self, score: float) -> str | None:
        """Why an image with ``score`` is declined, or None when it is in the simulator's domain."""
        if score <= self.threshold:
            return None
        return (f"this image looks unlike the simulator renders the model was trained on (domain score {score:.1f} > "
                f"threshold {self.threshold:.1f}); use the geometric pipeline (spatial-agent ask, which reconstructs "
                "the photo in 3D)")

    @classmethod
    def fit(cls, feats: np.ndarray, meta: dict[str, Any] | None = None, percentile: float = PERCENTILE,
            margin: float = MARGIN, shrinkage: float = SHRINKAGE) -> DomainCheck:
        if feats.ndim != 2 or len(feats) < 10:
            raise ValueError(f"domain calibration needs at least 10 feature rows, got {feats.shape}")
        mean = feats.mean(0)
        cov = np.cov(feats, rowvar=False)
        d = cov.shape[0]
        cov = (1 - shrinkage) * cov + shrinkage * (np.trace(cov) / d) * np.eye(d)
        # inverse covariance = L^-T L^-1 with cov = L L^T, so W = L^-1 whitens.
        whiten = np.linalg.inv(np.linalg.cholesky(cov))
        check = cls(mean, whiten, 0.0, {})
        dist = check.distances(feats)
        pct = float(np.percentile(dist, percentile))
        check.threshold = pct * margin
        check.meta = {**(meta or {}), "n": len(feats), "percentile": percentile, "margin": margin,
                      "shrinkage": shrinkage, "percentile_score": pct, "max_score": float(dist.max()),
                      "median_score": float(np.median(dist))}
        return check

    def save(self, model_dir: str | Path) -> Path:
        path = Path(model_dir) / CALIBRATION_FILE
        np.savez_compressed(path, mean=self.mean.astype(np.float32), whiten=self.whiten.astype(np.float32),
                            threshold=np.float64(self.threshold), meta=json.dumps(self.meta))
        return path

    @classmethod
    def load(cls, model_dir: str | Path) -> DomainCheck | None:
        """The calibration beside a checkpoint, or None when it has none."""
        path = Path(model_dir) / CALIBRATION_FILE
        if not path.is_file():
            return None
        try:
            with np.load(path) as z:
                return cls(z["mean"], z["whiten"], float(z["threshold"]), json.loads(str(z["meta"])))
        except (KeyError, ValueError, OSError) as e:
            raise ValueError(f"{path}: not a domain calibration ({e}); re-run "
                             "`python -m spatialvlm_core.domain calibrate`") from e


def calibrate(model_dir: str | Path, scenes: int = CALIBRATION_SCENES, progress: bool = True,
              manipulation: int = CALIBRATION_MANIPULATION) -> DomainCheck:
    """Render the calibration scenes (and ``manipulation`` manipulation frames), fit the check on the model's
    features and save it beside the model."""
    from spatialvlm_core.model import create_model  # torch (model/ loads it)

    model_dir = resolve_model_dir(model_dir)
    t0 = time.perf_counter()
    images = render_sim(0, scenes)
    n_scenes = len(images)
    if manipulation:
        images += render_manipulation(manipulation)
    if progress:
        print(f"rendered {n_scenes} calibration scenes and {len(images) - n_scenes} manipulation frames in "
              f"{time.perf_counter() - t0:.0f} s")
    model = create_model(str(model_dir)).eval()
    check = DomainCheck.fit(features(model, images), meta={
        "scenes": f"sim seed {SCENE_SEED}: scene seeds {SCENE_SEED} * 1_000_003 + [0, {scenes})",
        "manipulation": f"{len(images) - n_scenes} frames of sim/manipulation.py split {SCENE_SEED}",
        "size": list(RENDER_SIZE), "features": "vision tower grid tokens: mean and std",
        "command": f"python -m spatialvlm_core.domain calibrate --scenes {scenes} --manipulation {manipulation}",
    })
    path = check.save(model_dir)
    if progress:
        print(f"wrote {path}: threshold {check.threshold:.2f} ({PERCENTILE} th percentile "
              f"{check.meta['percentile_score']:.2f} x {MARGIN}; median {check.meta['median_score']:.2f})")
    return check


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m spatialvlm_core.domain", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("calibrate", help="fit the domain check on held-out simulator renders; save it beside the model")
    c.add_argument("--model", default=None, help="checkpoint directory (default: the shipped model)")
    c.add_argument("--scenes", type=int, default=CALIBRATION_SCENES)
    c.add_argument("--manipulation", type=int, default=CALIBRATION_MANIPULATION,
                   help="held-out manipulation frames (a gripper over a tabletop) added to the calibration (0: none)")
    s = sub.add_parser("score", help="print each image's domain score and whether the model would decline it")
    s.add_argument("images", nargs="+")
    s.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    if args.cmd == "calibrate":
        if args.scenes < 10:
            raise SystemExit("--scenes must be at least 10")
        if args.manipulation < 0:
            raise SystemExit("--manipulation must be >= 0")
        calibrate(args.model or "default", args.scenes, manipulation=args.manipulation)
        return 0
    from spatialvlm_core.model import create_model  # torch (model/ loads it)

    model_dir = resolve_model_dir(args.model)
    check = DomainCheck.load(model_dir)
    if check is None:
        raise SystemExit(f"{model_dir} has no {CALIBRATION_FILE}; run `python -m spatialvlm_core.domain calibrate`")
    model = create_model(str(model_dir)).eval()
    for path, score in zip(args.images, check.scores(model, args.images), strict=True):
        print(f"{score:8.2f}  {'declined' if check.reason(score) else 'in domain'}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
