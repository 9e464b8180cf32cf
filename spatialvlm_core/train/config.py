"""What a training run is: data, model preset, optimiser, auxiliary losses and warm-ups, checkpoints (JSON)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: str
    out: str
    preset: str = "tiny"  # preset name, or a local dir / hub id of an image-text-to-text checkpoint
    steps: int = Field(default=1000, gt=0)
    batch_size: int = Field(default=32, gt=0)
    grad_accum: int = Field(default=1, gt=0)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_steps: int = Field(default=50, ge=0)
    seed: int = 0
    checkpoint_every: int = Field(default=500, gt=0)
    keep_checkpoints: int = Field(default=2, gt=0)
    log_every: int = Field(default=10, gt=0)
    spatial_fraction: float = Field(default=1.0, gt=0, le=1)  # paper study: share of spatial data
    freeze_vision: bool | None = None  # paper study: frozen vs unfrozen vision tower (None: preset default)
    lm_mode: Literal["full", "frozen", "lora"] | None = None
    init_vision: str | None = None  # checkpoint dir whose vision tower initialises a fresh model (frozen study)
    max_examples: int | None = None
    # Weight of the per-token vision loss on datasets that carry dense targets (<stem>.dense.npz beside the
    # images, see dataset/dense_labels.py); 0 trains on the answers alone.
    dense_weight: float = Field(default=1.0, ge=0)
    # Weight of the relation head's loss (decision and log value against the rows' truth; presets with
    # ``vision.relation_head``); 0 trains it through the answers alone.
    relation_weight: float = Field(default=1.0, ge=0)
    # Epochs of relation-head-only training on the frozen tower's cached output before the VLM steps
    # (warmup_relation.py); needs a frozen tower. A resumed run skips it, like the vision warm-up.
    relation_warmup_epochs: int = Field(default=0, ge=0)
    relation_warmup_lr: float = Field(default=3e-3, gt=0)  # peak (one-cycle): a small MLP on cached inputs
    relation_warmup_weight_decay: float = Field(default=0.1, ge=0)
    # Steps of dense-only tower training on the dataset's images before the VLM steps (warmup_vision.py);
    # needs dense targets. A resumed run skips it (its checkpoint already holds the warmed tower).
    vision_warmup_steps: int = Field(default=0, ge=0)
    qtypes: list[str] | None = None  # train on these question types only (e.g. one relation, for a study)
    eval_data: str | None = None  # held-out dataset scored every ``eval_every`` steps (metrics.jsonl "eval")
    eval_every: int = Field(default=500, gt=0)
    eval_max: int = Field(default=400, gt=0)  # first N held-out rows (a fixed subset: comparable curves)
    # Several processes: "ddp" (each rank holds the whole model; gradients averaged) or "fsdp" (parameters,
    # gradients and optimiser state sharded across ranks: for checkpoints too large for one GPU; HF families).
    parallel: Literal["ddp", "fsdp"] = "ddp"
    device: str = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16/fp16 on GPU, fp32 on CPU
    # Hugging Face checkpoints (train_recipes.HFRecipe): peak learning rate per part ("vision", "projector", "lm";
    # a part not named trains at ``lr``) and activation recomputation in backward (long image-token sequences).
    part_lr: dict[Literal["vision", "projector", "lm"], float] = Field(default_factory=dict)
    gradient_checkpointing: bool = False
    tensorboard: bool = False
    resume: bool = True
    progress: bool = True

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.model_validate_json(text)
