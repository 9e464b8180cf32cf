"""The toolkit's one object-phrase resolver: "the red chair", "chairs", "couch", "the nightstand" -> objects of a
``Scene3D``. The agent's tools and planners use it, and so does ``geometric_vlm.GeometricVLM`` for the captions
of template questions (``Resolution.exact``: the phrase was the object's own caption).

Class names come from the toolkit's one vocabulary (``spatialvlm_core.vocabulary``): synonyms ("couch" = sofa,
"nightstand" = "bedside table" = night stand, "television" = tv), head nouns and fallbacks.

Rules, in order:
1. exact caption match (articles ignored) -> that object (``exact``); a caption that several objects share
   (``Object3D.ambiguous``: nothing tells them apart) is ambiguous, never another object;
2. the phrase's class (the longest known class or synonym at its end, else its singular last word; for the
   captioner's "the person in red", the class before "in") must be one of the object's kinds (its own class or
   a head it is a kind of: "chair" finds an armchair, "table" a coffee table, "shelf" a bookshelf), and every
   other word of the phrase must be found in the object's caption/name/attributes. So "the table" does not
   match "the white table lamp" (a lamp). An alias that names a kind of its class ("dining chair", "table
   lamp": <word> <class>) keeps only the objects carrying its words when the scene has any, so "the red dining
   chair" is not the red armchair and "the table lamp" not the floor lamp;
3. a plural phrase ("the chairs", "all chairs") resolves to the whole group of matches, and measurements
   against a group take the minimum over its members (the nearest chair is what blocks the path);
4. a singular phrase matching several objects is ambiguous (no guessing);
5. when nothing matches every word, a singular phrase resolves to the one object of its class that agrees
   with the most other words, if that object is unique (``relaxed``): perceived colours differ from the ones
   a person says, and a noisy reconstruction's caption from the one a question was made with ("the larger red
   chair" finds "the red chair"). A compound class with no object of its own ("the coffee table") tries its
   head ("table") this way, with the compound's words as the words to agree with. Not when the other words
   name a class in the scene ("the space between the cabinet and the side table", "the bed next to the
   plant": two objects). Existence questions never use it;
6. fallbacks ("desk" -> table, "armchair" -> chair, ``vocabulary.FALLBACKS``) are tried only when no object is
   of the asked class itself.

When nothing is found and the scene's detector cannot name the class at all (a closed-set detector such as
COCO's has no "night stand"), ``Resolution.unnamed`` says so and what would work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spatialvlm_core.perception.labels import CLOSED_SET_VOCABULARIES, DETECTOR_VOCABULARY
from spatialvlm_core.types import Object3D, Scene3D
from spatialvlm_core.vocabulary import (
    DETERMINERS,
    FALLBACKS,
    IRREGULAR_PLURALS,
    SYNONYMS,
    clean,
    kinds,
    selects,
    singular,
    split_phrase,
)

_ARTICLES = {"the", "a", "an", "this", "that", "these", "those", "both", "all", "of", "two", "three", "some", "any"}
_GROUP_WORDS = {"both", "all", "these", "those", "two", "three", "some", "any"}  # "any chair": whichever of them
__all__ = [
    "FALLBACKS",
    "SYNONYMS",
    "Resolution",
    "detector_gap",
    "head_noun",
    "is_definite",
    "is_plural",
    "is_wildcard",
    "resolve",
    "singular",
]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _norm(word: str) -> str:
    s = singular(word)
    return SYNONYMS.get(s, SYNONYMS.get(word, s))


def _object_kinds(obj: Object3D) -> set[str]:
    return kinds(obj.name or obj.caption)


def _vocab(obj: Object3D) -> set[str]:
    words = _words(obj.caption) + _words(obj.name) + [w for v in obj.attributes.values() for w in _words(v)]
    vocab = {_norm(w) for w in words} | {w.lower() for w in words}
    return vocab | _object_kinds(obj) | {k for w in vocab for k in kinds(w)}


def head_noun(obj: Object3D) -> str:
    """The object's class, synonyms resolved ("coffee_table" -> "coffee table", "nightstand" -> "night stand")."""
    return split_phrase(obj.name or obj.caption)[1]


@dataclass
class Resolution:
    phrase: str
    objects: list[Object3D] = field(default_factory=list)
    group: bool = False
    ambiguous: bool = False
    exact: bool = False  # the phrase is the object's caption (rule 1), not a class + words match
    relaxed: bool = False  # matched on the head noun only (the attributes did not agree)
    unnamed: str | None = None  # nothing found and the scene's detector cannot name the class: why, what works

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
    return singular(head) != head or head in IRREGULAR_PLURALS


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


def _of_class(cls: str, objects: list[Object3D]) -> list[Object3D]:
    return [o for o in objects if cls in _object_kinds(o)]


def detector_classes(scene: Scene3D) -> tuple[str, tuple[str, ...]] | None:
    """(description, class names) of the closed-set detector the scene was made with; None when the detector
    names anything asked (open vocabulary), names the truth (ground truth) or is not recorded."""
    prov = scene.provenance or {}
    det = prov.get("detector")
    if not isinstance(det, str):
        return None
    vocab = prov.get("detector_vocabulary") or DETECTOR_VOCABULARY.get(det)
    if isinstance(vocab, str) and vocab in CLOSED_SET_VOCABULARIES:
        return f"the built-in {vocab.upper()} detector ({det})", CLOSED_SET_VOCABULARIES[vocab]
    classes = prov.get("detector_classes")
    if isinstance(classes, list) and all(isinstance(c, str) for c in classes):
        if det == "boxes":
            where = f" ({prov['boxes']})" if prov.get("boxes") else ""
            return f"the supplied boxes{where}", tuple(classes)
        return f"the detector ({det})", tuple(classes)
    return None


def detector_gap(scene: Scene3D, phrase: str) -> str | None:
    """Why nothing in the scene can be ``phrase``'s class when its detector has no such class, and what would
    work; None when the detector could have named it (then it simply is not there)."""
    known = detector_classes(scene)
    if known is None:
        return None
    who, classes = known
    _, cls = split_phrase(phrase)
    if not cls or any(selects(cls, c) for c in classes):
        return None
    if scene.provenance.get("detector") == "boxes":
        labels = ", ".join(sorted(set(classes))) or "nothing"
        return (f"{who} label only {labels}, none of them a {cls!r}; add a box labelled {cls!r} to the boxes "
                "file (--boxes B.json)")
    return (f"{who} has no {cls!r} class; pass labelled boxes (--boxes B.json) or use an open-vocabulary "
            "detector with local weights (--detector owlv2 --detector-model DIR)")


def _class_words(phrase: str, candidates: list[Object3D]) -> tuple[list[str], str]:
    """(modifier words, class) of the phrase; "the person in red" (the captioner's form for people): the class
    before "in", the words after it are modifiers, when that class is in the scene and the last word's is not."""
    mods, cls = split_phrase(phrase)
    words = clean(phrase).split()
    if "in" in words and not _of_class(cls, candidates):
        i = words.index("in")
        before, head = split_phrase(" ".join(words[:i]))
        if head and _of_class(head, candidates):
            return [*before, *words[i + 1:]], head
    return mods, cls


def _alias_words(mods: list[str], phrase: str, cls: str) -> set[str]:
    """The words an alias adds to its class when it names a kind of it ("dining chair" -> chair: {"dining"};
    "table lamp" -> lamp: {"table"}); empty for a plain class or a true synonym ("bedside table" -> night stand)."""
    words = clean(phrase).split()
    while words and words[0] in DETERMINERS:
        words = words[1:]
    tail = words[len(mods):]
    if len(tail) < 2 or singular(tail[-1]) != cls:
        return set()
    return {w for w in tail[:-1] if w not in cls.split()}


def _names_another(mods: list[str], candidates: list[Object3D]) -> bool:
    """Whether the modifier words name the class of an object in the scene (its own or a head it is a kind of)."""
    said = {singular(w) for w in mods} | set(mods)
    return any(set(k.split()) <= said for o in candidates for k in _object_kinds(o))


def resolve(scene: Scene3D, phrase: str) -> Resolution:
    """Objects the phrase refers to (see module docstring)."""
    words = [w for w in _words(phrase) if w not in _ARTICLES]
    res = Resolution(phrase=phrase)
    if not words:
        return res
    candidates = [o for o in scene.objects if not o.ambiguous] or scene.objects
    bare = " ".join(words)
    exact = [o for o in scene.objects if " ".join(w for w in _words(o.caption) if w not in _ARTICLES) == bare]
    named = [o for o in exact if any(o is c for c in candidates)]
    if len(named) == 1 or len(exact) == 1:
        res.objects = named if len(named) == 1 else exact
        res.exact = True
        return res
    if len(exact) > 1:  # the caption of objects that nothing tells apart (``Object3D.ambiguous``): never another
        res.objects = exact
        res.ambiguous = True
        return res
    mods, cls = _class_words(phrase, candidates)
    modifiers = {_norm(w) for w in mods if w not in _ARTICLES}
    by_head = _of_class(cls, candidates)
    narrow = _alias_words(mods, phrase, cls)
    if narrow and (kind := [o for o in by_head if narrow <= _vocab(o)]):
        by_head = kind
    for alt in FALLBACKS.get(cls, ()) if not by_head else ():
        by_head = _of_class(alt, candidates)
        if by_head:
            break
    if not by_head:  # "the coffee table" with no coffee table: its head's objects, agreeing on "coffee"
        for head in sorted(kinds(cls) - {cls}):
            by_head = _of_class(head, candidates)
            if by_head:
                modifiers |= {_norm(w) for w in cls.split()} - {head}
                break
    matches = [o for o in by_head if modifiers <= _vocab(o)]
    if not matches:
        # Attributes are perceived, so a colour may differ ("beige" seen as "brown"): among the objects with the
        # head noun, the one agreeing with the most other words still names it when it is the only best one
        # ("the white coffee table" -> the grey coffee table, not the side table); never for a group or a tie,
        # nor when the other words name a class in the scene ("the space between the cabinet and the side table",
        # "the bed next to the plant": two objects; the last noun is not the one meant).
        if by_head and not is_plural(phrase) and not _names_another(mods, candidates):
            score = [len(modifiers & _vocab(o)) for o in by_head]
            best = [o for o, sc in zip(by_head, score, strict=True) if sc == max(score)]
            if len(best) == 1:
                res.objects = best
                res.relaxed = True
        if not res.objects:
            res.unnamed = detector_gap(scene, cls)
        return res
    res.objects = matches
    if is_plural(phrase):
        res.group = True
    elif len(matches) > 1:
        res.ambiguous = True
    return res
