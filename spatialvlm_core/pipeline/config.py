"""What a synthesis run writes (``PipelineConfig``), how it runs (``RunOptions``) and the stages it runs.

``PipelineConfig`` names the backends (it round-trips through JSON and goes into the manifest), and a
``StagesFactory`` turns it into callables, once per worker process or Ray actor. The default factory wires
``perception``, ``reconstruct`` and ``questions``; tests pass small fakes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.types import Frame, QAPair, Scene3D


class PipelineConfig(BaseModel):
    """Everything that decides the dataset's content (runner and worker count do not)."""

    model_config = ConfigDict(extra="forbid")

    detector: str = "ground-truth"
    segmenter: str = "box-depth"
    depth: str = "sensor"
    clip: str = "transformers"
    filter: bool = False  # CLIP scene filter (off by default: synthetic scenes are all indoor)
    filter_threshold: float = Field(default=0.5, ge=0, le=1)
    clip_naming: bool = False  # CLIP disambiguation of object captions (needs a CLIP backend)
    # Constructor kwargs per backend kind, e.g. {"clip": {"model": "/models/clip"}, "detector": {...}}.
    backend_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    seed: int = 0
    qa_per_image: int | None = None  # None: the question generator's default
    limit: int | None = Field(default=None, ge=1)
    shard_size: int = Field(default=32, ge=1)
    images: Literal["copy", "reference"] = "copy"
    require_depth: bool | None = None  # None: required exactly when depth == "sensor"
    qa_config: dict[str, Any] = Field(default_factory=dict)  # passed to questions.QAConfig
    reconstruct_options: dict[str, Any] = Field(default_factory=dict)  # extra kwargs for reconstruct()

    @property
    def depth_required(self) -> bool:
        return self.depth == "sensor" if self.require_depth is None else self.require_depth

    def backends(self) -> dict[str, str]:
        b = {"detector": self.detector, "segmenter": self.segmenter, "depth": self.depth}
        if self.filter or self.clip_naming:
            b["clip"] = self.clip
        return b

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class RunOptions(BaseModel):
    """How to run; never changes what is written."""

    model_config = ConfigDict(extra="forbid")

    runner: Literal["local", "ray"] = "local"
    workers: int = Field(default=1, ge=1)
    progress: bool = True
    start_method: Literal["spawn", "forkserver", "fork"] = "spawn"  # spawn: safe with torch/OpenMP threads


class FilterDecisionLike(Protocol):
    keep: bool
    score: float
    reason: str


@dataclass
class Stages:
    """The callables one worker runs per image."""

    reconstruct: Callable[[Frame], Scene3D]
    ask: Callable[[Scene3D, int], list[QAPair]]  # (scene, per-image seed) -> QA pairs
    filter: Callable[[Frame], FilterDecisionLike] | None = None


StagesFactory = Callable[[PipelineConfig], Stages]


def _backend(kind: str, name: str, options: dict[str, Any] | None = None) -> Any:
    """Build a named backend once per worker, so models load once, not once per image.

    Unknown names fail here, before any image, with a ValueError naming the backend (a typo must not
    turn into a dataset whose every image was dropped).
    """
    from spatialvlm_core import reconstruct as rec  # in the worker, after its parent-death signal

    # reconstruct's resolver: perception registry first, then its cheap built-ins (ground truth, sensor).
    return rec.resolve_backend(kind, name, **(options or {}))


def _clip(config: PipelineConfig) -> Any:
    from spatialvlm_core import perception  # in the worker: every backend module loads with it

    return perception.create_clip(config.clip, **config.backend_options.get("clip", {}))


def default_stages(config: PipelineConfig) -> Stages:
    """Real backends by name; heavy imports happen here, inside the worker, not at module import."""
    from spatialvlm_core.questions import QAConfig, generate_qa  # in the worker (see above)
    from spatialvlm_core.reconstruct import reconstruct  # in the worker (see above)

    detector = _backend("detector", config.detector, config.backend_options.get("detector"))
    segmenter = _backend("segmenter", config.segmenter, config.backend_options.get("segmenter"))
    depth = _backend("depth", config.depth, config.backend_options.get("depth"))
    qa_config = QAConfig(**config.qa_config)
    clip = _clip(config) if config.clip_naming else None

    def _reconstruct(frame: Frame) -> Scene3D:
        return reconstruct(frame, detector=detector, segmenter=segmenter, depth=depth, clip=clip,
                           **config.reconstruct_options)  # fmt: skip

    def _ask(scene: Scene3D, seed: int) -> list[QAPair]:
        return generate_qa(scene, n=config.qa_per_image, seed=seed, config=qa_config)

    scene_filter = None
    if config.filter:
        from spatialvlm_core.perception.scene_filter import SceneFilter  # CLIP: only when filtering

        sf = SceneFilter(clip or _clip(config), threshold=config.filter_threshold)
        scene_filter = lambda frame: sf.check(frame.rgb, frame.image_id)  # noqa: E731

    return Stages(reconstruct=_reconstruct, ask=_ask, filter=scene_filter)


def image_seed(seed: int, image_id: str) -> int:
    """Per-image seed from the global seed and the image id: independent of order and worker count."""
    h = hashlib.sha256(f"{seed}\x00{image_id}".encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF  # 31 bits: valid for every RNG we feed
