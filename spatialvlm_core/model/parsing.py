"""Answer text -> ``Answer``: uses ``spatialvlm_core.questions.quantities.parse_answer`` when the
questions package provides it, else the minimal fallback below (numbers + length units + yes/no)."""

from __future__ import annotations

import functools
import math
import re

from spatialvlm_core.model.dense_classes import DENSE_CLASSES
from spatialvlm_core.naming import COLOR_TABLE
from spatialvlm_core.questions import templates
from spatialvlm_core.questions.quantities import parse_answer as shared_parse
from spatialvlm_core.questions.question_types import RELATIONS
from spatialvlm_core.size_priors import PRIORS
from spatialvlm_core.types import Answer
from spatialvlm_core.units import canonical_unit, to_meters


def parse_answer(text: str, source: str = "") -> Answer:
    ans = shared_parse(text)
    if source and not ans.source:
        ans = ans.model_copy(update={"source": source})
    return ans


# A length as a model states it: "1.1 meters", "30 cm", "2 feet 6 inches", "half a meter".
# The spellings restate_length rewrites (a subset of units.UNIT_ALIASES, whose table maps them to symbols).
_LENGTH_WORDS = {w: canonical_unit(w) for w in ("meters", "meter", "metres", "metre", "m", "centimeters",
                                                "centimeter", "centimetres", "centimetre", "cm", "feet", "foot",
                                                "ft", "inches", "inch", "in")}
_WORDS_RE = "|".join(sorted(_LENGTH_WORDS, key=len, reverse=True))
_STATED_LENGTH = re.compile(
    rf"(?<![\w.])(?:\d+(?:\.\d+)?\s*(?:feet|foot|ft)\s*(?:and\s+)?\d+(?:\.\d+)?\s*(?P<in>inches|inch|in)"
    rf"|half\s+a\s+(?P<half>meter|metre)|\d+(?:\.\d+)?\s*(?P<unit>{_WORDS_RE}))(?![a-z])",
    re.IGNORECASE,
)


def _in_unit(meters: float, unit: str) -> str:
    """The number for ``meters`` in ``unit``, as precise as a person who measured would say it."""
    v = meters / to_meters(1.0, unit)
    if unit == "m" and v < 10:
        return f"{v:.2g}" if v >= 0.1 else f"{v:.2f}"
    if unit == "ft" and v < 10:
        return f"{v:.1f}"
    return str(round(v))


def restate_length(text: str, meters: float) -> str | None:
    """``text`` with its first stated length replaced by ``meters`` in the same unit words ("There is a roughly
    1.1 meters gap" -> "There is a roughly 0.68 meters gap"); "2 feet 6 inches" becomes "2.3 feet" and "half a
    meter" "0.42 meters". None when the text states no length this can find."""
    m = _STATED_LENGTH.search(text)
    if m is None or not (meters > 0 and math.isfinite(meters)):
        return None
    if m.group("in"):
        phrase = f"{_in_unit(meters, 'ft')} feet"
    elif m.group("half"):
        phrase = f"{_in_unit(meters, 'm')} {m.group('half')}s"
    else:
        word = m.group("unit")
        unit = _LENGTH_WORDS[word.lower()]
        phrase = f"{_in_unit(meters, unit)} {word}"
    return text[:m.start()] + phrase + text[m.end():]


# --------------------------------------------------------------------------- does an answer answer the question?
# A small VLM can write a fluent sentence about another object or another quantity than the question asked
# ("How far is the night stand from the dresser mirror?" -> "The bottom of the blue mug is roughly 74 centimeters
# off the ground."). Such a sentence is not a measurement of what was asked: it is rejected, never restated or
# scored as the asked value. The same check serves the tool (``infer.SpatialVLM``) and both scorers
# (``model.evaluate``, ``evals.qa_metrics``).

# Length quantities, each with the words that say it, in the order they are tried: the first group whose pattern
# occurs in a text says which quantities the text can be about (a set: "away" fits a distance or a camera
# distance). Specific phrases come before the general ones they contain ("height above the floor" is not a height).
_QUANTITY_WORDS: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = tuple(
    (frozenset(names), re.compile(pattern, re.IGNORECASE)) for names, pattern in (
        (("elevation",), r"\b(above|off|up from) the (floor|ground)\b|\braised\b|\bhigh off\b"),
        (("camera difference",), r"\b(farther|further|closer|more distant)\b.*\b(camera|viewer|away)\b|"
                                 r"\bcamera distance\b|\bfarther\b|\bfurther away\b"),
        (("camera distance",), r"\bcamera\b|\bviewer\b|\bphotographer\b|\bphoto was taken\b|\bhow far away\b"),
        (("difference",), r"\b(taller|shorter|higher|lower) (than|by)\b|\bheight difference\b|\bdifference in "
                          r"height\b|\brises?\b|\bexceeds?\b|\breach(es)?\b.*\bhigher\b|\bstick out above\b|"
                          r"\bhow much (higher|taller|shorter|further up|more height)\b"),
        (("difference", "camera difference", "separation"), r"\bdiffer(ence|s)?\b"),
        (("separation", "camera distance"), r"\bdistance (to|from)\b|\baway\b"),
        (("separation",), r"\bapart\b|\bdistance\b|\bdistant\b|\bgap\b|\bclearance\b|\bfree space\b|\bspace between\b|"
                          r"\broom between\b|\bbetween\b|\bseparat\w*\b|\bclosest\b|\bnearest\b|\bhow (far|close|near)\b|"
                          r"\bcomes? within\b|\bedges?\b"),
        (("width",), r"\bwide\b|\bwidth\b|\bbroad\b|\bacross\b"),
        (("depth",), r"\bdeep\b|\bdepth\b|\bfront to back\b|\bshorter side\b"),
        (("height",), r"\btall\b|\bheight\b|\bhigh\b|\bstands\b"),
        (("separation", "camera distance"), r"\bfrom\b|\baway\b|\bfar\b"),
    )
)
# What each metric QA type measures (the quantities above).
QTYPE_QUANTITY: dict[str, str] = {
    "distance": "separation", "horizontal_distance": "separation", "vertical_distance": "separation",
    "gap": "separation", "min_distance": "separation", "width": "width", "height": "height", "depth": "depth",
    "height_above_floor": "elevation", "elevation_difference": "difference", "height_difference": "difference",
    "distance_to_camera": "camera distance", "farther_by": "camera difference",
}  # fmt: skip
QUANTITY_WORDS: dict[str, str] = {
    "separation": "a distance between the objects", "width": "a width", "height": "a height", "depth": "a depth",
    "elevation": "a height above the floor", "difference": "a height difference",
    "camera distance": "a distance from the camera", "camera difference": "a difference in camera distance",
}
# Spatial relations and comparisons a yes/no or which-of-two question can ask.
_RELATION_RE = re.compile(
    r"\b(left|right|above|below|behind|in front|front|closer|farther|further|nearer|taller|shorter|bigger|smaller|"
    r"larger|wider|narrower|higher|lower|on top|under|underneath|beneath|over|next to|beside|near|fit|far|close|"
    r"where|size|big|long|wide|tall|high|deep|distance)\b", re.IGNORECASE)
# The caption colour words (naming's one table, so "teal" is one too), plus the British spelling of gray.
COLOR_WORDS: tuple[str, ...] = (*COLOR_TABLE, "grey")
# Spellings of the simulator's class names that people write ("night stand" for the catalogue's "nightstand").
_ALIASES: dict[str, str] = {
    "night stand": "nightstand", "night-stand": "nightstand", "bedside table": "nightstand", "couch": "sofa",
    "refrigerator": "fridge", "television": "tv", "tv set": "tv", "bookcase": "bookshelf", "end table": "side table",
    "houseplant": "potted plant", "flowerpot": "potted plant", "wastebasket": "trash can", "bin": "trash can",
    "cupboard": "cabinet", "closet": "wardrobe", "picture": "painting", "footstool": "ottoman", "cup": "mug",
    "grey": "gray",
}  # fmt: skip
_ALIAS_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(a) for a in sorted(_ALIASES, key=len, reverse=True))
                       + r")(?![\w-])", re.IGNORECASE)
_NOT_OBJECTS = frozenset({"floor", "ground", "camera", "viewer", "photographer", "image", "picture frame", "scene",
                          "photo", "room", "wall", "edge", "edges", "center", "centre", "top", "bottom", "side",
                          "distance", "gap", "height", "width", "depth", "space", "clearance", "one", "other", "two",
                          "answer", "point", "points", "nearest parts", "shorter side", "tops", "same way",
                          "same direction", "viewpoint", "line", "horizontal plane", "vertical", "difference"})


def quantity_of(text: str) -> frozenset[str] | None:
    """The length quantities ``text`` (a question or an answer) can be about, or None when it names none."""
    for names, pattern in _QUANTITY_WORDS:
        if pattern.search(text):
            return names
    return None


def asked_quantity(question: str) -> str | None:
    """The one length quantity a metric question asks ("How far is A from B?" -> "separation"), else None.

    A question in one of the QA data's wordings is read by its template; any other by its words."""
    qtype = _question_template(question)[0]
    if qtype in QTYPE_QUANTITY:
        return QTYPE_QUANTITY[qtype]
    if qtype is not None or not re.search(r"\b(how|what|measure|tell me)\b", question, re.IGNORECASE):
        return None
    if re.match(r"\W*(is|are|does|do|can|would|could|will|which|who)\b", question, re.IGNORECASE):
        return None  # a yes/no or which-of-two question ("Is the lamp far from the sofa?")
    found = quantity_of(_without(question, object_phrases(question)))  # "the farther chair" names, not asks
    return None if found is None else sorted(found)[-1]  # "from"/"far" alone: separation, unless camera words


def _without(text: str, phrases: list[str]) -> str:
    """``text`` with the object phrases cut out (captions such as "the taller shelf" carry quantity words)."""
    for p in sorted(phrases, key=len, reverse=True):
        core = re.sub(r"^(the|a|an|any)\s+", "", p.strip(), flags=re.IGNORECASE)
        if core:
            text = re.sub(rf"(?<![\w-]){re.escape(core)}(?![\w-])", " ", text, flags=re.IGNORECASE)
    return text


def normalize_question(question: str) -> str:
    """``question`` with common spellings of the simulator's class names replaced by the catalogue's
    ("night stand" -> "nightstand", "couch" -> "sofa"), so that the model sees the names it was trained on."""
    return _ALIAS_RE.sub(lambda m: _ALIASES[m.group(0).lower()], question)


@functools.cache
def _vocabulary_regex() -> re.Pattern[str]:
    """Object class names an answer can name: the simulator's catalogue and the size-prior classes, as one
    alternation, longest first (so "coffee table" is found before "table"; plurals too)."""
    names = set(DENSE_CLASSES[1:]) | set(PRIORS)
    names -= set(COLOR_WORDS) | {"tie", "remote", "mouse", "train", "glass", "picture"}
    alt = "|".join(re.escape(n) for n in sorted(names, key=lambda n: (-len(n), n)))
    return re.compile(rf"(?<![\w-])(?P<name>{alt})(?:s|es)?(?![\w-])")


def named_objects(text: str) -> list[tuple[str | None, str]]:
    """(colour or None, class name) of every object class named in ``text``, in order (a name inside a longer
    one's match does not count: "table" in "coffee table")."""
    low = normalize_question(text).lower()
    out = []
    for m in _vocabulary_regex().finditer(low):
        before = re.findall(r"\w+", low[max(0, m.start() - 24):m.start()])[-2:]
        out.append((next((w for w in before if w in COLOR_WORDS), None), m.group("name")))
    return out


def _head(name: str) -> str:
    return name.split()[-1]


def _mentions(question: str, colour: str | None, name: str) -> str | None:
    """Why the object (colour, class) is not one the question asks about, or None when it is.

    Its class must be named in the question and its colour, if it says one, too. A colour of the other asked
    object is tolerated: the tiny model often copies one object's class into the other's slot ("between the gray
    sofa and the beige sofa" for "the gray sofa and the beige coffee table"), a slip of its words about the asked
    pair, whose number (the relation head's, read from the question) is not the sentence's."""
    low = normalize_question(question).lower()
    head = _head(name)
    if not re.search(rf"(?<![\w-]){re.escape(head)}(?:s|es)?(?![\w-])", low):
        return f"it names {'the ' + colour + ' ' if colour else 'the '}{name}, which the question does not mention"
    said = set(re.findall(r"\w+", low)) & set(COLOR_WORDS)
    if colour is not None and said and colour not in said:
        return f"it names the {colour} {name}, but the question asks about the {'/'.join(sorted(said))} one"
    return None


def rejection(question: str, text: str) -> str | None:
    """Why ``text`` does not answer ``question`` (it names an object the question does not mention, or states
    another length quantity than the one asked), or None when nothing contradicts it. A bare number ("About 1.1
    m.") or a sentence about the asked objects passes."""
    question = normalize_question(question)
    reasons = []
    for colour, name in named_objects(text):
        why = _mentions(question, colour, name)
        if why and why not in reasons:
            reasons.append(why)
    asked = asked_quantity(question)
    if asked is not None and _STATED_LENGTH.search(text):
        said = quantity_of(_without(text, object_phrases(question)))
        if said is not None and asked not in said:
            reasons.append(f"it states {' or '.join(QUANTITY_WORDS[s] for s in sorted(said))}, "
                           f"not the {QUANTITY_WORDS[asked].split(' ', 1)[1]} asked")
    return "; ".join(reasons) or None


REJECTED_PREFIX = "I can't answer"  # every refusal and rejection of the learned tool starts with this


def checked_answer(question: str, answer: Answer) -> Answer:
    """``answer`` when it answers ``question``; else an Answer with no number and no yes/no whose text says that
    the model's sentence was rejected and why (the sentence is quoted, never restated). A refusal passes as is."""
    if is_declined(answer):
        return answer
    why = rejection(question, answer.text)
    if why is None:
        return answer
    return Answer(text=f"{REJECTED_PREFIX}: the model's answer {answer.text.strip()!r} was rejected because {why}.",
                  source=answer.source)


def is_declined(answer: Answer) -> bool:
    """Whether ``answer`` is a refusal or a rejected sentence (no measurement, no yes/no)."""
    return answer.text.startswith(REJECTED_PREFIX) and answer.value is None and answer.boolean is None


# --------------------------------------------------------------------------- what a question asks about
_QUESTION_TEMPLATES: list[tuple[str, re.Pattern[str]]] | None = None


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[A-Za-z_]+\})", template)
    out = []
    seen: set[str] = set()
    for p in parts:
        m = re.fullmatch(r"\{([A-Za-z_]+)\}", p)
        if m is None:
            out.append(re.escape(p))
        elif m.group(1) in ("A", "B") and m.group(1) not in seen:
            seen.add(m.group(1))
            out.append(rf"(?P<{m.group(1)}>(?:the|a|an|any)\s.+?)")
        elif m.group(1) in ("rel", "opp", "adj"):
            out.append(f"(?:{_relation_words()})")
        else:
            out.append(r".+?")
    return re.compile(r"^\s*" + "".join(out).rstrip("\\.?") + r"\s*[.?!]?\s*$", re.IGNORECASE)


def _relation_words() -> str:
    """The QA data's relation and comparison phrases ("to the left of", "bigger than", "closer") as a regex."""
    words = {w for r in RELATIONS for w in (r.rel, r.opp, r.adj, r.adj_opp)}
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _question_templates() -> list[tuple[str, re.Pattern[str]]]:
    """(question type, regex) for every question wording of the QA data, longest template first."""
    global _QUESTION_TEMPLATES
    if _QUESTION_TEMPLATES is None:
        rows = [(q, tpl) for q in templates.QUANT_Q for tpl in templates.quant_questions(q)]
        rows += [("predicate", tpl) for tpl in templates.SPATIAL_PREDICATE_Q + templates.COMPARATIVE_PREDICATE_Q]
        rows += [("choice", tpl) for tpl in templates.CHOICE_Q]
        rows.sort(key=lambda r: -len(r[1]))
        _QUESTION_TEMPLATES = [(q, _template_regex(tpl)) for q, tpl in rows]
    return _QUESTION_TEMPLATES


def _question_template(question: str) -> tuple[str | None, list[str]]:
    """(question type, object phrases) when ``question`` is in one of the QA data's wordings, else (None, [])."""
    for qtype, rx in _question_templates():
        m = rx.match(question)
        if m:
            return qtype, [v for k, v in m.groupdict().items() if v]
    return None, []


_PHRASE = re.compile(
    r"\b(?:the|a|an|any)\s+((?:[a-z-]+\s+){0,3}?[a-z-]+?)(?=\s+(?:from|and|to|than|is|are|in|on|at|of|or|near|next|"
    r"behind|above|below|under|over|with|come|comes|stand|stands|sit|sits|reach|reaches|be|look|seem|appear|"
    r"located|positioned|situated|placed|off|up|have|has|measure|would|when|if|relative|along)\b|\s*[?.,:;!]|$)",
    re.IGNORECASE)


def object_phrases(question: str) -> list[str]:
    """The object phrases a question names ("How far is the piano from the sofa?" -> ["the piano", "the sofa"]):
    the QA wording's slots when it is one, else every "the/a/an ..." phrase that names no place or quantity."""
    _, slots = _question_template(question)
    if slots:
        return slots
    out = []
    for m in _PHRASE.finditer(question):
        words = m.group(1).lower()
        if words not in _NOT_OBJECTS and words.split()[-1] not in _NOT_OBJECTS:
            out.append(m.group(0).split()[0] + " " + m.group(1))
    return out


def is_spatial(question: str) -> bool:
    """Whether ``question`` asks a spatial quantity or relation (a distance, size, height, position, comparison)."""
    return asked_quantity(question) is not None or _question_template(question)[0] is not None or bool(
        _RELATION_RE.search(question))


def ungroundable(question: str, classes: tuple[str, ...]) -> list[str]:
    """The question's object phrases that name none of ``classes`` (the object classes a model was trained on),
    nor the last word of one ("the chair" for "dining chair")."""
    heads = {_head(c) for c in classes} | set(classes)
    out = []
    for phrase in object_phrases(normalize_question(question)):
        low = phrase.lower()
        if not any(re.search(rf"(?<![\w-]){re.escape(h)}(?:s|es)?(?![\w-])", low) for h in heads):
            out.append(phrase)
    return out
