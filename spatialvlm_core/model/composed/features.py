"""What the relation head knows of the named objects: each one's geometry pooled over the image tokens its name
matches (``object_features``), and the pair of the first and the latest one named (``pair_features``)."""

from __future__ import annotations

import torch

N_OBJ = 8  # features per named object (see object_features)
N_PAIR = 3 * N_OBJ + 2  # first object, latest object, their difference, "one named", "two named"


def object_features(match: torch.Tensor, geo: torch.Tensor) -> torch.Tensor:
    """(B, T, N_OBJ): per text token, the geometry pooled over the image tokens its name matches.

    ``match`` (B, T, N): how much each text token names each image token's class; ``geo`` (B, N, 4): image x,
    y, predicted log depth and floor height per image token. Features: the weighted mean of the four, the log of
    the match mass (apparent size in tokens) and the log spread in x, y and height (extent; a metric width is
    spread x depth, a sum in logs). Spreads are floored so a one-token object does not give log 0 = -inf.
    """
    mass = match.sum(-1, keepdim=True)
    w = match / mass.clamp(min=1e-6)
    g = geo.to(match.dtype)
    mean = w @ g
    var = (w @ g[..., [0, 1, 3]].pow(2) - mean[..., [0, 1, 3]].pow(2)).clamp(min=0)
    return torch.cat([mean, mass.log1p(), (var + 0.0025).sqrt().log()], -1)


def pair_features(obj: torch.Tensor, named: torch.Tensor) -> torch.Tensor:
    """(B, T, N_PAIR): at each position, the first and the latest named object so far, their difference and
    how many are named (0, 1, 2+ as two flags). ``named`` (B, T) bool: tokens that name an object."""
    t = torch.arange(named.shape[1], device=named.device).expand_as(named)
    latest = torch.where(named, t, torch.full_like(t, -1)).cummax(1).values
    first = torch.where(named, t, torch.full_like(t, named.shape[1])).min(1, keepdim=True).values.expand_as(t)
    count = named.long().cumsum(1)

    def pick(idx: torch.Tensor) -> torch.Tensor:
        out = obj.gather(1, idx.clamp(0, obj.shape[1] - 1)[..., None].expand(-1, -1, obj.shape[-1]))
        return out * (latest >= 0)[..., None].to(out.dtype)

    a, b = pick(first), pick(latest)
    flags = torch.stack([(count >= 1), (count >= 2)], -1).to(obj.dtype)
    return torch.cat([a, b, b - a, flags], -1)
