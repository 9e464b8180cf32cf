"""``ComposedVLM``: nanoVLM-style, a small conv+ViT vision tower, an MLP projector and a transformers Llama LM.

The image becomes ``grid**2`` soft tokens placed before the prompt. With word grounding the question's object
names point at the image tokens of their class (composed/grounding.py); with a relation head an MLP decides
yes/no, which of two and a log length from the named objects' geometry, and the LM verbalises that decision
(composed/relation.py). A training step is ``encode`` -> ``loss_parts``; answering is ``generate``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import nn
from torch.nn import functional as F

from spatialvlm_core.model.base import SpatialVLMModel, format_prompt
from spatialvlm_core.model.composed import checkpoint
from spatialvlm_core.model.composed.config import ComposedConfig
from spatialvlm_core.model.composed.decoding import greedy_decode
from spatialvlm_core.model.composed.grounding import NameGrounding
from spatialvlm_core.model.composed.lm import add_lora, build_lm
from spatialvlm_core.model.composed.relation import (
    RelationHead,
    caption_contrast,
    pair_size,
    relation_loss,
    relation_targets,
)
from spatialvlm_core.model.composed.tower import VisionTower


class ComposedVLM(SpatialVLMModel):
    preset: ComposedConfig

    def __init__(self, preset: ComposedConfig, tokenizer: Any) -> None:
        super().__init__()
        preset.validate()
        v = preset.vision
        self.preset = preset
        self.tokenizer = tokenizer
        self.vision = VisionTower(v)
        self.lm = build_lm(preset, tokenizer)
        d = self.lm.config.hidden_size
        self.grounding: NameGrounding | None = None
        if v.word_grounding:
            self.grounding = NameGrounding(preset, tokenizer)
            self.geo_proj = nn.Linear(4, d)
            # At the word-embedding scale (like the rest of the image token), not Linear's default ~30x larger.
            nn.init.normal_(self.geo_proj.weight, std=0.02)
            nn.init.zeros_(self.geo_proj.bias)
        self.relation: RelationHead | None = None
        if v.relation_head > 0:
            self.relation = RelationHead(len(tokenizer), d, v.relation_head, v.relation_copy,
                                         n_pair=pair_size(v.relation_color, v.fine_grid > 0),
                                         word_dropout=v.relation_word_dropout)
        self.projector = nn.Sequential(nn.Linear(self.vision.dim, d), nn.GELU(), nn.Linear(d, d))
        # Weights that come from the pretrained LM file are not stored in our checkpoints.
        self.pretrained_lm_keys: set[str] = set()
        if preset.lm_source != "scratch":
            self.pretrained_lm_keys = {f"lm.{k}" for k in self.lm.state_dict()}
        if preset.lm_mode in ("frozen", "lora"):
            self.lm.requires_grad_(False)
        if preset.lm_mode == "lora":
            self.lm = add_lora(self.lm, preset)
            self.pretrained_lm_keys = {k for k in self.state_dict() if k.startswith("lm.") and "lora_" not in k}
        if preset.freeze_vision:
            self.vision.requires_grad_(False)

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

    def relation_batch(self, qas: list[Any]) -> dict[str, Any]:
        return relation_targets(qas) if self.relation is not None else {}

    def dense_batch(self, targets: list[dict[str, np.ndarray] | None]) -> dict[str, Any]:
        return self.vision.dense_batch(targets, self.device)

    # ------------------------------------------------------------------ embedding
    def embed(self, pixel_values: torch.Tensor, input_ids: torch.Tensor, tokens: torch.Tensor | None = None,
              prompt_mask: torch.Tensor | None = None,
              decide_at: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Image tokens then text embeddings (B, grid**2 + T, d), and with a relation head its output (B, 2, or
        2 + vocab with ``relation_copy``) at ``decide_at`` (B,), each row's last prompt token (default: the last
        column, as left-padded generation has it); else None. ``tokens``: the tower's output when the caller has
        it (a frozen tower's cache). ``prompt_mask`` (B, T): the question tokens that may receive the name pointer
        (training passes the non-answer tokens: generated tokens are fed one by one without it)."""
        tokens, fine = self.vision.split(self.vision(pixel_values) if tokens is None else tokens)
        img = self.projector(tokens)
        embed = self.lm.get_input_embeddings()
        txt = embed(input_ids)
        rel = None
        g = self.grounding
        if g is not None:
            # Bring the visual part to the scale of the LM's word embeddings first: left at the projector's scale
            # (~30x larger), it would drown the name vector and the question's words could not match it.
            emb_rms = embed.weight.detach().pow(2).mean().sqrt()
            img = img * (emb_rms / img.pow(2).mean(-1, keepdim=True).sqrt().clamp(min=1e-6))
            head = self.vision.dense_head(tokens)  # type: ignore[misc]
            probs, words = g.class_probs_and_words(head, embed)
            # Where each token is, explicitly: image x/y and the head's log depth and floor height.
            geo = g.token_geometry(head)
            img = img + self.geo_proj(geo).to(img.dtype)
            match, named = g.names(input_ids, txt, probs, words)
            pointer = g.name_pointer(match, img).to(txt.dtype)
            if prompt_mask is not None:
                pointer = pointer * prompt_mask[..., None].to(pointer.dtype)
            txt = txt + pointer
            if self.relation is not None:
                keep = g.keep_mask(input_ids, prompt_mask)
                pair = g.pair_inputs(match, geo, input_ids, keep, named, pixel_values, fine)
                txt, rel = self._decide(txt, pair, input_ids, keep, named, decide_at)
            img = img + (probs.to(words.dtype) @ words).to(img.dtype)
        return torch.cat([img.to(txt.dtype), txt], dim=1), rel

    def _decide(self, txt: torch.Tensor, pair: torch.Tensor, input_ids: torch.Tensor, keep: torch.Tensor,
                named: torch.Tensor, decide_at: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the relation head over the prompt and add its vector to each row's deciding token."""
        head: RelationHead = self.relation  # type: ignore[assignment]
        out = head(pair, input_ids, keep)
        b, t = input_ids.shape
        at = torch.full((b,), t - 1, device=txt.device, dtype=torch.long) if decide_at is None else decide_at
        rows = torch.arange(b, device=txt.device)
        rel = out[rows, at]  # (B, 2)
        add = torch.zeros_like(txt)
        add[rows, at] = head.lm_vector(rel).to(txt.dtype)
        if self.preset.vision.relation_copy:
            rel = torch.cat([rel, caption_contrast(input_ids, named & keep, len(self.tokenizer)).to(rel.dtype)], -1)
        return txt + add, rel

    def _logits(self, hidden: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        """The LM's logits with the relation head's decision gated in (``RelationHead.gated_logits``)."""
        return self.relation.gated_logits(self.lm.lm_head(hidden), hidden, rel)  # type: ignore[union-attr]

    # ------------------------------------------------------------------ training
    def dense_loss(self, tokens: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        """The tower's per-token loss (class and geometry, and the fine point map's) against ``dense_batch``."""
        return self.vision.dense_loss(tokens, batch)

    def loss_parts(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The answer tokens' loss ("lm"), plus the relation head's ("relation") and the tower's dense one
        ("dense") where the batch carries their targets (``relation_batch`` / ``dense_batch``)."""
        # "vision_tokens": the tower's output, precomputed by a caller whose tower is frozen (the recipe caches it).
        tokens = batch["vision_tokens"] if "vision_tokens" in batch else self.vision(batch["pixel_values"])
        prompt = batch["labels"] == -100
        # The last prompt token: just before the first answer token (training rows are right-padded).
        decide_at = (~prompt).long().argmax(1) - 1
        emb, rel = self.embed(batch["pixel_values"], batch["input_ids"], tokens, prompt_mask=prompt,
                              decide_at=decide_at.clamp(min=0))
        b, n_img = emb.shape[0], emb.shape[1] - batch["input_ids"].shape[1]
        ones = torch.ones((b, n_img), dtype=batch["attention_mask"].dtype, device=emb.device)
        ignore = torch.full((b, n_img), -100, dtype=torch.long, device=emb.device)
        mask, labels = torch.cat([ones, batch["attention_mask"]], 1), torch.cat([ignore, batch["labels"]], 1)
        if rel is None:
            lm_loss = self.lm(inputs_embeds=emb, attention_mask=mask, labels=labels, use_cache=False).loss
        else:
            hidden = self.lm.model(inputs_embeds=emb, attention_mask=mask, use_cache=False).last_hidden_state
            logits = self._logits(hidden[:, n_img:], rel)
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

    def relation_inputs(self, tokens: torch.Tensor, input_ids: torch.Tensor, prompt_mask: torch.Tensor | None = None,
                        pixel_values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The relation head's inputs from the tower's output: pair geometry (B, T, pair width) and the kept
        (prompt, non-padding) tokens (B, T). The relation warm-up calls this on cached towers; colour grounding
        also needs the input ``pixel_values``."""
        g = self.grounding
        if g is None or self.relation is None:
            raise ValueError(f"preset {self.preset.name!r} has no relation head")
        tokens, fine = self.vision.split(tokens)
        head = self.vision.dense_head(tokens)  # type: ignore[misc]
        embed = self.lm.get_input_embeddings()
        probs, words = g.class_probs_and_words(head, embed)
        match, named = g.names(input_ids, embed(input_ids), probs, words)
        keep = g.keep_mask(input_ids, prompt_mask)
        return g.pair_inputs(match, g.token_geometry(head), input_ids, keep, named, pixel_values, fine), keep

    # ------------------------------------------------------------------ answers and head read-outs
    @torch.no_grad()
    def generate(self, images: list[Image.Image], questions: list[str], max_new_tokens: int = 16) -> list[str]:
        if not self._check_pairs(images, questions):
            return []
        ids, mask = self.prompt_batch(questions)  # left padding: every row's next token is at the end
        emb, rel = self.embed(self.pixels(images), ids)
        n_img = emb.shape[1] - ids.shape[1]
        mask = torch.cat([torch.ones((len(questions), n_img), dtype=mask.dtype, device=self.device), mask], 1)
        if rel is None:
            out = greedy_decode(self.lm, emb, mask, self.tokenizer.eos_token_id, max_new_tokens,
                                lambda o: o.logits[:, -1], logits_to_keep=1)
        else:  # the logits come from the hidden states plus the decision-gated term
            out = greedy_decode(self.lm.model, emb, mask, self.tokenizer.eos_token_id, max_new_tokens,
                                lambda o: self._logits(o.last_hidden_state[:, -1:], rel)[:, -1])
        return [self.tokenizer.decode(r, skip_special_tokens=True).strip() for r in out]

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
            logs.append(self.embed(px[sel], ids, tokens=tokens[sel])[1][:, 1].float())  # type: ignore[index]
        return torch.stack(logs).mean(0).exp().tolist()

    @torch.no_grad()
    def point_members(self, images: list[Image.Image], questions: list[str]) -> tuple[torch.Tensor, ...]:
        """For a point-grounding model (``vision.fine_grid``): per question, the membership weights (B, Nf) of the
        first and the last object it names and the predicted points (B, Nf, 3), as the relation head sees them
        (evals/point_ceiling.py compares them with the exact ones)."""
        g = self.grounding
        if self.vision.fine_head is None or g is None:
            raise ValueError(f"preset {self.preset.name!r} has no point map (vision.fine_grid = 0)")
        ids, _ = self.prompt_batch(questions)
        px = self.pixels(images)
        _, fine = self.vision.split(self.vision(px))
        hit = g.exact_names(ids)
        named = (hit.sum(-1) > 0) & (ids != self.tokenizer.pad_token_id)
        return g.point_members(fine, hit, g.named_colors(ids, hit), named, px)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | Path) -> None:
        checkpoint.save(self, path)

    @classmethod
    def load(cls, path: str | Path, preset: ComposedConfig) -> ComposedVLM:
        return checkpoint.load(cls, path, preset)
