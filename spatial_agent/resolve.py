"""Resolve an object phrase ("the red chair", "chairs", "couch") to objects of a ``Scene3D``.

Rules, in order:
1. exact caption match (articles ignored) -> that object;
2. the phrase's head noun (its last word, singular, a few synonyms) must be the object's head noun (the last
   word of its ``name``; compound heads allowed: "chair" finds an armchair, "shelf" a bookshelf), and every
   other word of the phrase must be found in the object's caption/name/attributes. So "the table" does not
   match "the white table lamp" (a lamp);
3. a plural phrase ("the chairs", "all chairs") resolves to the whole group of matches, and measurements
   against a group take the minimum over its members (the nearest chair is what blocks the path);
4. a singular phrase matching several objects is ambiguous (no guessing);
5. when nothing matches every word, a singular phrase resolves to the one object with its head noun that
   agrees with the most other words, if that object is unique (``relaxed``): perceived colours differ from the ones a person says. Existence questions never use it;
6. "desk" -> "table" is a fallback only: tried when no object has "desk" as its head noun.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spatialvlm_core.types import Object3D, Scene3D

_ARTICLES = {"the", "a", "an", "this", "that", "these", "those", "both", "all", "of", "two", "three", "some", "any"}
_GROUP_WORDS = {"both", "all", "these", "those", "two", "three", "some", "any"}  # "any chair": whichever of them
# A few everyday synonyms -> the category names scenes use.
SYNONYMS: dict[str, str] = {
    "couch": "sofa", "settee": "sofa", "tv": "television", "fridge": "refrigerator",
    "bookcase": "bookshelf", "shelves": "shelf", "doorway": "door", "seat": "chair", "plant": "plant",
}
# Looser synonyms, tried only when the strict head noun names nothing (a desk is usually its own category).
FALLBACK_SYNONYMS: dict[str, str] = {"desk": "table"}
_IRREGULAR = {"shelves": "shelf", "people": "person", "boxes": "box", "benches": "bench", "couches": "couch"}


def singular(word: str) -> str:
    """English singular of a noun (good enough for furniture)."""
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) > 3 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("ves"):
        return w[:-3] + "f"
    if len(w) > 3 and re.search(r"(ch|sh|x|ss|z)es$", w):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _norm(word: str) -> str:
    s = singular(word)
    return SYNONYMS.get(s, SYNONYMS.get(word, s))


# Compound nouns whose head is a word of its own: an armchair is a chair, a bookshelf a shelf.
_HEADS = ("chair", "shelf", "stand", "case", "table", "lamp")


def _vocab(obj: Object3D) -> set[str]:
    words = _words(obj.caption) + _words(obj.name) + [w for v in obj.attributes.values() for w in _words(v)]
    vocab = {_norm(w) for w in words} | {w.lower() for w in words}
    return vocab | {h for w in vocab for h in _HEADS if w.endswith(h) and w != h}


def head_noun(obj: Object3D) -> str:
    """The object's category noun: the last word of its name, singular ("coffee_table" -> "table")."""
    words = _words(obj.name) or _words(obj.caption)
    return _norm(words[-1]) if words else ""


def _head_matches(head: str, obj: Object3D) -> bool:
    """Phrase head vs object head: equal, or the object's head is a compound ending in it (armchair ~ chair)."""
    oh = head_noun(obj)
    return oh == head or (head in _HEADS and oh.endswith(head))


@dataclass
class Resolution:
    phrase: str
    objects: list[Object3D] = field(default_factory=list)
    group: bool = False
    ambiguous: bool = False
    relaxed: bool = False  # matched on the head noun only (the attributes did not agree)

    @property
    def found(self) -> bool:
        return bool(self.objects) and not self.ambiguous

    def describe(self) -> str:
        return ", ".join(o.caption for o in self.objects)


def is_plural(phrase: str) -> bool:
    words = _words(phrase)
    if not words:
        return False
    if any(w in _GROUP_WORDS for w in words):
        return True
    head = words[-1]
    return singular(head) != head or head in _IRREGULAR


_DEFINITE = ("the", "this", "that", "these", "those", "both", "all", "my", "our", "your", "his", "her", "their")
_WILDCARD = re.compile(r"(?:any|some)(?:thing|one)(?: else)?|(?:an?|any|some) (?:other )?(?:object|item|thing)s?|"
                       r"(?:other )?(?:objects|items|things)")


def is_definite(phrase: str) -> bool:
    """'the mug' / 'these chairs' name objects; 'a mug' / 'mugs' / 'anything' ask whether any such object exists."""
    words = phrase.strip().lower().split()
    return bool(words) and words[0] in _DEFINITE


def is_wildcard(phrase: str) -> bool:
    """'anything', 'something', 'an object', 'other objects': any object of the scene."""
    return bool(_WILDCARD.fullmatch(" ".join(phrase.strip().lower().split())))


def resolve(scene: Scene3D, phrase: str) -> Resolution:
    """Objects the phrase refers to (see module docstring)."""
    words = [w for w in _words(phrase) if w not in _ARTICLES]
    res = Resolution(phrase=phrase)
    if not words:
        return res
    candidates = [o for o in scene.objects if not o.ambiguous] or scene.objects
    bare = " ".join(words)
    exact = [o for o in candidates if " ".join(w for w in _words(o.caption) if w not in _ARTICLES) == bare]
    if len(exact) == 1:
        res.objects = exact
        return res
    head = _norm(words[-1])
    if head in FALLBACK_SYNONYMS and not any(_head_matches(head, o) for o in candidates):
        head = FALLBACK_SYNONYMS[head]
    modifiers = {_norm(w) for w in words[:-1]}
    by_head = [o for o in candidates if _head_matches(head, o)]
    matches = [o for o in by_head if modifiers <= _vocab(o)]
    if not matches:
        # Attributes are perceived, so a colour may differ ("beige" seen as "brown"): among the objects with the
        # head noun, the one agreeing with the most other words still names it when it is the only best one
        # ("the white coffee table" -> the grey coffee table, not the side table); never for a group or a tie.
        if by_head and not is_plural(phrase):
            score = [len(modifiers & _vocab(o)) for o in by_head]
            best = [o for o, sc in zip(by_head, score, strict=True) if sc == max(score)]
            if len(best) == 1:
                res.objects = best
                res.relaxed = True
        return res
    res.objects = matches
    if is_plural(phrase):
        res.group = True
    elif len(matches) > 1:
        res.ambiguous = True
    return res
