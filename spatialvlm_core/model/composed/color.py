"""Colour-aware grounding for the relation head (``VisionConfig.relation_color``).

Why: the head finds a named object by its class ("the armchair": every image token the dense head calls an
armchair), so two objects of one class ("the brown armchair", "the blue armchair") pool to the same geometry and
their questions sit at chance (52% on the held-out split). And an 8x8 token grid measures extents in steps of a
quarter of the image, which caps the size comparisons near 78%. Captions name a colour from the same small table
the data pipeline uses (``naming.COLOR_TABLE``), so the pixels of that colour inside the class's tokens are the
object, at pixel resolution: their count, centroid and spread are features the head can trust.

Everything here is computed from the model's input pixels and the question's tokens; nothing is learned.
"""

from __future__ import annotations

import torch

from spatialvlm_core.model.composed.features import object_features
from spatialvlm_core.naming import _LUT_BITS, _NAMES, _color_lut

N_COLOR_EXTRA = 8 + 5 + 1  # colour-weighted token features, pixel moments, "a colour is named"
N_MOMENTS = 5  # pixel share, sum x, sum y, sum x^2, sum y^2 (per image token and colour)


def color_names() -> list[str]:
    return list(_NAMES)


def color_lut() -> torch.Tensor:
    """(32^3,) int64: the table colour nearest (in Lab) to each quantised sRGB value (naming's own table)."""
    return torch.from_numpy(_color_lut().astype("int64"))


def pixel_moments(pixel_values: torch.Tensor, lut: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, grid*grid, K, 5): per image token and table colour, the share of the token's pixels of that colour and
    their first and second moments in image x/y ([-1, 1]), as means over the token's pixels.

    ``pixel_values`` (B, 3, S, S) in [-1, 1] (``ComposedVLM.pixels``); S must be a multiple of ``grid``.
    """
    b, _, s, s2 = pixel_values.shape
    if s != s2 or s % grid:
        raise ValueError(f"pixel_moments: image {s}x{s2} does not tile into a {grid}x{grid} grid")
    rgb = ((pixel_values.float() + 1) * 127.5).round().clamp(0, 255).long() >> (8 - _LUT_BITS)
    idx = (rgb[:, 0] << (2 * _LUT_BITS)) | (rgb[:, 1] << _LUT_BITS) | rgb[:, 2]
    onehot = torch.nn.functional.one_hot(lut.to(idx.device)[idx], len(_NAMES)).float()  # (B, S, S, K)
    lin = (torch.arange(s, device=idx.device, dtype=torch.float32) + 0.5) / s * 2 - 1
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    basis = torch.stack([torch.ones_like(xx), xx, yy, xx * xx, yy * yy], -1)  # (S, S, 5)
    p = s // grid
    m = torch.einsum("bipjqk,ipjqf->bijkf", onehot.reshape(b, grid, p, grid, p, -1),
                     basis.reshape(grid, p, grid, p, N_MOMENTS)) / (p * p)
    return m.reshape(b, grid * grid, len(_NAMES), N_MOMENTS)


def sequence_ends(input_ids: torch.Tensor, seqs: list[list[int]]) -> torch.Tensor:
    """(B, T, len(seqs)): 1 where token sequence ``seqs[k]`` ends at that position."""
    b, t = input_ids.shape
    out = torch.zeros((b, t, len(seqs)), device=input_ids.device)
    for k, seq in enumerate(seqs):
        n = len(seq)
        if n == 0 or n > t:
            continue
        ok = torch.zeros((b, t), dtype=torch.bool, device=input_ids.device)
        ok[:, n - 1:] = True
        for i, tok in enumerate(seq):  # token i of the sequence sits n-1-i positions before its end
            ok[:, n - 1:] &= input_ids[:, i: t - (n - 1 - i)] == tok
        out[..., k] = ok.to(out.dtype)
    return out


def named_colors(input_ids: torch.Tensor, hit: torch.Tensor, name_lens: torch.Tensor,
                 color_seqs: list[list[int]]) -> torch.Tensor:
    """(B, T, K): at each class-name end (``hit`` (B, T, C), ``name_lens`` (C,) tokens per name), the colour word
    written just before the name ("the red | floor lamp"), one-hot; zeros where there is none."""
    ends = sequence_ends(input_ids, color_seqs)
    named = hit.sum(-1) > 0
    start = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
    before = start - (hit * name_lens.to(hit.dtype)).sum(-1).long()  # the token just before the name
    picked = ends.gather(1, before.clamp(min=0)[..., None].expand(-1, -1, ends.shape[-1]))
    return picked * (named & (before >= 0))[..., None].to(picked.dtype)


def color_object_features(match: torch.Tensor, geo: torch.Tensor, colour: torch.Tensor,
                          moments: torch.Tensor) -> torch.Tensor:
    """(B, T, N_COLOR_EXTRA) per text token, beside ``features.object_features``:

    - the same 8 token features, with each token weighted also by how much of it has the named colour (a token
      half covered by it counts fully: the factor is (share + 0.05) / 0.5, capped at 1; no colour word: 1);
    - from the named colour's pixels inside the matched tokens (all pixels when no colour is named): log pixel
      share, centroid x, y and log spread x, y, at pixel resolution;
    - 1 when a colour is named.
    """
    has = colour.sum(-1, keepdim=True)  # (B, T, 1)
    m = moments.to(match.dtype)
    share = colour @ m[..., 0].transpose(1, 2)  # (B, T, N): share of each token in the named colour
    factor = torch.where(has > 0, ((share + 0.05) / 0.5).clamp(max=1.0), torch.ones_like(share))
    tokens = object_features(match * factor, geo)
    per = torch.einsum("btk,bnkf->btnf", colour, m)  # the named colour's moments per image token
    per = torch.where(has[..., None] > 0, per, m.sum(2)[:, None].expand_as(per))
    agg = torch.einsum("btn,btnf->btf", match, per)
    count = agg[..., :1].clamp(min=1e-4)
    mx, my = agg[..., 1:2] / count, agg[..., 2:3] / count
    vx = (agg[..., 3:4] / count - mx.pow(2)).clamp(min=0) + 1e-4
    vy = (agg[..., 4:5] / count - my.pow(2)).clamp(min=0) + 1e-4
    return torch.cat([tokens, count.log(), mx, my, vx.log() / 2, vy.log() / 2, has], -1)
