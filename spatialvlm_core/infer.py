"""The SpatialVLM tool: a trained VLM behind ``ask(image, question) -> Answer`` (text + parsed quantity)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spatialvlm_core.domain import DomainCheck
from spatialvlm_core.model_dir import DEFAULT_MODEL_DIR, resolve_model_dir  # noqa: F401  (public here too)
from spatialvlm_core.types import MAX_QUESTION_CHARS, Answer

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

    It answers only what it can (every refusal is an ``Answer`` with no number and no yes/no whose text starts
    with "I can't answer"; ``parsing.is_declined`` tells one):
    - a question that asks no spatial quantity or relation ("What is the capital of France?") is refused, and one
      naming an object outside ``classes`` (default: the simulator's object classes, for a model trained here;
      none, i.e. no such check, for an HF checkpoint) too;
    - ``domain`` (``domain.DomainCheck``; ``load`` reads the calibration saved beside a checkpoint): an image whose
      vision features lie outside the simulator renders' distribution is declined with its score;
    - a generated sentence that names other objects or states another quantity than the question asked is
      rejected (``parsing.checked_answer``), never restated as the asked value.
    """

    def __init__(self, model: Any, max_new_tokens: int | None = None, batch_size: int = 32,
                 head_numbers: bool = True, mirror: bool = True, members: Sequence[Any] = (),
                 domain: DomainCheck | None = None, classes: Sequence[str] | None = None) -> None:
        from spatialvlm_core.model.dense_classes import DENSE_CLASSES  # torch (model/ loads it)

        self.model = model.eval()
        self.domain = domain
        if classes is None:  # a model built here learned the simulator's catalogue; an HF checkpoint, who knows
            composed = getattr(model.preset, "kind", "") == "composed"
            # A composed checkpoint stores its dense classes (32: from before the gripper); no dense head: all.
            names = getattr(model.preset, "class_names", ()) if composed else ()
            classes = (names or DENSE_CLASSES)[1:] if composed else ()
        self.classes = tuple(classes)
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
        """A checkpoint directory; ``None`` or ``"default"`` is the shipped model. Its ``members/`` load as an
        ensemble and its domain calibration (``domain.npz``) as the domain check, unless ``kw`` gives them."""
        from spatialvlm_core.model import create_model  # torch (model/ loads it)

        path = resolve_model_dir(path)
        members = sorted(d for d in (path / MEMBERS_DIR).glob("*") if d.is_dir())
        if members and "members" not in kw:
            kw["members"] = [create_model(str(d)).to(device) for d in members]
        if "domain" not in kw:
            kw["domain"] = DomainCheck.load(path)
        return cls(create_model(str(path)).to(device), **kw)

    def domain_scores(self, images: Sequence[Any]) -> list[float] | None:
        """Each image's domain score (``domain.DomainCheck``), or None without a calibration."""
        if self.domain is None:
            return None
        return [float(x) for x in self.domain.scores(self.model, list(images))]

    def domain_reason(self, image: Any) -> str | None:
        """Why the model declines ``image`` as unlike its training renders, or None (in domain, or no calibration)."""
        scores = self.domain_scores([image])
        return None if scores is None or self.domain is None else self.domain.reason(scores[0])

    def question_refusal(self, question: str) -> str | None:
        """Why the model will not answer ``question`` whatever the image, or None."""
        from spatialvlm_core.model.parsing import (  # torch (model/ loads it)
            REJECTED_PREFIX,
            is_spatial,
            normalize_question,
            ungroundable,
        )

        q = normalize_question(question)
        if not is_spatial(q):
            return (f"{REJECTED_PREFIX}: this is not a spatial question (it asks no distance, size, height or "
                    "spatial relation between objects), and that is all this model answers.")
        missing = ungroundable(q, self.classes) if self.classes else []
        if missing:
            names = ", ".join(repr(m) for m in missing)
            return (f"{REJECTED_PREFIX}: the model cannot ground {names}: it was trained only on simulator scenes "
                    f"with these objects: {', '.join(self.classes)}.")
        return None

    def ask(self, image: Any, question: str, wordings: list[str] | None = None) -> Answer:
        return self.ask_batch([image], [question], None if wordings is None else [wordings])[0]

    def ask_batch(self, images: list[Any], questions: list[str],
                  wordings: list[list[str]] | None = None) -> list[Answer]:
        """Answers to ``questions``. ``wordings`` (per row, optional): several wordings of the same length
        question (paraphrases, both object orders); a length answer then states the estimate pooled over them
        (geometric mean), besides the mirror and the members."""
        from spatialvlm_core.model.base import to_pil  # torch (model/ loads it)
        from spatialvlm_core.model.parsing import REJECTED_PREFIX as DECLINE
        from spatialvlm_core.model.parsing import (  # torch (model/ loads it)
            asked_quantity,
            checked_answer,
            is_declined,
            normalize_question,
            parse_answer,
        )

        if len(images) != len(questions):
            raise ValueError(f"got {len(images)} images but {len(questions)} questions")
        for i, q in enumerate(questions):
            if not isinstance(q, str) or not q.strip():
                raise ValueError(f"questions[{i}] is empty")
            if len(q) > MAX_QUESTION_CHARS:
                raise ValueError(f"questions[{i}] is {len(q)} characters long; at most {MAX_QUESTION_CHARS} are "
                                 "accepted")
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
        asked = [normalize_question(q) for q in questions]  # the catalogue's names ("night stand" -> "nightstand")
        refused: dict[int, str] = {}
        for i, q in enumerate(questions):
            why = self.question_refusal(q)
            if why is not None:
                refused[i] = why
        if self.domain is not None:  # one tower pass per distinct image still asked about
            first: dict[int, int] = {}
            rows = [i for i in range(len(pil)) if i not in refused]
            for i in rows:
                first.setdefault(id(images[i]), i)
            distinct = sorted(set(first.values()))
            scores = self.domain.scores(self.model, [pil[i] for i in distinct]) if distinct else []
            score = dict(zip(distinct, scores, strict=True))
            for i in rows:
                why = self.domain.reason(float(score[first[id(images[i])]]))
                if why is not None:
                    refused[i] = f"{DECLINE}: {why}."
        todo = [i for i in range(len(pil)) if i not in refused]
        texts: list[str] = []
        for s in range(0, len(todo), self.batch_size):
            chunk = todo[s:s + self.batch_size]
            texts += self.model.generate([pil[i] for i in chunk], [asked[i] for i in chunk],
                                         max_new_tokens=self.max_new_tokens)
        answers = [Answer(text=refused[i], source=self.source) for i in range(len(pil)) if i in refused]
        got = iter(checked_answer(asked[i], parse_answer(t, source=self.source)) for i, t in zip(todo, texts,
                                                                                              strict=True))
        refusals = iter(answers)
        answers = [next(refusals) if i in refused else next(got) for i in range(len(pil))]
        if self.head_numbers:
            # A length question whose sentence was rejected (it named other objects) still has the relation
            # head's estimate, which reads the asked objects from the question: state that, in our own words.
            head_only = {i for i in todo if is_declined(answers[i]) and asked_quantity(asked[i]) is not None}
            idx = [i for i, a in enumerate(answers) if a.meters is not None or i in head_only]
            pooled = [[normalize_question(q) for q in wordings[i]] if wordings is not None else [asked[i]]
                      for i in idx]
            logs = self._log_estimates([pil[i] for i, w in zip(idx, pooled, strict=True) for _ in w],
                                       [q for w in pooled for q in w])
            at = 0
            for i, w in zip(idx, pooled, strict=True):
                meters = math.exp(sum(logs[at:at + len(w)]) / len(w))
                at += len(w)
                if i in head_only:
                    asked_q = questions[i].strip().rstrip("?")
                    answers[i] = Answer(text=f"The model's length estimate for {asked_q!r} is {meters:.2g} m (its "
                                             "sentence named other objects and was set aside).",
                                        value=float(f"{meters:.2g}"), unit="m", meters=float(f"{meters:.2g}"),
                                        source=self.source)
                else:
                    answers[i] = with_length(answers[i], meters)
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
    return getattr(model, "relation", None) is not None and hasattr(model, "length_estimates")


def with_length(answer: Answer, meters: float) -> Answer:
    """``answer`` restating its length as ``meters`` (same words and unit), or unchanged when its text has no
    length that can be restated and read back as that value."""
    from spatialvlm_core.model.parsing import parse_answer, restate_length  # torch (model/ loads it)

    text = restate_length(answer.text, meters)
    if text is None:
        return answer
    new = parse_answer(text, source=answer.source)
    if new.meters is None or abs(math.log(new.meters / meters)) > 0.1:  # e.g. a number the parser reads otherwise
        return answer
    return new


EXIT_DECLINED = 3  # `spatialvlm ask`: the model declined (the printed Answer's text says why)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ask", help="ask a trained SpatialVLM a question about an image",
        epilog=f"Prints the Answer as JSON. Exit status: 0 answered; {EXIT_DECLINED} declined (a non-spatial "
               "question, an object the model cannot ground, an image unlike its simulator renders, or a generated "
               "sentence that does not answer the question: the text says which, and no number is given); "
               "2 bad input.")
    p.add_argument("--model", default=None, help="checkpoint directory, or 'default' (the shipped model; also when "
                                                 "omitted)")
    p.add_argument("--image", required=True)
    p.add_argument("--question", required=True)
    p.set_defaults(func=_cli)


def _cli(args: argparse.Namespace) -> int:
    from spatialvlm_core.model.parsing import is_declined  # torch (model/): keeps --help light

    ans = SpatialVLM.load(args.model).ask(args.image, args.question)
    print(ans.model_dump_json(indent=2))
    return EXIT_DECLINED if is_declined(ans) else 0
