"""What the relation head knows of one named object: the geometry pooled over the image tokens its name matches."""

from __future__ import annotations

import torch

N_OBJ = 8  # features per named object (see object_features)


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
