"""A toy spatial QA dataset with exact answers: coloured boxes on a floor, rendered with numpy.

For tests, benchmarks and the default model when the full pipeline is not available. Same format as the
pipeline's output: ``ROOT/images/*.png`` and ``ROOT/data/*.parquet`` rows of QAPair fields + ``image``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from spatialvlm_core.dataset.shards import qa_to_row, write_rows
from spatialvlm_core.types import QAPair

COLOURS = {"red": (210, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 210), "yellow": (230, 210, 40)}
BOX_SIZE = 0.5  # metres, every box is a 0.5 m cube
CAM_HEIGHT = 1.0


def _render(objs: list[tuple[str, float, float]], size: int, f: float) -> np.ndarray:
    """Pinhole render, camera 1 m above the floor looking horizontally; painter's order far to near."""
    img = np.empty((size, size, 3), np.uint8)
    c = size / 2
    rows = np.arange(size)[:, None]
    img[:] = np.where(rows < c, 200, 0)[..., None] + np.where(rows >= c, 1, 0)[..., None] * np.array([120, 100, 80])
    img[: int(c)] = (190, 195, 200)
    for name, x, z in sorted(objs, key=lambda o: -o[2]):
        u0, u1 = c + f * (x - BOX_SIZE / 2) / z, c + f * (x + BOX_SIZE / 2) / z
        v0, v1 = c + f * (CAM_HEIGHT - BOX_SIZE) / z, c + f * CAM_HEIGHT / z
        i0, i1 = max(0, math.floor(v0)), min(size, math.ceil(v1))
        j0, j1 = max(0, math.floor(u0)), min(size, math.ceil(u1))
        img[i0:i1, j0:j1] = COLOURS[name]
    return img


def make_scene_qa(seed: int, size: int = 64, hfov_deg: float = 60.0) -> tuple[np.ndarray, list[QAPair]]:
    rng = np.random.default_rng(seed)
    f = (size / 2) / math.tan(math.radians(hfov_deg) / 2)
    names = list(rng.choice(list(COLOURS), size=int(rng.integers(1, 3)) + 1, replace=False))
    objs = []
    for n in names:
        z = float(rng.uniform(1.5, 6.0))
        x = float(rng.uniform(-0.4, 0.4) * z)  # keep it in view
        objs.append((n, x, z))
    image_id = f"toy-{seed:06d}"
    qas: list[QAPair] = []

    def add(qtype: str, kind: str, q: str, a: str, **kw: object) -> None:
        cat = "quantitative" if kind == "quantitative" else "qualitative"
        qas.append(QAPair(id=f"{image_id}-{len(qas)}", image_id=image_id, qtype=qtype, category=cat, kind=kind,
                          question=q, answer=a, provenance={"generator": "toydata", "seed": seed}, **kw))

    for n, x, z in objs:
        d = math.hypot(x, z)
        add("distance_to_camera", "quantitative", f"How far is the {n} box from the camera?",
            f"{d:.1f} meters", value=round(d, 1), unit="m", truth=d, object_ids=[n])
    for i in range(len(objs)):
        for j in range(i + 1, len(objs)):
            (a, xa, za), (b, xb, zb) = objs[i], objs[j]
            d = math.hypot(xa - xb, za - zb)
            add("distance", "quantitative", f"How far apart are the {a} box and the {b} box?",
                f"{d:.1f} meters", value=round(d, 1), unit="m", truth=d, object_ids=[a, b])
            closer = za < zb
            add("closer_predicate", "predicate", f"Is the {a} box closer to the camera than the {b} box?",
                "Yes" if closer else "No", truth_bool=closer, object_ids=[a, b])
    return _render(objs, size, f), qas


def write_toy_dataset(root: str | Path, n_images: int = 200, seed: int = 0, size: int = 64) -> Path:
    """Write ``n_images`` scenes (PNG) and their QA rows (one shard, through the datasets' one writer)."""
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n_images):
        img, qas = make_scene_qa(seed * 1_000_003 + k, size)
        rel = f"images/{qas[0].image_id}.png"
        Image.fromarray(img).save(root / rel)
        rows += [qa_to_row(qa, rel, qa.image_id) for qa in qas]
    write_rows(root, 0, 1, rows)
    return root
