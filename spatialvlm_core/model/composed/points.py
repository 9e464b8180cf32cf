"""Point grounding for the relation head (``VisionConfig.fine_grid``): a fine per-cell 3D point map and the
metric features the head reads from it.

Why: a footprint gap ("can a 1 m robot pass between the sofa and the armchair?") is the small difference of two
large numbers (where each object ends), so the 8x8 token grid's pooled centroids and spreads leave it ~37% off
(median) - and the affordance thresholds sit 10-40% from the truth. Measured on exact sim labels
(``evals/point_ceiling.py``), the closest points of two objects' cells on a 24x24 grid, debiased, are within
10% of the true gap for about half the pairs, against 2% on a 12x12 grid. So the tower gets a second dense
head at ``fine_grid`` x ``fine_grid``: per cell the object class and the 3D point it sees, in a gravity-aligned
frame that turns with the camera's heading (x right, y forward along the floor, z up from the floor; metres).
The pair features are then plain geometry over the predicted points of the two named objects.

The fine head's output travels in the tower's token tensor (space-to-depth: each coarse token carries its
``(fine_grid / grid)**2`` fine cells in extra channels), so every consumer of a cached tower output gets it.
Points and classes are learned (dense sim labels, like ``dataset/dense_labels.py``); the features are not.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

N_POINT_OBJ = 5  # per object: log top height, log height extent, log x / y extent, log horizontal range
N_POINT_PAIR = 6  # log closest floor / 3D distance, log centroid floor / 3D distance, both objects found (2 flags)
N_POINT_FEATURES = 2 * N_POINT_OBJ + N_POINT_PAIR
MEMBER = 0.5  # a fine cell belongs to the named object when its membership weight is at least this
EPS_M = 0.05  # metres added before a log: a touching pair (distance 0) stays finite


class FinePointHead(nn.Module):
    """The tower's mid-resolution CNN features beside its final tokens (upsampled): two 3x3 convolutions, then
    per cell ``classes`` logits and a 3D point. The final tokens carry the global context (the ViT layer) that
    metric scale needs; the CNN features carry where object boundaries fall."""

    def __init__(self, mid_channels: int, token_dim: int, classes: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(mid_channels + token_dim, hidden, 3, padding=1), nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, padding=1), nn.GELU(),
            nn.Conv2d(hidden, classes + 3, 1),
        )

    def forward(self, mid: torch.Tensor, tokens: torch.Tensor, grid: int) -> torch.Tensor:
        """(B, C+3, G, G) from ``mid`` (B, Cm, G', G') CNN features and ``tokens`` (B, grid*grid, D)."""
        b, _, d = tokens.shape
        g = mid.shape[-1]
        coarse = tokens.transpose(1, 2).reshape(b, d, grid, grid)
        up = F.interpolate(coarse, size=(g, g), mode="bilinear", align_corners=False)
        return self.net(torch.cat([mid, up], 1))


def pack(fine: torch.Tensor, grid: int) -> torch.Tensor:
    """(B, C, G, G) -> (B, grid*grid, C*(G/grid)**2): each coarse token carries its fine cells (space-to-depth)."""
    r = fine.shape[-1] // grid
    return F.pixel_unshuffle(fine, r).flatten(2).transpose(1, 2)


def unpack(packed: torch.Tensor, grid: int, fine_grid: int) -> torch.Tensor:
    """Inverse of ``pack``: (B, grid*grid, C*r*r) -> (B, fine_grid*fine_grid, C), cells row-major."""
    b, _, c = packed.shape
    x = packed.transpose(1, 2).reshape(b, c, grid, grid)
    return F.pixel_shuffle(x, fine_grid // grid).flatten(2).transpose(1, 2)


def named_member(name: torch.Tensor, colour: torch.Tensor, probs: torch.Tensor, shares: torch.Tensor) -> torch.Tensor:
    """(B, Nf) membership weight of one named object per fine cell: the fine head's probability of its class
    times, when a colour is named, how much of the cell has that colour ((share + 0.05) / 0.5, capped at 1, as
    ``color.color_object_features`` weights tokens). ``name`` (B, C) the named class (one-hot over the
    object classes, background excluded); ``colour`` (B, K) the named colour (zeros: none); ``probs`` (B, Nf, C+1)
    fine class probabilities; ``shares`` (B, Nf, K) each cell's pixel share per colour."""
    p = (probs[..., 1:] * name[:, None, :].to(probs.dtype)).sum(-1)
    share = (shares * colour[:, None, :].to(shares.dtype)).sum(-1)
    has = colour.sum(-1, keepdim=True) > 0
    return p * torch.where(has, ((share + 0.05) / 0.5).clamp(max=1.0), torch.ones_like(share))


def _object_rows(member: torch.Tensor) -> torch.Tensor:
    """(B, Nf) bool: the cells at or above ``MEMBER``; where none are, the single strongest cell when its weight
    is at least 0.05 (a small object still gets a point)."""
    cells = member >= MEMBER
    best = member.argmax(-1, keepdim=True)
    fallback = torch.zeros_like(cells).scatter_(1, best, (member.gather(1, best) >= 0.05))
    return torch.where(cells.any(-1, keepdim=True), cells, fallback)


def _masked(x: torch.Tensor, m: torch.Tensor, fill: float, op: str) -> torch.Tensor:
    v = torch.where(m[..., None], x, torch.full_like(x, fill))
    return v.amax(1) if op == "max" else v.amin(1)


def object_point_features(cells: torch.Tensor, xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, N_POINT_OBJ) from one object's cells (B, Nf) bool and the points (B, Nf, 3), and its centroid (B, 3)."""
    found = cells.any(-1, keepdim=True).to(xyz.dtype)
    w = cells.to(xyz.dtype)
    centroid = (w[..., None] * xyz).sum(1) / w.sum(1, keepdim=True).clamp(min=1.0)
    hi, lo = _masked(xyz, cells, -1e4, "max"), _masked(xyz, cells, 1e4, "min")
    ext = (hi - lo).clamp(min=0) * found
    top = hi[:, 2:3].clamp(min=0) * found
    rng = centroid[:, :2].norm(dim=-1, keepdim=True)
    feats = torch.cat([top, ext[:, 2:3], ext[:, 0:1], ext[:, 1:2], rng], -1)
    return (feats + EPS_M).log() * found, centroid


def point_pair_features(first: torch.Tensor, latest: torch.Tensor, xyz: torch.Tensor) -> torch.Tensor:
    """(B, N_POINT_FEATURES): both objects' own features and the log distances between them: closest cells on
    the floor (x, y) and in 3D, and centroids on the floor and in 3D. ``first`` / ``latest`` (B, Nf) membership
    weights of the first- and the latest-named object; ``xyz`` (B, Nf, 3) the predicted points."""
    a, b = _object_rows(first), _object_rows(latest)
    fa, ca = object_point_features(a, xyz)
    fb, cb = object_point_features(b, xyz)
    both = (a.any(-1) & b.any(-1))[:, None]
    pair = a[:, :, None] & b[:, None, :]  # (B, Nf, Nf)
    big = torch.full((), 1e4, dtype=xyz.dtype, device=xyz.device)
    floor = torch.where(pair, torch.cdist(xyz[..., :2], xyz[..., :2]), big).flatten(1).amin(1, keepdim=True)
    full = torch.where(pair, torch.cdist(xyz, xyz), big).flatten(1).amin(1, keepdim=True)
    cent = torch.cat([(ca - cb)[:, :2].norm(dim=-1, keepdim=True), (ca - cb).norm(dim=-1, keepdim=True)], -1)
    dists = (torch.cat([floor, full, cent], -1).clamp(max=50.0) + EPS_M).log() * both.to(xyz.dtype)
    flags = torch.cat([a.any(-1, keepdim=True), b.any(-1, keepdim=True)], -1).to(xyz.dtype)
    return torch.cat([fa, fb, dists, flags], -1)
