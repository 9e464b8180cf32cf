"""The SpatialVLM tool: a trained VLM behind ``ask(image, question) -> Answer`` (text + parsed quantity)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialvlm_core.types import Answer

DEFAULT_MODEL_DIR = Path(__file__).parent / "assets" / "default_model"
MEMBERS_DIR = "members"  # inside a checkpoint: more checkpoints whose length estimates are pooled with it


class SpatialVLM:
    """Greedy-decoding VLM tool. ``SpatialVLM.load(path)``; ``path=None`` loads the shipped default model.

    With a relation head (the shipped model has one) a length answer states the head's estimate, not the digits
    the language model wrote: the head regresses the exact length, the text was trained on human-rounded answers
    ("roughly 1.1 meters" for anything from 0.4 to 1.5 m loses what the model knows). The words stay the
    model's; only the number is restated, in the unit it chose. ``mirror`` averages that estimate with the one
    from the mirrored image, and ``ask(..., wordings=[...])`` over several wordings of the question. ``members``: more trained models (other seeds) whose estimates are pooled with the
    main model's (geometric mean); the words and the yes/no answers stay the main model's. A checkpoint directory
    with a ``members/`` folder of checkpoints loads as such an ensemble. ``head_numbers=False`` keeps the
    generated text as is.
    """

    def __init__(self, model: Any, max_new_tokens: int | None = None, batch_size: int = 32,
                 head_numbers: bool = True, mirror: bool = True, members: Sequence[Any] = ()) -> None:
        self.model = model.eval()
        self.max_new_tokens = max_new_tokens or model.preset.max_answer_tokens
        self.batch_size = batch_size
        self.head_numbers = head_numbers and _has_length_head(model)
        self.mirror = mirror
        self.members = [m.eval() for m in members]
        for i, m in enumerate(self.members):
            if not _has_length_head(m):
                raise ValueError(f"members[{i}] ({m.preset.name}) has no relation head: it has no length estimate")
        if self.members and not self.head_numbers:
            raise ValueError("members pool length estimates: they need head_numbers and a main model with a "
                             "relation head")
        self.source = f"vlm:{model.preset.name}" + (f"+{len(self.members)}" if self.members else "")

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu", **kw: Any) -> SpatialVLM:
        from spatialvlm_core.model import create_model

        path = DEFAULT_MODEL_DIR if path is None else path
        if Path(path).exists() and not Path(path).is_dir():
            raise ValueError(f"model path {path} is a file; expected a checkpoint directory")
        if path == DEFAULT_MODEL_DIR and not Path(path).is_dir():
            raise FileNotFoundError(f"no default model at {path}; run `make model` to build it")
        members = sorted(d for d in (Path(path) / MEMBERS_DIR).glob("*") if d.is_dir())
        if members and "members" not in kw:
            kw["members"] = [create_model(str(d)).to(device) for d in members]
        return cls(create_model(str(path)).to(device), **kw)

    def ask(self, image: Any, question: str, wordings: list[str] | None = None) -> Answer:
        return self.ask_batch([image], [question], None if wordings is None else [wordings])[0]

    def ask_batch(self, images: list[Any], questions: list[str],
                  wordings: list[list[str]] | None = None) -> list[Answer]:
        """Answers to ``questions``. ``wordings`` (per row, optional): several wordings of the same length
        question (paraphrases, both object orders); a length answer then states the estimate pooled over them
        (geometric mean), besides the mirror and the members."""
        from spatialvlm_core.model.base import to_pil
        from spatialvlm_core.model.parsing import parse_answer

        if len(images) != len(questions):
            raise ValueError(f"got {len(images)} images but {len(questions)} questions")
        for i, q in enumerate(questions):
            if not isinstance(q, str) or not q.strip():
                raise ValueError(f"questions[{i}] is empty")
        if wordings is not None:
            if len(wordings) != len(questions):
                raise ValueError(f"got {len(wordings)} wordings lists for {len(questions)} questions")
            if not self.head_numbers:
                raise ValueError(f"{self.source} has no relation head (or head_numbers=False): wordings pool "
                                 "length estimates, which it does not give")
            for i, w in enumerate(wordings):
                if not w:
                    raise ValueError(f"wordings[{i}] is empty: give at least one question")
        pil = [to_pil(im) for im in images]
        texts: list[str] = []
        for s in range(0, len(pil), self.batch_size):
            texts += self.model.generate(pil[s:s + self.batch_size], questions[s:s + self.batch_size],
                                         max_new_tokens=self.max_new_tokens)
        answers = [parse_answer(t, source=self.source) for t in texts]
        if self.head_numbers:
            idx = [i for i, a in enumerate(answers) if a.meters is not None]
            asked = [wordings[i] if wordings is not None else [questions[i]] for i in idx]
            logs = self._log_estimates([pil[i] for i, w in zip(idx, asked, strict=True) for _ in w],
                                       [q for w in asked for q in w])
            at = 0
            for i, w in zip(idx, asked, strict=True):
                answers[i] = with_length(answers[i], math.exp(sum(logs[at:at + len(w)]) / len(w)))
                at += len(w)
        return answers

    def _log_estimates(self, images: list[Any], questions: list[str]) -> list[float]:
        """Per row, the mean over the main model and the members of the log length estimate."""
        out: list[float] = []
        for s in range(0, len(images), self.batch_size):
            ims, qs = images[s:s + self.batch_size], questions[s:s + self.batch_size]
            logs = [[math.log(v) for v in m.length_estimates(ims, qs, mirror=self.mirror)]
                    for m in [self.model, *self.members]]
            out += [sum(col) / len(col) for col in zip(*logs, strict=True)]
        return out


def _has_length_head(model: Any) -> bool:
    return hasattr(model, "relation") and hasattr(model, "length_estimates")


def with_length(answer: Answer, meters: float) -> Answer:
    """``answer`` restating its length as ``meters`` (same words and unit), or unchanged when its text has no
    length that can be restated and read back as that value."""
    from spatialvlm_core.model.parsing import parse_answer, restate_length

    text = restate_length(answer.text, meters)
    if text is None:
        return answer
    new = parse_answer(text, source=answer.source)
    if new.meters is None or abs(math.log(new.meters / meters)) > 0.1:  # e.g. a number the parser reads otherwise
        return answer
    return new


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("ask", help="ask a trained SpatialVLM a question about an image")
    p.add_argument("--model", default=None, help="checkpoint directory (default: the shipped model)")
    p.add_argument("--image", required=True)
    p.add_argument("--question", required=True)
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    ans = SpatialVLM.load(args.model).ask(args.image, args.question)
    print(ans.model_dump_json(indent=2))
    return 0
