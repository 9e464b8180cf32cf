"""Zero-shot scene filter: keep photos of indoor scenes, drop product shots, screenshots, documents...

Each image is scored against positive and negative prompts with CLIP; a softmax over all prompts
(at CLIP's logit scale) gives the probability mass on the positive prompts, and the image is kept when
that mass reaches ``threshold``. Every decision says why (the best-matching prompt and the mass).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.perception.base import ClipModel

DEFAULT_POSITIVE_PROMPTS: tuple[str, ...] = (
    "a photo of an indoor scene",
    "a photo of a room with furniture",
    "a photo of a living room",
    "a photo of a kitchen",
    "a photo of a bedroom",
    "a photo of an office",
    "a photo of a dining room",
)
DEFAULT_NEGATIVE_PROMPTS: tuple[str, ...] = (
    "a product photo on a white background",
    "a screenshot of a computer screen",
    "a scanned document with text",
    "a meme with text",
    "a close-up photo of a single object",
    "a photo of an outdoor landscape",
    "a drawing or illustration",
    "a photo of a person's face",
)


class FilterDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: bool
    score: float  # probability mass on the positive prompts
    best_prompt: str
    reason: str
    image_id: str | None = None


class FilterReport(BaseModel):
    """Decisions for a batch, and why each dropped image was dropped."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[FilterDecision] = Field(default_factory=list)

    @property
    def kept(self) -> list[FilterDecision]:
        return [d for d in self.decisions if d.keep]

    @property
    def dropped(self) -> list[FilterDecision]:
        return [d for d in self.decisions if not d.keep]

    def summary(self) -> str:
        lines = [f"scene filter: kept {len(self.kept)} / {len(self.decisions)}"]
        for prompt, n in Counter(d.best_prompt for d in self.dropped).most_common():
            lines.append(f"  dropped {n}: looks like {prompt!r}")
        for d in self.dropped:
            lines.append(f"  - {d.image_id or '?'}: {d.reason}")
        return "\n".join(lines)


def decide(
    similarities: np.ndarray,
    positive_prompts: list[str],
    negative_prompts: list[str],
    threshold: float = 0.5,
    logit_scale: float = 100.0,
    image_id: str | None = None,
) -> FilterDecision:
    """Keep/drop rule on cosine similarities ``[len(positive) + len(negative)]`` (positives first)."""
    sims = np.asarray(similarities, dtype=np.float64).ravel()
    prompts = [*positive_prompts, *negative_prompts]
    if sims.shape[0] != len(prompts):
        raise ValueError(f"got {sims.shape[0]} similarities for {len(prompts)} prompts")
    if not np.all(np.isfinite(sims)):
        raise ValueError("similarities must be finite")
    logits = logit_scale * sims
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    score = float(probs[: len(positive_prompts)].sum())
    best = int(np.argmax(probs))
    keep = score >= threshold
    if keep:
        reason = f"kept: p(positive)={score:.2f} >= {threshold:.2f}; best match {prompts[best]!r}"
    else:
        reason = (f"dropped: p(positive)={score:.2f} < {threshold:.2f}; looks like {prompts[best]!r} "
                  f"(p={probs[best]:.2f})")
    return FilterDecision(keep=keep, score=score, best_prompt=prompts[best], reason=reason, image_id=image_id)


class SceneFilter:
    def __init__(
        self,
        clip: ClipModel,
        positive_prompts: list[str] | None = None,
        negative_prompts: list[str] | None = None,
        threshold: float = 0.5,
        logit_scale: float | None = None,
    ) -> None:
        self.clip = clip
        self.positive_prompts = list(positive_prompts or DEFAULT_POSITIVE_PROMPTS)
        self.negative_prompts = list(negative_prompts or DEFAULT_NEGATIVE_PROMPTS)
        if not self.positive_prompts or not self.negative_prompts:
            raise ValueError("positive_prompts and negative_prompts must both be non-empty")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.threshold = threshold
        self.logit_scale = float(logit_scale if logit_scale is not None else getattr(clip, "logit_scale", 100.0))
        self._text = clip.embed_texts([*self.positive_prompts, *self.negative_prompts])

    def similarities(self, images: list[Any]) -> np.ndarray:
        return np.asarray(self.clip.embed_images(images)) @ self._text.T

    def check(self, image: Any, image_id: str | None = None) -> FilterDecision:
        return self.check_many([image], [image_id]).decisions[0]

    def check_many(self, images: list[Any], image_ids: list[str | None] | None = None) -> FilterReport:
        if image_ids is not None and len(image_ids) != len(images):
            raise ValueError(f"got {len(image_ids)} image_ids for {len(images)} images")
        ids = image_ids or [None] * len(images)
        sims = self.similarities(images)
        return FilterReport(decisions=[
            decide(s, self.positive_prompts, self.negative_prompts, self.threshold, self.logit_scale, i)
            for s, i in zip(sims, ids, strict=True)
        ])
