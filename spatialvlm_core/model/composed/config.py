"""The composed family's config: a vision tower trained from scratch, a Llama LM (from scratch or SmolLM2) and
the grounding that ties question words to image tokens. Its own validation (``ComposedConfig.validate``) and the
dense head's class vocabulary (``class_names``), saved with every checkpoint: the model reads its classes from
here, never from the simulator's catalogue.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from spatialvlm_core.model.config import ModelConfig
from spatialvlm_core.model.dense_classes import class_names as legacy_class_names

LMSource = Literal["scratch", "smollm2"]
# Flags removed from the family; a legacy checkpoint may still name them, switched off (see _from_legacy).
RETIRED_VISION_FLAGS = ("anchor_geometry", "question_gate")


@dataclass
class VisionConfig:
    """Small vision tower trained from scratch: a CNN (with x/y coordinate input channels) down to a token
    grid, factorised 2D positional embeddings, then optional ViT layers over the grid tokens."""

    image_size: int = 96
    channels: tuple[int, ...] = (32, 64, 128)  # each conv stage halves the resolution
    num_layers: int = 1  # transformer layers over the grid tokens (0: pure CNN)
    num_heads: int = 4
    grid: int = 8  # tokens per side (the CNN output is average-pooled to grid x grid)
    # >0: a per-token head predicting this many classes (ComposedConfig.class_names) plus log depth and floor
    # height, trained on dense sim labels when the dataset has them; unused at inference.
    dense_classes: int = 0
    # With a dense head: each image token also carries the LM's own embedding of the object name the head sees
    # there (probability-weighted), so "the armchair" in the question and the armchair's tokens share a vector;
    # the visual part is then scaled to the word embeddings' size so the name is not drowned.
    word_grounding: bool = False
    # With word grounding: how question words find their object class. "embedding": a word whose LM embedding is
    # close to a class name's (cosine > 0.5). "exact": the class name's own token sequence, at its last token, the
    # longest name winning ("side table" is not also a "table"); a name counts as named even where the head sees
    # little of it. With the 512-token scratch tokenizer, "embedding" misses split or shared-word names (side
    # table, floor lamp, ...), whose pieces are not close to the whole name's mean embedding.
    name_match: Literal["embedding", "exact"] = "embedding"
    # With word grounding: a relation head (composed/relation.py), an MLP over the named objects' pooled geometry
    # and the question's words, trained on the rows' truth beside the answer loss; it decides yes/no, which of two
    # and the log of a metric value, and its output joins the prompt's last token. Hidden units (0: off).
    relation_head: int = 0
    # With a relation head: a which-of-two answer copies one of the two captions. The decision also signs a
    # +first / -second caption-token contrast, added to the logits where a learned gate on the LM's hidden state
    # says a caption is due (the LM alone verbalised the head's choices 14 points worse than its yes/no).
    relation_copy: bool = False
    # With a relation head and exact name matching: colour-aware grounding (composed/color.py). A colour word
    # before a name ("the blue armchair") weights the class's tokens by that colour's share and adds the
    # pixel-resolution count, centroid and spread of its pixels, so two objects of one class come apart.
    relation_color: bool = False
    # With a relation head: training-only dropout of the question's words in the head's bag (regularises it).
    relation_word_dropout: float = 0.0
    # >0: point grounding (composed/points.py), with colour grounding. A second dense head predicts per cell of a
    # fine_grid x fine_grid split the class and the 3D point seen there (the size of one CNN stage's output), and
    # the relation head also reads the two named objects' closest points, centroids and extents in metres.
    fine_grid: int = 0

    def stage_sizes(self) -> list[int]:
        """Output side of each CNN stage."""
        return [self.image_size >> (i + 1) for i in range(len(self.channels))]


@dataclass
class TextConfig:
    """Small Llama language model (used when ``lm_source == "scratch"``)."""

    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 256


@ModelConfig.register("composed")
@dataclass
class ComposedConfig(ModelConfig):
    """nanoVLM-style: vision tower -> projector -> Llama LM, plus grounding (``VisionConfig``).

    ``answer_sep`` joins prompt and answer in training. The scratch tokenizer has no " Yes"/" No" tokens, so
    " " makes the answer open with a lone space token and the yes/no is decided one position after the prompt's
    last token, where the name pointer is not; "" decides it at the prompt's last token (the relation presets).
    """

    lm_source: LMSource = "scratch"
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    # The dense head's classes, index by index (background first): vision.dense_classes names, saved with the
    # checkpoint. Whoever builds a new model supplies them (get_preset: model/dense_classes.py).
    class_names: tuple[str, ...] = ()

    def validate(self) -> None:
        super().validate()
        if self.lm_source not in ("scratch", "smollm2"):
            raise ValueError(f"unknown lm_source {self.lm_source!r}")
        v = self.vision
        if v.image_size < 8:
            raise ValueError(f"vision.image_size must be >= 8, got {v.image_size}")
        if v.word_grounding and v.dense_classes <= 0:
            raise ValueError("vision.word_grounding needs a dense head (vision.dense_classes > 0)")
        if v.fine_grid:
            sizes = v.stage_sizes()
            if v.dense_classes <= 0 or v.fine_grid not in sizes or v.fine_grid % v.grid:
                raise ValueError(f"vision.fine_grid={v.fine_grid} needs dense_classes > 0, a CNN stage of that size "
                                 f"(stages: {sizes}) and a multiple of grid={v.grid}")
        if v.name_match not in ("embedding", "exact"):
            raise ValueError(f"vision.name_match must be 'embedding' or 'exact', got {v.name_match!r}")
        if len(self.class_names) != max(v.dense_classes, 0):
            raise ValueError(f"class_names has {len(self.class_names)} names, vision.dense_classes is "
                             f"{v.dense_classes}: a dense head needs one name per class (background first)")
        if v.relation_head > 0:
            if not v.word_grounding:
                raise ValueError("vision.relation_head needs vision.word_grounding")
            if v.relation_color and v.name_match != "exact":
                raise ValueError("vision.relation_color needs vision.name_match='exact'")
            if v.relation_color and v.image_size % v.grid:
                raise ValueError(f"vision.relation_color: image_size {v.image_size} is not a multiple of "
                                 f"grid {v.grid}")
            if v.fine_grid and not v.relation_color:
                raise ValueError("vision.fine_grid needs vision.relation_color (points are grounded by colour too)")
        elif v.relation_color:
            raise ValueError("vision.relation_color needs vision.relation_head")
        elif v.fine_grid:
            raise ValueError("vision.fine_grid needs vision.relation_head")

    @classmethod
    def _from_fields(cls, d: dict[str, Any]) -> ComposedConfig:
        d = dict(d)
        v = dict(d.pop("vision", None) or {})
        if "channels" in v:
            v["channels"] = tuple(v["channels"])  # JSON turns tuples into lists
        if "class_names" in d:
            d["class_names"] = tuple(d["class_names"])
        try:
            return cls(vision=VisionConfig(**v), text=TextConfig(**(d.pop("text", None) or {})), **d)
        except TypeError as e:
            raise ValueError(f"composed config fields are invalid: {e}") from e

    @classmethod
    def _from_legacy(cls, d: dict[str, Any]) -> dict[str, Any]:
        """A flat preset dict from before the registry: drop ``hf_path`` (always null here) and the retired flags
        (an error when one is on: no code runs it any more); without ``class_names`` (every such checkpoint,
        the shipped one before its migration) the documented fallback is the first ``dense_classes`` names of
        ``model/dense_classes.py``, the append-only list such checkpoints were trained with."""
        d = dict(d)
        if d.pop("hf_path", None) is not None:
            raise ValueError(f"composed preset {d.get('name')!r} names an hf_path")
        v = dict(d.get("vision") or {})
        on = [f for f in RETIRED_VISION_FLAGS if v.pop(f, False)]
        if on:
            raise ValueError(f"preset {d.get('name')!r} uses vision.{on[0]}, which was retired (no shipped preset "
                             f"used it); this checkpoint cannot be loaded")
        d["vision"] = v
        k = int(v.get("dense_classes", 0))
        if "class_names" not in d and k > 0:
            d["class_names"] = legacy_class_names(k)
        return d

    def architecture(self) -> dict[str, Any]:
        arch = super().architecture()
        arch |= {"lm_source": self.lm_source, "vision": dataclasses.asdict(self.vision),
                 "class_names": list(self.class_names)}
        if self.lm_source == "scratch":
            arch["text"] = dataclasses.asdict(self.text)
        return arch
