"""The vision tower and its training-only dense heads (per-token class, log depth and floor height; the fine
point map, composed/points.py), with their targets' batching and loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from spatialvlm_core.model.composed.config import VisionConfig
from spatialvlm_core.model.composed.points import FinePointHead, pack, unpack
from spatialvlm_core.model.grid_cells import IGNORE


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
        self.classes = cfg.dense_classes
        self.row = nn.Parameter(torch.randn(cfg.grid, 1, c_in) * 0.02)
        self.col = nn.Parameter(torch.randn(1, cfg.grid, c_in) * 0.02)
        self.blocks: nn.Module = nn.Identity()
        if cfg.num_layers > 0:
            block = nn.TransformerEncoderLayer(
                c_in, cfg.num_heads, 4 * c_in, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            self.blocks = nn.TransformerEncoder(block, cfg.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c_in)
        # Per-token class logits + log depth + floor height (training signal, and the grounding's class map).
        self.dense_head = nn.Linear(c_in, cfg.dense_classes + 2) if cfg.dense_classes > 0 else None
        self.fine_grid = cfg.fine_grid
        self.fine_head: nn.Module | None = None
        self._fine_at = -1  # index of the stem module whose output feeds the fine head (-1: none)
        if cfg.fine_grid:  # ComposedConfig.validate checked that a CNN stage has this size
            stage = cfg.stage_sizes().index(cfg.fine_grid)
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
        # The fine point map rides in extra channels of the tokens (see ``split``), so cached outputs carry it.
        return torch.cat([x, pack(self.fine_head(mid, x, self.grid), self.grid)], -1)

    def split(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The tower's output as (tokens (B, grid**2, dim), fine head output (B, fine_grid**2, classes + 3) or
        None)."""
        if self.fine_head is None:
            return out, None
        return out[..., : self.dim], unpack(out[..., self.dim:], self.grid, self.fine_grid)

    def dense_batch(self, targets: list[dict[str, np.ndarray] | None], device: torch.device) -> dict[str, Any]:
        """The dense heads' targets as batch entries (ignored / NaN where a row has none); {} without any."""
        if self.dense_head is None or all(t is None for t in targets):
            return {}
        n, k = self.grid ** 2, self.classes
        cls = np.full((len(targets), n), IGNORE, dtype=np.int64)
        geo = np.full((len(targets), n, 2), np.nan, dtype=np.float32)
        nf = self.fine_grid ** 2
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
        out = {"dense_cls": torch.from_numpy(cls).to(device), "dense_geo": torch.from_numpy(geo).to(device)}
        if nf:
            out |= {"fine_cls": torch.from_numpy(fine_cls).to(device), "fine_xyz": torch.from_numpy(fine_xyz).to(device)}
        return out

    def dense_loss(self, out: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        """The per-token loss (class and geometry, and the fine point map's) of the tower's output ``out``
        against ``dense_batch``'s entries."""
        tokens, fine = self.split(out)
        head = self.dense_head(tokens)  # type: ignore[misc]
        k = self.classes

        def part(logits: torch.Tensor, cls_t: torch.Tensor, values: torch.Tensor, val_t: torch.Tensor) -> torch.Tensor:
            ce = (F.cross_entropy(logits.flatten(0, 1), cls_t.flatten(), ignore_index=IGNORE)
                  if bool((cls_t != IGNORE).any()) else logits.sum() * 0)
            ok = torch.isfinite(val_t)
            return ce + (F.smooth_l1_loss(values[ok], val_t[ok], beta=0.1) if bool(ok.any()) else values.sum() * 0)

        loss = part(head[..., :k], batch["dense_cls"], head[..., k:], batch["dense_geo"])
        if fine is not None and "fine_cls" in batch:
            loss = loss + part(fine[..., :k], batch["fine_cls"], fine[..., k:], batch["fine_xyz"])
        return loss
