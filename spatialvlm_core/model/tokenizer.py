"""A small byte-level BPE tokenizer trained locally (deterministic) on the QA template vocabulary.

Digits are split one per token so the model spells numbers digit by digit (it generalises to unseen
values); byte-level fallback means no text is ever out of vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable

from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<pad>", "<bos>", "<eos>", "<unk>", "<image>"]

# Words the tool must handle even when a training set never used them (units, yes/no, directions).
BASE_CORPUS = [
    "Question: Answer: yes no Yes No left right above below behind in front of closer farther",
    "meters metres meter centimeters cm m feet foot ft inches inch in mm millimeters",
    "How far is the from the camera? What is the distance between and? How tall wide big is it?",
    "the red green blue yellow white black orange purple cyan pink brown gray grey box chair table sofa",
    "0 1 2 3 4 5 6 7 8 9 . , ' \" degrees o'clock count about roughly approximately",
    "The image shows a room. What colour is the picture mostly? It is mostly",
]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train a BPE tokenizer on ``texts`` (+ a base corpus); same texts -> same tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Sorted, de-duplicated corpus: training order must not depend on dataset row order.
    corpus = sorted(set(BASE_CORPUS) | {t for t in texts if t})
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )
