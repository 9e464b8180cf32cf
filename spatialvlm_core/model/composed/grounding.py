"""Grounding: which question tokens name which object class, where that class is in the image, and what the
relation head reads of the named objects.

Names are found either by word embedding (``name_match="embedding"``) or by the class name's exact token
sequence; a colour word before a name narrows it to that colour's pixels (composed/color.py); with a point map
(composed/points.py) the named objects' fine cells give metric points. Nothing here has weights: the class
vocabulary comes from the config (``ComposedConfig.class_names``), the token ids from the tokenizer, and the
buffers are rebuilt from both (not saved).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from spatialvlm_core.model.composed.color import (
    color_lut,
    color_names,
    color_object_features,
    named_colors,
    pixel_moments,
    sequence_ends,
)
from spatialvlm_core.model.composed.config import ComposedConfig
from spatialvlm_core.model.composed.features import object_features, pair_features
from spatialvlm_core.model.composed.points import named_member, point_pair_features


class NameGrounding(nn.Module):
    """Question words -> object classes -> image tokens, for a config with word grounding."""

    def __init__(self, cfg: ComposedConfig, tokenizer: Any) -> None:
        super().__init__()
        v = cfg.vision
        self.exact = v.name_match == "exact"
        self.color = v.relation_color
        self.grid, self.classes, self.fine_grid = v.grid, v.dense_classes, v.fine_grid
        self.pad_id = tokenizer.pad_token_id
        # Token ids of each dense class name (row 0, background, has none): padded ids + mask buffers.
        ids = [[] if i == 0 else tokenizer(" " + name, add_special_tokens=False).input_ids
               for i, name in enumerate(cfg.class_names)]
        n = max(len(x) for x in ids)
        pad = torch.zeros((self.classes, n), dtype=torch.long)
        mask = torch.zeros((self.classes, n))
        for i, x in enumerate(ids):
            pad[i, : len(x)] = torch.tensor(x, dtype=torch.long)
            mask[i, : len(x)] = 1.0
        self.register_buffer("class_word_ids", pad, persistent=False)
        self.register_buffer("class_word_mask", mask, persistent=False)
        # Each object class name as it appears inside a question (after a space), and which names' ids lie inside
        # another's (such a hit is dropped where the longer name matches around it): (inner class, outer class,
        # tokens from the inner name's end to the outer name's end).
        self.class_seqs = [tokenizer(" " + c, add_special_tokens=False).input_ids for c in cfg.class_names[1:]]
        seqs = self.class_seqs
        self.nested = [(a, b, len(sb) - off - len(sa)) for a, sa in enumerate(seqs) for b, sb in enumerate(seqs)
                       if a != b and len(sa) < len(sb)
                       for off in range(len(sb) - len(sa) + 1) if sb[off:off + len(sa)] == sa]
        self.color_seqs: list[list[int]] = []
        if self.color:  # colour words' token ids, class names' lengths and naming's pixel colour table
            self.color_seqs = [tokenizer(" " + c, add_special_tokens=False).input_ids for c in color_names()]
            self.register_buffer("name_lens", torch.tensor([len(s) for s in self.class_seqs]), persistent=False)
            self.register_buffer("color_lut", color_lut(), persistent=False)

    # ------------------------------------------------------------------ classes and where they are
    def class_probs_and_words(self, head: torch.Tensor, embed: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """From the dense head's output: (per image token class probabilities (B, N, k), mean LM embedding
        (``embed``: the LM's input embeddings) of each class name (k, d))."""
        probs = head[..., :self.classes].softmax(-1)
        emb = embed(self.class_word_ids)  # (k, n, d)
        m = self.class_word_mask[..., None].to(emb.dtype)
        return probs, (emb * m).sum(1) / m.sum(1).clamp(min=1.0)  # background row: zeros

    def token_geometry(self, head: torch.Tensor) -> torch.Tensor:
        """(B, N, 4): each image token's column and row in [-1, 1], predicted log depth and height (m)."""
        g, k = self.grid, self.classes
        lin = torch.linspace(-1, 1, g, device=head.device, dtype=head.dtype)
        yy, xx = torch.meshgrid(lin, lin, indexing="ij")
        xy = torch.stack([xx.flatten(), yy.flatten()], -1).expand(head.shape[0], g * g, 2)
        return torch.cat([xy, head[..., k:k + 2]], -1)

    # ------------------------------------------------------------------ names in the question
    def exact_names(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T, k-1): 1 at the last token of each object class name written in the text, else 0."""
        b, t = input_ids.shape
        hit = sequence_ends(input_ids, self.class_seqs)
        for inner, outer, gap in self.nested:
            later = torch.zeros((b, t), device=input_ids.device)
            later[:, : t - gap] = hit[:, gap:, outer]
            hit[..., inner] = hit[..., inner] * (1 - later)
        return hit

    @staticmethod
    def word_match(txt: torch.Tensor, probs: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """(B, T, N): how much each text token's word names the object class of each image token.

        A word matches a class when its embedding is close to the class name's (cosine above 0.5: the word itself,
        or a piece of a multi-token name); each image token counts by the dense head's probability of that class.
        """
        rel = F.normalize(txt.detach(), dim=-1) @ F.normalize(words[1:].detach(), dim=-1).T  # (B, T, k-1)
        rel = (2 * (rel - 0.5)).clamp(min=0)
        return rel @ probs[..., 1:].transpose(1, 2).to(rel.dtype)

    def names(self, input_ids: torch.Tensor, txt: torch.Tensor, probs: torch.Tensor,
              words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, N) how much each text token names each image token's class, and (B, T) the naming tokens."""
        if self.exact:
            hit = self.exact_names(input_ids)
            return hit @ probs[..., 1:].transpose(1, 2).to(hit.dtype), hit.sum(-1) > 0
        match = self.word_match(txt, probs, words)
        return match, match.sum(-1) > 0.5

    @staticmethod
    def name_pointer(match: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
        """For each text token, the image tokens of the object classes its word names, pooled.

        The question's "armchair" then carries where the armchair is (position, depth) into the language model,
        which otherwise has to discover this binding by itself - slowly, from a yes/no or a number per question.
        """
        mass = match.sum(-1, keepdim=True)
        pooled = (match @ img.to(match.dtype)) / mass.clamp(min=1e-6)
        return pooled * mass.clamp(max=1.0)

    def named_colors(self, input_ids: torch.Tensor, hit: torch.Tensor) -> torch.Tensor:
        """(B, T, K) the colour word written just before each class name (composed/color.py)."""
        return named_colors(input_ids, hit, self.name_lens, self.color_seqs)

    # ------------------------------------------------------------------ what the relation head reads
    def keep_mask(self, input_ids: torch.Tensor, prompt_mask: torch.Tensor | None) -> torch.Tensor:
        """(B, T) the prompt's non-padding tokens (all non-padding ones without ``prompt_mask``)."""
        keep = input_ids != self.pad_id
        return keep & prompt_mask if prompt_mask is not None else keep

    def pair_inputs(self, match: torch.Tensor, geo: torch.Tensor, input_ids: torch.Tensor, keep: torch.Tensor,
                    named: torch.Tensor, pixel_values: torch.Tensor | None = None,
                    fine: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, pair width): the first and the latest named object's features (composed/features.py), with
        colour grounding their colour's pixels too, with a point map their metric point features."""
        obj = object_features(match, geo)
        hit = colour = None
        if self.color:
            if pixel_values is None:
                raise ValueError("vision.relation_color: the relation inputs need the image's pixel_values")
            hit = self.exact_names(input_ids)
            colour = self.named_colors(input_ids, hit)
            moments = pixel_moments(pixel_values, self.color_lut, self.grid)
            obj = torch.cat([obj, color_object_features(match, geo, colour, moments)], -1)
        pair = pair_features(obj, named & keep)
        if self.fine_grid:
            if fine is None:
                raise ValueError("vision.fine_grid: the relation inputs need the tower's fine output")
            b, t = named.shape
            first, last, xyz = self.point_members(fine, hit, colour, named & keep, pixel_values)  # type: ignore[arg-type]
            pair = torch.cat([pair, point_pair_features(first, last, xyz)[:, None, :].expand(b, t, -1)], -1)
        return pair

    def point_members(self, fine: torch.Tensor, hit: torch.Tensor, colour: torch.Tensor, named: torch.Tensor,
                      pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The fine cells' membership weights (B, Nf) of the first and the last object the prompt names, and the
        fine head's points (B, Nf, 3) (composed/points.py); the same at every position (the head decides at the
        prompt's last token)."""
        b, t = named.shape
        k = self.classes
        probs, xyz = fine[..., :k].softmax(-1), fine[..., k:k + 3]
        shares = pixel_moments(pixel_values, self.color_lut, self.fine_grid)[..., 0]  # (B, Nf, K)
        pos = torch.arange(t, device=named.device).expand(b, t)
        first = torch.where(named, pos, torch.full_like(pos, t)).min(1).values.clamp(max=t - 1)
        last = torch.where(named, pos, torch.full_like(pos, -1)).max(1).values.clamp(min=0)
        rows = torch.arange(b, device=named.device)
        any_named = named.any(1)[:, None].to(probs.dtype)
        first_m, last_m = (named_member(hit[rows, i] * any_named, colour[rows, i], probs, shares) for i in (first, last))
        return first_m, last_m, xyz
