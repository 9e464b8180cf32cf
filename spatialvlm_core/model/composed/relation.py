"""Relation head: a small MLP that decides a pairwise question from the named objects' pooled geometry.

Why it exists: "is A left of B?" and "is A right of B?" flip the answer for the same geometry, so the yes/no is
an XOR of the question's wording and the sign of a geometry difference. A language model trained from scratch,
left to find both objects by attention, subtract them and take that product itself, sits on a plateau (one
constant answer per question type) for longer than a CPU budget allows (README, "Why the model ignores the
image"). Here that product is one MLP away: it reads the geometry of the first and the latest object the
question names (from the vision tower's dense head, pooled over the image tokens of each name's class) with a
bag of the question's words, and outputs

- ``decision``: the logit of "yes" for a yes/no question, of "the first-named object" for a which-of-two one;
- ``log_value``: the log of the quantity in metres for a metric question.

Both are trained with an auxiliary loss on the dataset's own labels (the QA rows' truth) beside the answer
tokens' loss, and reach the language model as one extra vector on the prompt's last token, where the answer
starts: the LM verbalises a decision instead of making it. At inference the head sees the image and the question
only, like the rest of the model.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from spatialvlm_core.model.captions import caption_core
from spatialvlm_core.model.composed.color import N_COLOR_EXTRA
from spatialvlm_core.model.composed.features import N_PAIR
from spatialvlm_core.model.composed.points import N_POINT_FEATURES
from spatialvlm_core.units import METERS_PER_UNIT

FREQS = (1.0, 2.0, 4.0, 8.0)  # Fourier features of the log value, so that number tokens are a near-linear read


def pair_size(color: bool, points: bool = False) -> int:
    """Width of the pair features: N_PAIR, plus with colour grounding (composed/color.py) its extra object
    features for each of the first, latest and difference, plus with point grounding (composed/points.py)
    its point-map features."""
    return N_PAIR + (3 * N_COLOR_EXTRA if color else 0) + (N_POINT_FEATURES if points else 0)


class RelationHead(nn.Module):
    def __init__(self, vocab_size: int, lm_dim: int, hidden: int, copy: bool = False, n_pair: int = N_PAIR,
                 word_dropout: float = 0.0) -> None:
        super().__init__()
        # Training only: each prompt word leaves the bag with this probability. The head fit 94% of its training
        # rows against 84% held out; dropping words (and weight decay) took 1-3 points of that gap back.
        self.word_dropout = word_dropout
        # The question's words as a bag straight into the first hidden layer (a linear map of word counts): a
        # mean of small word embeddings diluted the one word that flips the answer ("left" vs "right") and the
        # head sat at chance for two epochs.
        self.words = nn.Embedding(vocab_size, hidden)
        nn.init.normal_(self.words.weight, std=0.05)
        self.geo_in = nn.Linear(n_pair, hidden)
        self.mlp = nn.Sequential(nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 2))
        # The decision's read-out beside the LM's output layer (``gated_logits``); zero start.
        self.gate = nn.Linear(lm_dim, vocab_size)
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)
        if copy:  # when to copy a caption (``caption_contrast``); zero start
            self.copy_gate = nn.Linear(lm_dim, 1)
            nn.init.zeros_(self.copy_gate.weight)
            nn.init.zeros_(self.copy_gate.bias)
        self.to_lm = nn.Linear(2 + 2 * len(FREQS), lm_dim)
        nn.init.normal_(self.to_lm.weight, std=0.02)  # at the word-embedding scale
        nn.init.zeros_(self.to_lm.bias)

    def forward(self, pair: torch.Tensor, input_ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """(B, T, 2) decision logit and log value at every position, from the pair geometry (B, T, N_PAIR) and the
        bag of the kept (prompt, non-padding) words up to that position."""
        if self.training and self.word_dropout > 0:
            keep = keep & (torch.rand(keep.shape, device=keep.device) >= self.word_dropout)
        bag = (self.words(input_ids) * keep[..., None].to(pair.dtype)).cumsum(1)
        return self.mlp(self.geo_in(pair) + bag.to(pair.dtype))

    def lm_vector(self, out: torch.Tensor) -> torch.Tensor:
        """The vector added to the prompt's last token: the decision and the log value, with Fourier features."""
        z, v = out[..., :1], out[..., 1:]
        f = torch.cat([torch.tanh(z), v] + [fn(v * s * math.pi) for s in FREQS for fn in (torch.sin, torch.cos)], -1)
        return self.to_lm(f)

    def gated_logits(self, lm_logits: torch.Tensor, hidden: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        """The LM's logits plus the decision (tanh of its logit, one per row) times a learned read of the hidden
        state: the hidden state says which tokens a yes (or the first-named object) and a no (or the second)
        would each begin with, the decision picks one. The LM never has to compute the XOR. With
        ``relation_copy`` (``rel`` wider than 2) the hidden state also says when to copy a caption, the decision
        which (``caption_contrast``)."""
        gate = self.gate(hidden)
        if rel.shape[-1] > 2:
            gate = gate + self.copy_gate(hidden) * rel[:, None, 2:].to(gate.dtype)
        return lm_logits + torch.tanh(rel[:, :1])[:, None, :].to(gate.dtype) * gate


def caption_contrast(input_ids: torch.Tensor, named: torch.Tensor, vocab_size: int, window: int = 4) -> torch.Tensor:
    """(B, V): +1 for the tokens of the first-named object's caption, -1 for the latest-named one's (the
    ``window`` prompt tokens ending at each name: its colour and class words), shared tokens cancelling; zero
    unless two objects are named. A which-of-two answer copies one of the two captions."""
    b, t = input_ids.shape
    pos = torch.arange(t, device=input_ids.device).expand(b, t)
    first = torch.where(named, pos, torch.full_like(pos, t)).min(1).values
    latest = torch.where(named, pos, torch.full_like(pos, -1)).max(1).values
    two = (named.sum(1) >= 2).to(torch.float32)
    out = torch.zeros((b, vocab_size), device=input_ids.device)
    for end, sign in ((first, 1.0), (latest, -1.0)):
        span = (pos <= end[:, None]) & (pos > end[:, None] - window)
        hot = torch.zeros_like(out).scatter_(1, input_ids, span.to(out.dtype)).clamp(max=1.0)
        out = out + sign * hot * two[:, None]
    return out


_TO_M = METERS_PER_UNIT  # the one unit table


def relation_targets(qas: list[Any]) -> dict[str, torch.Tensor]:
    """Per row: ``rel_decision`` (1 yes / first-named, 0 no / second-named, NaN none) and ``rel_log_value`` (log
    metres, NaN none) from the QA pairs (``QAPair`` or None)."""
    dec, val = [], []
    for qa in qas:
        d = v = math.nan
        if qa is not None and not qa.provenance.get("aux"):
            if qa.kind == "predicate" and qa.truth_bool is not None:
                d = float(qa.truth_bool)
            elif qa.kind == "choice" and qa.choice:
                d = _first_named(qa.question, qa.choice, qa.provenance.get("captions", []))
            # ``truth`` is the exact value in metres whatever unit the answer states; else the stated value.
            truth = qa.truth if qa.truth is not None else (qa.value or 0) * _TO_M.get(qa.unit or "", 0.0)
            if qa.category == "quantitative" and qa.unit in _TO_M and truth and truth > 0:
                v = math.log(truth)
        dec.append(d)
        val.append(v)
    return {"rel_decision": torch.tensor(dec), "rel_log_value": torch.tensor(val)}


def _first_named(question: str, choice: str, captions: list[str]) -> float:
    """1 when ``choice`` is the caption written first in ``question`` among two offered, 0 when the other; NaN
    when that cannot be told (not two captions, or one is missing from the text)."""
    q = question.lower()
    pos = {c.lower(): q.find(caption_core(c)) for c in captions}  # the scorer's caption core: both agree
    if len(pos) != 2 or min(pos.values()) < 0 or choice.lower() not in pos:
        return math.nan
    return float(pos[choice.lower()] == min(pos.values()))


def relation_loss(out: torch.Tensor, dec: torch.Tensor, val: torch.Tensor) -> torch.Tensor:
    """BCE on the decision (``out[:, 0]``) plus smooth L1 on the log value (``out[:, 1]``), each over the rows
    that have that target."""
    loss = out.sum() * 0
    ok = torch.isfinite(dec)
    if bool(ok.any()):
        loss = loss + F.binary_cross_entropy_with_logits(out[ok, 0].float(), dec[ok].float())
    ok = torch.isfinite(val)
    if bool(ok.any()):
        loss = loss + F.smooth_l1_loss(out[ok, 1].float(), val[ok].float(), beta=0.1)
    return loss
