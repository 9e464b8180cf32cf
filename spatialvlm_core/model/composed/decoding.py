"""Greedy decoding with a KV cache over left-padded prompts that start with image tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from spatialvlm_core.model.composed.lm import cache_arg, out_cache


@torch.no_grad()
def greedy_decode(lm: nn.Module, emb: torch.Tensor, mask: torch.Tensor, eos: int, max_new_tokens: int,
                  logits_of: Callable[[Any], torch.Tensor], **kw: Any) -> list[list[int]]:
    """Token ids per row until ``eos`` or ``max_new_tokens``. ``emb`` (B, T, d) the image and prompt embeddings,
    ``mask`` (B, T) their attention mask (left padding), ``lm`` the module to run (the causal LM, or its body when
    ``logits_of`` builds the logits from hidden states), ``logits_of`` an output -> (B, V) next-token logits;
    ``kw`` go to ``lm``'s first call."""
    b, dev = emb.shape[0], emb.device
    # Explicit positions so that left padding does not shift them.
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    cache_kw = cache_arg()
    out = lm(inputs_embeds=emb, attention_mask=mask, position_ids=pos, use_cache=True, **kw)
    past, last_pos = out_cache(out), pos[:, -1:]
    done = torch.zeros(b, dtype=torch.bool, device=dev)
    result: list[list[int]] = [[] for _ in range(b)]
    logits = logits_of(out)
    for _ in range(max_new_tokens):
        nxt = logits.argmax(-1)
        for i in range(b):
            if not done[i] and int(nxt[i]) != eos:
                result[i].append(int(nxt[i]))
        done |= nxt == eos
        if bool(done.all()):
            break
        mask = torch.cat([mask, torch.ones((b, 1), dtype=mask.dtype, device=dev)], 1)
        last_pos = last_pos + 1
        out = lm(input_ids=nxt[:, None], attention_mask=mask, position_ids=last_pos, use_cache=True,
                 **{cache_kw: past})
        past, logits = out_cache(out), logits_of(out)
    return result
