"""RulePlanner: the embedded, offline planner (no LLM) for the affordance question families.

A question is normalised (lower case, stated lengths such as "1.2 m", "80 cm", "3 ft", "5 ft 6 in",
"one metre", "half a metre" replaced by a ``<L>`` token), then tried against ordered rules, one per family:
reach, distance vs a length, clearance/fit between two objects, fit through / under / on an object,
an object's size vs a length, object vs object comparisons, plain measurements, spatial relations ("is there a
mug on the table?", "is the lamp to the left of the sofa?": a ``relation`` sub-query the tool decides from
geometry) and existence. All rules match through one helper, ``_matches``.
Anything else is refused with "I can only answer spatial questions about the image."
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from spatial_agent.schema import Plan, SubQuery
from spatialvlm_core.phrases import is_definite
from spatialvlm_core.units import METERS_PER_UNIT, UNIT_ALIASES

REFUSAL = "I can only answer spatial questions about the image."

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "half a": 0.5, "half": 0.5, "a quarter": 0.25, "a": 1, "an": 1, "one and a half": 1.5,
}
_UNIT_WORDS = sorted((k for k in UNIT_ALIASES if k.isalpha()), key=len, reverse=True)
_WORDS = "|".join(sorted(map(re.escape, _WORD_NUMBERS), key=len, reverse=True))
# "1,200" (thousands), "2.5", ".5", "two and a half", "one", "half a".
_NUM = rf"(?:\d{{1,3}}(?:,\d{{3}})+(?![\d,])|\d+(?:\.\d+)?|\.\d+|(?:\d+|{_WORDS}) and a half|{_WORDS})"
def _one(i: int) -> str:
    # The number starts a word ("beam" is not "be" + "a m"); a number in words takes a unit in words ("one in the
    # corner" is not an inch), see ``_length_of``.
    return (rf"(?<![a-z0-9.])(?P<n{i}>{_NUM})\s*-?\s*(?P<u{i}>{'|'.join(_UNIT_WORDS)})(?![a-z])"
            rf"(?P<h{i}>\s+and\s+a\s+half\b)?")


# "5 ft 6", "5'6\"", "5 feet 6 inches": feet then a bare number of inches.
_FT_IN = (r"(?P<fn>\d+)\s*(?:ft|feet|foot|')\s*(?P<fi>\d{1,2})(?![\d.])"
          r"(?:\s*(?:inches|inch|in)(?![a-z])|\s*\")?")
_LENGTH = re.compile(
    _FT_IN + "|" + _one(0) + r"(?:\s*(?:and\s+)?" + _one(1) + r")?(?:\s*-\s*(?=[a-z]))?"
)
_FLUFF = re.compile(
    r"\s*(?:,|\bin (?:the|this) (?:image|picture|photo|room|scene)\b|\bhere\b|\bplease\b|"
    r"\bright now\b|\bwithout (?:touching|hitting|bumping).*|\bside by side\b|\bat once\b).*$"
)
# Trailing clauses that describe, not name, the object: "the shelf mounted on the wall" -> "the shelf".
_CUT = re.compile(r"\s+(?:with|having|whose|that has|which has|if|when|so that|mounted|placed|hung|hanging|"
                  r"located|standing|positioned)\b.*$")
_ARTICLE = re.compile(r"^(?:the|a|an|this|that|these|those|my|our)\s+")


def _number(text: str) -> float:
    t = re.sub(r"\s+", " ", text.strip())
    if t.endswith(" and a half"):  # "two and a half", "1 and a half"
        return _number(t[: -len(" and a half")]) + 0.5
    if t in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[t])
    return float(t.replace(",", ""))


def _length_of(m: re.Match[str]) -> float | None:
    """Metres of one ``_LENGTH`` match; None when it is no length ("a in", "one m": a word number with a symbol)."""
    if m.group("fn"):
        return int(m.group("fn")) * METERS_PER_UNIT["ft"] + int(m.group("fi")) * METERS_PER_UNIT["in"]
    meters = 0.0
    for i in ("0", "1"):
        if m.group(f"n{i}"):
            if m.group(f"n{i}")[0].isalpha() and m.group(f"u{i}") in ("in", "m"):
                return None
            unit = METERS_PER_UNIT[UNIT_ALIASES[m.group(f"u{i}")]]
            meters += (_number(m.group(f"n{i}")) + (0.5 if m.group(f"h{i}") else 0.0)) * unit  # "a metre and a half"
    return meters


def extract_lengths(text: str) -> tuple[str, list[float]]:
    """Replace each stated length by ``<L>``; return the new text and the lengths in metres."""
    found: list[float] = []

    def repl(m: re.Match[str]) -> str:
        meters = _length_of(m)
        if meters is None:
            return m.group(0)
        found.append(meters)
        return " <L> "

    out = _LENGTH.sub(repl, text)
    return re.sub(r"\s+", " ", out).strip(), found


_QW = (r"(?:is|are|can|could|would|will|does|do|did|has|have|should|which|how|what|what's|whats|count|measure|"
       r"estimate|tell)")
# A lead-in clause with nothing to measure in it ("quick question:", "looking at this photo,", "before the movers
# arrive,"): it is dropped. One naming objects, a position or a condition ("standing at the desk,") is kept.
_CONTENT = re.compile(r"\b(?:between|and|or|of|standing|sitting|parked|placed|if|reach|with|which|than|<l>)\b|"
                      r"\bfrom (?!the camera\b|here\b)")
_ASK_LEAD = re.compile(r"^(?:would you say|do you think|is it true that|can you confirm (?:if|whether)|"
                       r"could you tell me (?:if|whether)|i wonder (?:if|whether)|do you know (?:if|whether)) "
                       r"(?P<s>.+?) (?P<v>is|are) ")
_FALSE_LEAD = re.compile(r"^is it (?:false|not true|not the case|untrue) that (?P<s>.+?) (?P<v>is|are) ")
_PRONOUN_Q = re.compile(r"^(?:will|would|can|could|does|do) (?:it|they|that|this) (?:fit|go|pass|get through|make it)"
                        r"\b(?P<tail>.*)$")
_MOVE = re.compile(r"\b(?:roll|push|move|carry|get|fit|put|drive|bring|squeeze|take) (?P<x>(?:a|an|the|my|our) .+?) "
                   r"(?P<rest>(?:between|through|under|underneath|beneath|on|onto|past)\b.+)$")
# Appositives and non-restrictive clauses set off by commas: "the red chair, the one by the window, ...".
_APPOSITIVE = re.compile(r",\s*(?:(?:the|a) (?:\w+ )?one\b[^,]*(?:,|$)|(?:which|who) (?!one\b|is \w+er\b|of\b)[^,]*,)")
# A location that only describes an object ("the chair near the window left of the sofa"): walls, windows and
# corners are not objects the tools measure. At the very end it may be what is asked about, so it stays there.
_ROOM_PART = re.compile(r"\s+(?:near|by|against|in|next to|beside|over by|under) (?:the|a) (?:window|wall|corner|"
                        r"radiator)(?=\s+\S)")


def _core_sentence(q: str) -> str:
    """The sentence that asks: the last one with '?' (else the first that starts like a question), with a
    preceding statement folded in when the question only says "will it fit?"."""
    sentences = [x.strip() for x in re.split(r"(?<=[?!.])\s+(?=[a-z])", q) if x.strip()]
    asks = [i for i, x in enumerate(sentences) if x.endswith("?")]
    if not asks:
        asks = [i for i, x in enumerate(sentences) if re.match(rf"{_QW}\b", x)] or [0]
    i = asks[-1] if sentences[asks[-1]].endswith("?") else asks[0]
    core = sentences[i]
    m = _PRONOUN_Q.match(re.sub(r"[?!.]+$", "", core))
    if m and i > 0:
        prev = _MOVE.search(re.sub(r"[?!.]+$", "", sentences[i - 1]))
        if prev:
            core = f"will {prev.group('x')} fit {prev.group('rest')}{m.group('tail')}"
    return core


def _drop_lead(q: str) -> str:
    """'quick question: is ...' -> 'is ...'; 'the sofa and the chair: is there room ... between them' -> '... between
    the sofa and the chair'; 'the lamp or the sofa: which is taller' -> 'which is taller, the lamp or the sofa'."""
    m = re.match(r"^(?P<lead>[^:]{1,60}):\s+(?P<rest>.+)$", q)
    if m and not _CONTENT.search(m.group("lead")) and not re.match(rf"{_QW}\b", m.group("lead")):
        return m.group("rest")  # "my landlord asked me this: the bed or the stool: which ..."
    m = re.match(rf"^(?P<lead>.+?)\s*(?::|\s-|\s–|\s—)\s+(?P<rest>(?:{_QW}|of|between)\b.*)$", q)
    if m:
        lead, rest = m.group("lead"), m.group("rest")
        if " and " in lead and re.search(r"\bbetween (?:them|the two|both)\b", rest):
            return re.sub(r"\bbetween (?:them|the two|both)\b", f"between {lead}", rest)
        if " or " in lead and rest.startswith("which"):
            return f"{rest}, {lead}"
        if not _CONTENT.search(lead):
            return rest
    m = re.match(rf"^(?P<lead>[^,]{{1,60}}),\s*(?:but |so |then )?(?P<rest>(?:{_QW}|of|between)\b.*)$", q)
    if m and not _CONTENT.search(m.group("lead")):
        return m.group("rest")
    return q


def normalise(question: str) -> str:
    q = question.lower().replace("’", "'").replace("‘", "'").replace("”", '"').replace("“", '"')
    q = re.sub(r"\s+", " ", q.strip())
    q = _core_sentence(q)
    q = re.sub(r"[?!.]+\s*$", "", q.strip())
    q = re.sub(r"\b(?:please|hey|ok|okay),?\s*", "", q)
    q = re.sub(r"^(?:tell me|i want to know|i wonder|do you know|can you tell me|could you tell me)"
               r"(?: whether| if)?,?\s*", "", q)
    for _ in range(3):  # "quick question: the sofa and the chair: is there room ... between them"
        q = _drop_lead(q.strip())
    q = _ASK_LEAD.sub(lambda m: f"{m.group('v')} {m.group('s')} ", q)
    q = _FALSE_LEAD.sub(lambda m: f"{m.group('v')} {m.group('s')} not ", q)
    q = re.sub(r"\bseparating (.+?) (?:from|and) ", r"between \1 and ", q)  # "the space separating A from B"
    q = re.sub(r"\b(gap|space|clearance|free space|free floor|room) from (.+?) to ", r"\1 between \2 and ", q)
    q = re.sub(r"\bless (tall|high|wide) than\b", lambda m: {"tall": "shorter", "high": "lower",
                                                               "wide": "narrower"}[m.group(1)] + " than", q)
    q = re.sub(r"^(is|are) (.+?) (?:both|either) (?=(?:more|less|wider|narrower|taller|shorter|higher|lower|deeper|"
               r"longer|at least|at most|over|under)\b)", r"\1 \2 ", q)
    q = re.sub(r"^compared (?:with|to) ([^,]+), (is|are) (.+?) (\w+er)$", r"\2 \3 \4 than \1", q)
    q = _APPOSITIVE.sub(" ", q)
    q = _ROOM_PART.sub("", q)
    return re.sub(r"\s+", " ", q).strip(" ,")


# Phrases that are not objects: a quantity ("the space separating ...", "the width of ..."), a comparison or a
# clause ("the sofa is wide", "the window less than twice as tall as ...").
_NOT_OBJECT = re.compile(
    r"^(?:the |a |an )?(?:(?:free |empty |open )?(?:space|gap|distance|clearance|room|opening|passage|spacing|"
    r"floor)|width|height|depth|length|size|number|elevation)\b(?: \w+)? (?:between|separating|from|of|left)\b|"
    r"\b(?:than|as|is|are|times|twice|more|less|least|most|fewer|exactly|enough|either)\b")
# Descriptions after the name: "the desk that we bought", "the chair i told you about", "the lamp in the corner".
_CLAUSE = re.compile(r"\s+(?:that|which|who|i|we|you|they|he|she|my \w+|our \w+)\b.*$")
_PLACE = re.compile(r"\s+(?:near|against|in|over by|by|at|next to|beside|close to|on|from) (?:the|a|an|my|our) "
                    r"\w+(?: \w+)?$")


def clean_phrase(p: str) -> str:
    """'the sofa in the image' -> 'the sofa'; 'the table with a 1 m reach' -> 'the table'; 'the desk that we
    bought' -> 'the desk'; 'the lamp in the corner' -> 'the lamp'."""
    p = _FLUFF.sub("", p.strip())
    p = _CUT.sub("", p)
    p = re.sub(r"\bone another\b|\beach other\b", "", p)
    p = re.sub(r"^(?:(?:reach|touch|grab|get to|pick up|access|hit|and|to)\s+)+", "", p)  # "reach grab the X"
    p = re.sub(r"^there\s+(?:is|are|'s)?\s*", "", p)  # "is there a piano taller ..." -> "a piano"
    p = _CLAUSE.sub("", p)
    p = _PLACE.sub("", p) if len(_PLACE.sub("", p).split()) >= 1 else p
    return p.strip(" ,'\"")


def _fmt_len(m: float) -> str:
    return f"{m:.2f} m"


def _obj(p: str) -> str:
    p = clean_phrase(p)
    if not p or "<l>" in p.lower() or p in ("it", "them", "there") or _NOT_OBJECT.search(p) or ":" in p:
        raise _NoMatch
    return p


def _matches(patterns: Iterable[str], t: str, slots: tuple[str, ...] = ("a",)
             ) -> Iterator[tuple[str, re.Match[str], list[str]]]:
    """The one match helper of every rule: each pattern (in order) that matches ``t`` and whose object slots
    clean up to real phrases, as (pattern, match, phrases). A slot the pattern does not define is left out."""
    for pat in patterns:
        m = re.search(pat, t)
        if not m:
            continue
        try:
            yield pat, m, [_obj(m.group(g)) for g in slots if g in m.re.groupindex]
        except _NoMatch:
            continue


def _the(p: str) -> str:
    return p if _ARTICLE.match(p) else f"the {p}"


class _NoMatch(Exception):
    pass


# Comparator words -> arith operator. Checked longest first.
_CMP_WORDS: list[tuple[str, str]] = [
    ("no more than", "<="), ("not more than", "<="), ("no less than", ">="), ("not less than", ">="),
    ("at least", ">="), ("at most", "<="), ("more than", ">"), ("greater than", ">"), ("larger than", ">"),
    ("bigger than", ">"), ("wider than", ">"), ("taller than", ">"), ("higher than", ">"), ("longer than", ">"),
    ("deeper than", ">"), ("further than", ">"), ("farther than", ">"), ("over", ">"), ("above", ">"),
    ("exceeds", ">"), ("exceed", ">"), ("beyond", ">"),
    ("less than", "<"), ("fewer than", "<"), ("smaller than", "<"), ("narrower than", "<"),
    ("shorter than", "<"), ("lower than", "<"), ("shallower than", "<"), ("closer than", "<"),
    ("nearer than", "<"), ("under", "<"), ("below", "<"), ("within", "<="), ("up to", "<="),
]


def _cmp_in(text: str, default: str | None = None) -> str | None:
    best: tuple[int, str] | None = None
    for word, op in _CMP_WORDS:
        m = re.search(rf"\b{word}\b(?=.*<l>)", text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), op)
    return best[1] if best else default


_OP_WORDS = {">": "more than", ">=": "at least", "<": "less than", "<=": "at most"}


def _decision_plan(sq: list[SubQuery], expr: str, template: str) -> Plan:
    return Plan(subqueries=sq, compute=expr, answer_template=template)


Rule = Callable[[str, float | None], Plan | None]

# --------------------------------------------------------------------------- rules with a stated length
_REACH_VERBS = r"(?:reach|touch|grab|get to|pick up|access|hit)"
_AT = r"(?:from|while (?:standing|sitting|placed|parked) (?:at|on|by|next to)|standing (?:at|on|by|next to)|" \
      r"sitting (?:at|on)|placed (?:at|on)|parked (?:at|by|next to)|mounted (?:at|on)|positioned (?:at|by)|" \
      r"next to|beside|at|on|by)"


def _reach(t: str, L: float | None) -> Plan | None:
    if L is None or not re.search(rf"\b{_REACH_VERBS}\b|\bwithin\b|\breach\b", t):
        return None
    pats = [
        rf"\b{_REACH_VERBS} (?P<a>.+?) (?:{_AT}) (?P<b>.+)$",
        rf"(?:{_AT}) (?P<b>.+?),? (?:could|can|would|will|does|do|is|to)?\s*(?:it |the arm |the robot |he |she |"
        r"(?:its|the robot's|his|her|the) (?:<l> )?(?:long )?(?:arm|gripper|hand|reach) )?"
        rf"(?:be able to )?{_REACH_VERBS} (?P<a>.+)$",
        r"^(?:is|are) (?P<a>.+?) within (?:a |an )?(?:reach of )?<l>(?: reach| arm| radius| range)?.*? "
        r"(?:of|from) (?P<b>.+)$",
        r"^(?:is|are) (?P<a>.+?) within (?:reach|arm's reach|range) of (?:a |an )?<l>.*? (?:at|on|from|by|next to)"
        r" (?P<b>.+)$",
        r"^(?:is|are) (?P<a>.+?) (?:close|near) enough to (?P<b>.+?) (?:for|to be reached by) .*<l>",
    ]
    for _pat, _m, (a, b) in _matches(pats, t, ("a", "b")):
        # Reach is to the nearest point of the object, not its centre: minimal box-to-box distance.
        sq = [SubQuery(id="d", kind="closest", a=a, b=b)]
        tpl = (f"{{decision}}: {_the(a)} is {{d}} from {_the(b)} at the closest points, "
               f"and the reach is {_fmt_len(L)}.")
        return _decision_plan(sq, f"d <= {L:.6g} m", tpl)
    return None


def _apart(t: str, L: float | None) -> Plan | None:
    if L is None or not re.search(r"\bapart\b|\baway\b|\bfrom each other\b|\bdistance\b|\bfar\b|\bfrom\b", t):
        return None
    pats = [
        r"^(?:are|is) (?P<a>.+?) and (?P<b>.+?) (?:more|less|at least|at most|over|under|within|no more|no less|"
        r"not more|not less|closer|further|farther)\b.*<l>.*(?:apart|from each other|away from each other|"
        r"from one another)",
        r"^(?:is|are) (?P<a>.+?) (?:more|less|at least|at most|over|under|no more|no less|not more|not less|"
        r"further|farther|closer)\b[^<]*<l> (?:away )?from (?P<b>.+)$",
        r"^(?:is|are) the (?:centre-to-centre |center-to-center |direct )?distance (?:between|from) (?P<a>.+?) "
        r"(?:and|to) (?P<b>.+?) (?:is )?(?:more|less|at least|at most|over|under|greater|smaller|shorter|longer|"
        r"no more|no less|not more|not less|above|below|within)\b.*<l>",
        r"^(?:is|are) (?P<a>.+?) (?:further|farther|closer|nearer) (?:away )?(?:from|to) (?P<b>.+?) than <l>",
    ]
    for pat, _m, (a, b) in _matches(pats, t, ("a", "b")):
        op = _cmp_in(t, ">") or ">"
        if pat == pats[2]:  # "is the distance between A and B ...": the user named the (centre-to-centre) distance
            sq = [SubQuery(id="d", kind="distance", a=a, b=b)]
            how = "apart (centre to centre)"
        else:  # "within / at least D from / apart": how close the two objects actually come
            sq = [SubQuery(id="d", kind="closest", a=a, b=b)]
            how = "apart at the closest points"
        tpl = (f"{{decision}}: {_the(a)} and {_the(b)} are {{d}} {how}; "
               f"the question asks for {_OP_WORDS[op]} {_fmt_len(L)}.")
        return _decision_plan(sq, f"d {op} {L:.6g} m", tpl)
    return None


_BETWEEN = re.compile(
    r"between (?P<a>.+?) and (?P<b>.+?)(?:\s+(?:is|are|at least|more|less|wider|narrower|greater|bigger|"
    r"smaller|larger|over|under|above|below|exceeds?|enough|big enough|wide enough|no more|no less|not more|"
    r"not less|for)\b.*)?$"
)


def _between(t: str, L: float | None) -> Plan | None:
    if L is None or " between " not in f" {t} ":
        return None
    found = next(_matches([_BETWEEN.pattern], t, ("a", "b")), None)
    if found is None:
        return None
    _pat, m, (a, b) = found
    head = t[: m.start()]
    fit = re.search(r"\b(?:fit|pass|get|go|squeeze|drive|move|roll|walk|travel|navigate|make it|slip|enough|"
                    r"room|space for|clear|through)\b", t)
    op = _cmp_in(t, ">=" if fit else ">") or ">="
    if fit and op in (">",):
        op = ">=" if re.search(r"\b(?:fit|pass|get|go|squeeze|drive|move|roll|walk|make it|slip)\b", head) else op
    if re.search(r"\bdistance between\b", t) and not fit:
        sq = [SubQuery(id="d", kind="distance", a=a, b=b)]
        return _decision_plan(sq, f"d {op} {L:.6g} m",
                              f"{{decision}}: the distance between {_the(a)} and {_the(b)} is {{d}}; "
                              f"the question asks for {_OP_WORDS[op]} {_fmt_len(L)}.")
    sq = [SubQuery(id="g", kind="gap", a=a, b=b)]
    tpl = (f"{{decision}}: the free-space gap between {_the(a)} and {_the(b)} is {{g}}, "
           f"{'and it needs' if fit else 'compared with'} {_OP_WORDS[op]} {_fmt_len(L)}.")
    return _decision_plan(sq, f"g {op} {L:.6g} m", tpl)


_DIM_WORDS = {
    "tall": "height", "high": "height", "height": "height", "taller": "height", "shorter": "height",
    "wide": "width", "width": "width", "long": "width", "length": "width", "wider": "width", "narrower": "width",
    "longer": "width", "deep": "depth", "depth": "depth", "deeper": "depth", "shallower": "depth",
    "higher": "height", "lower": "height",
}
_ELEV = r"(?:above|off|from|over) the (?:floor|ground)|elevat\w*|mounted|hung|hanging|off the ground"


def _size_vs_length(t: str, L: float | None) -> Plan | None:
    if L is None:
        return None
    pats = [
        r"^(?:is|are) (?P<a>.+?) (?P<w>taller|shorter|higher|lower|wider|narrower|longer|deeper|shallower) than <l>",
        r"^(?:is|are) (?P<a>.+?) (?:more than|less than|at least|at most|over|under|above|below|no more than|"
        r"no less than|not more than|not less than|greater than|smaller than|up to) <l>"
        r"(?: (?:in )?(?P<w>tall|high|wide|long|deep|height|width|length|depth))?(?P<e> " + _ELEV + ")?",
        r"^(?:is|are) the (?P<w>height|width|length|depth|elevation) of (?P<a>.+?) (?:is )?(?:more|less|at least|"
        r"at most|over|under|above|below|greater|smaller|no more|no less|not more|not less|up to)\b.*<l>",
        r"^does (?P<a>.+?) (?:exceed|measure (?:more|less) than|stand (?:taller|higher) than|reach higher than|"
        r"rise above|stand over|measure at least|measure over|measure under) <l>(?: in (?P<w>height|width|"
        r"length|depth))?",
        r"^(?:is|are) (?P<a>.+?) (?:mounted|placed|hung|hanging|positioned|sitting|located|set)? ?(?:more than|"
        r"less than|at least|at most|over|under|higher than|lower than) <l>(?P<e> " + _ELEV + ")",
    ]
    for _pat, m, (a,) in _matches(pats, t):
        gd = m.groupdict()
        if gd.get("e") or (gd.get("w") == "elevation") or re.search(_ELEV, t):
            kind = "elevation"
        else:
            w = gd.get("w") or "height"
            kind = _DIM_WORDS.get(w, "height")
        op = _cmp_in(t) or ">"
        if gd.get("w") in ("shorter", "narrower", "shallower", "lower"):
            op = "<"
        sid = {"height": "h", "width": "w", "depth": "p", "elevation": "e"}[kind]
        noun = {"height": "tall", "width": "wide", "depth": "deep", "elevation": "above the floor"}[kind]
        sq = [SubQuery(id=sid, kind=kind, a=a)]  # type: ignore[arg-type]
        tpl = f"{{decision}}: {_the(a)} is {{{sid}}} {noun}; the question asks for {_OP_WORDS[op]} {_fmt_len(L)}."
        return _decision_plan(sq, f"{sid} {op} {L:.6g} m", tpl)
    return None


_WIDE_ENOUGH = r"^(?:is|are) (?P<a>.+?) (?:wide|long|big|large|broad|spacious) enough\b"
# pattern -> the dimension that settles it, in the order tried.
_FIT_RULES: dict[str, str] = {
    r"\b(?:through|thru|past) (?P<a>.+)$": "width",
    r"\b(?:under|underneath|beneath|below) (?P<a>.+)$": "height",
    r"\b(?:on top of|on to|onto|atop|on|upon) (?P<a>.+)$": "width",
    _WIDE_ENOUGH: "width",
    r"^(?:is|are) (?P<a>.+?) (?:tall|high) enough\b": "height",
    r"^(?:is|are) there (?:enough )?(?:room|space|clearance) (?:under|beneath|below) (?P<a>.+?) for\b": "height",
    r"^does (?P<a>.+?) have (?:enough )?(?:room|space|surface|clearance)\b": "width",
}


def _fit_object(t: str, L: float | None) -> Plan | None:
    """Fit through (door width), under (height), on (width), 'X wide/tall enough for' (width/height)."""
    if L is None:
        return None
    for pat, _m, (a,) in _matches(_FIT_RULES, t):
        kind = _FIT_RULES[pat]
        under = kind == "height" and bool(re.search(r"\b(?:under|underneath|beneath|below)\b", t))
        if pat == _WIDE_ENOUGH and re.search(r"\b(?:under|beneath|below)\b", t):  # "wide enough to go under"
            under = True
        if under:
            # A box hides the space beneath an object (legs, an open base): its height is not the clearance.
            return Plan(refusal=f"I can't measure the clearance under {_the(a)} from its bounding box, so I "
                                f"can't tell whether something {_fmt_len(L)} tall fits under it.")
        sid = "w" if kind == "width" else "h"
        adj = "wide" if kind == "width" else "tall"
        sq = [SubQuery(id=sid, kind=kind, a=a)]  # type: ignore[arg-type]
        tpl = f"{{decision}}: {_the(a)} is {{{sid}}} {adj}, and the object needs {_fmt_len(L)}."
        return _decision_plan(sq, f"{sid} >= {L:.6g} m", tpl)
    return None


# --------------------------------------------------------------------------- rules without a stated length
_CMP_ADJ = {
    "taller": ("height", ">"), "higher": ("height", ">"), "shorter": ("height", "<"), "lower": ("height", "<"),
    "wider": ("width", ">"), "longer": ("width", ">"), "narrower": ("width", "<"), "deeper": ("depth", ">"),
    "shallower": ("depth", "<"), "bigger": ("size", ">"), "larger": ("size", ">"), "smaller": ("size", "<"),
}


_DIM_NOUN = {"width": "width", "length": "width", "height": "height", "depth": "depth"}
_DIM_ADJ = {"wide": "width", "long": "width", "tall": "height", "high": "height", "deep": "depth"}
_MORE_LESS = {"greater": ">", "more": ">", "larger": ">", "bigger": ">", "higher": ">", "less": "<",
              "smaller": "<", "lower": "<"}


def _object_vs_object(t: str, L: float | None) -> Plan | None:
    """'Is A taller than B?', 'Is the lamp higher than the sofa is wide?', 'Is the width of A greater than the
    height of B?'."""
    if L is not None:
        return None
    pats = [
        r"^(?:is|are) the (?P<d1>width|length|height|depth) of (?P<a>.+?) (?P<ml>greater|more|larger|bigger|higher|"
        r"less|smaller|lower) than (?:the (?P<d2>width|length|height|depth) of |that of )?(?P<b>.+)$",
        r"^(?:is|are|(?P<do>does|do)) (?P<a>.+?) (?(do)(?:stand|sit|rise|measure|look) )(?P<adj>" + "|".join(_CMP_ADJ) +
        r") than (?P<b>.+?)(?: (?:is|are) (?P<d2a>wide|long|tall|high|deep))?$",
    ]
    found = next(_matches(pats, t, ("a", "b")), None)
    if found is None:
        return None
    _pat, m, (a, b) = found
    gd = m.groupdict()
    if gd.get("d1"):
        kind, op = _DIM_NOUN[gd["d1"]], _MORE_LESS[gd["ml"]]
        other = _DIM_NOUN[gd["d2"]] if gd.get("d2") else kind
    else:
        kind, op = _CMP_ADJ[gd["adj"]]
        other = _DIM_ADJ[gd["d2a"]] if gd.get("d2a") else kind
    if kind == "size":
        if other != kind:
            return None
        sq = [SubQuery(id="s", kind="size_compare", a=a, b=b)]
        return _decision_plan(sq, f"s {op} 1", f"{{decision}}: {_the(a)} is {{s}} times the size of {_the(b)}.")
    sq = [SubQuery(id="x", kind=kind, a=a), SubQuery(id="y", kind=other, a=b)]  # type: ignore[arg-type]
    what = kind if other == kind else f"{kind} against {other}"
    return _decision_plan(sq, f"x {op} y", f"{{decision}}: {_the(a)} measures {{x}} and {_the(b)} {{y}} ({what}).")


# --------------------------------------------------------------------------- ratios, camera, which of two, count
_RATIO_WORDS = {"twice": 2.0, "two times": 2.0, "double": 2.0, "three times": 3.0, "thrice": 3.0, "four times": 4.0,
                "half": 0.5, "one and a half times": 1.5, "a third of": 1 / 3, "a quarter of": 0.25}
_K = r"(?P<k>" + "|".join(sorted(map(re.escape, _RATIO_WORDS), key=len, reverse=True)) + \
     r"|\d+(?:\.\d+)? times)"
_RATIO_CMP = (r"(?:(?P<cmp>more than|over|at least|less than|under|at most|no more than|no less than|not more than|"
              r"not less than|greater than|fewer than) )?")
_SIZE_ADJ = {"wide": "width", "long": "width", "broad": "width", "tall": "height", "high": "height", "deep": "depth",
             "big": "size", "large": "size"}


def _ratio_value(k: str) -> float:
    return _RATIO_WORDS[k] if k in _RATIO_WORDS else float(k.split()[0])


def _ratio(t: str, L: float | None) -> Plan | None:
    """'Is the sofa more than twice as wide as the table?', 'Is A over half the height of B?'."""
    if L is not None:
        return None
    pats = [
        rf"^(?:is|are) (?P<a>.+?) {_RATIO_CMP}{_K} (?:as (?P<adj>wide|long|broad|tall|high|deep|big|large) as|"
        r"the (?P<dim>width|length|height|depth|size) of) (?P<b>.+)$",
        rf"^(?:is|are) the (?P<dim>width|length|height|depth|size) of (?P<a>.+?) {_RATIO_CMP}{_K} "
        r"(?:that of|the (?:width|length|height|depth|size) of) (?P<b>.+)$",
    ]
    found = next(_matches(pats, t, ("a", "b")), None)
    if found is None:
        return None
    _pat, m, (a, b) = found
    gd = m.groupdict()
    kind = _SIZE_ADJ[gd["adj"]] if gd.get("adj") else _DIM_NOUN.get(gd["dim"], gd["dim"])
    op = _cmp_in(f"{gd.get('cmp') or ''} <l>") or ">="  # "twice as wide as": at least twice
    k = _ratio_value(gd["k"])
    if kind == "size":
        sq = [SubQuery(id="s", kind="size_compare", a=a, b=b)]
        return _decision_plan(sq, f"s {op} {k:.6g}", f"{{decision}}: {_the(a)} is {{s}} times the size of {_the(b)}.")
    sq = [SubQuery(id="x", kind=kind, a=a), SubQuery(id="y", kind=kind, a=b)]  # type: ignore[arg-type]
    return _decision_plan(sq, f"x {op} {k:.6g} * y",
                          f"{{decision}}: {_the(a)} measures {{x}} and {_the(b)} {{y}} ({kind}); the question asks "
                          f"for {_OP_WORDS[op]} {k:.3g} times.")


# "Closer to the camera" is the QA data's front/behind predicate: nearer along the camera's view direction.
_CAMERA = r"(?:the camera|the viewer|the photographer|the lens|me|us|where the (?:photo|picture|image) was taken)"
_NEARER = r"(?P<w>closer|nearer|farther|further|more distant)(?: away)?"


def _camera(t: str, L: float | None) -> Plan | None:
    """'Is the lamp closer to the camera than the sofa?' -> relation in_front_of (farther: behind)."""
    if L is not None or not re.search(_CAMERA, t):
        return None
    pats = [rf"^(?:is|are|(?P<do>does|do)) (?P<a>.+?) (?(do)(?:sit|stand|appear|lie|look|seem) ){_NEARER} (?:to|from) "
            rf"{_CAMERA} than (?P<b>.+)$"]
    for _pat, m, (a, b) in _matches(pats, t, ("a", "b")):
        rel = "in_front_of" if m.group("w") in ("closer", "nearer") else "behind"
        return _relation_plan(a, b, rel)
    return None


_WHICH_ADJ = (r"(?P<x>taller|shorter|wider|narrower|longer|deeper|shallower|bigger|larger|smaller|higher|lower|"
              rf"(?:closer|nearer|farther|further|more distant)(?: away)?(?: (?:to|from) {_CAMERA})?)")
_WHICH_PATS = [
    rf"^which(?: one)? (?:is|stands|sits|looks|appears) {_WHICH_ADJ}[,:]? (?P<a>.+?) or (?P<b>.+)$",
    rf"^which(?: one)? of (?P<a>.+?) and (?P<b>.+?) (?:is|stands|sits|looks|appears) {_WHICH_ADJ}$",
    rf"^(?:of|between) (?P<a>.+?) and (?P<b>.+?),? which(?: one)?(?: of (?:them|the two))? (?:is|stands|sits|looks|"
    rf"appears) {_WHICH_ADJ}$",
]


def _which(t: str, L: float | None) -> Plan | None:
    """'Which is taller, the lamp or the sofa?', 'Which of A and B is closer to the camera?': ``options`` [a, b],
    compute True when a is the answer."""
    if L is not None or "which" not in t:
        return None
    for _pat, m, (a, b) in _matches(_WHICH_PATS, t, ("a", "b")):
        x = m.group("x")
        word = x.split()[0]
        if word in ("closer", "nearer", "farther", "further", "more"):
            rel = "in_front_of" if word in ("closer", "nearer") else "behind"
            sq = [SubQuery(id="r", kind="relation", a=a, b=b, relation=rel)]  # type: ignore[arg-type]
            return Plan(subqueries=sq, compute="r", options=[a, b], answer_template="{r.text}.")
        kind, op = _CMP_ADJ.get(word, ("height", ">") if word == "higher" else ("depth", "<"))
        if kind == "size":
            sq = [SubQuery(id="s", kind="size_compare", a=a, b=b)]
            return Plan(subqueries=sq, compute=f"s {op} 1", options=[a, b],
                        answer_template=f"{_the(a)} is {{s}} times the size of {_the(b)}.")
        sq = [SubQuery(id="x", kind=kind, a=a), SubQuery(id="y", kind=kind, a=b)]  # type: ignore[arg-type]
        return Plan(subqueries=sq, compute=f"x {op} y", options=[a, b],
                    answer_template=f"{_the(a)} measures {{x}} and {_the(b)} {{y}} ({kind}).")
    return None


_COUNT_NUM = r"(?P<n>\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty)"
_COUNT_CMP = (r"(?P<cmp>more than|at least|fewer than|less than|at most|over|under|no more than|no fewer than|"
              r"no less than|exactly)")
_COUNT_TAIL = (r"(?: (?:are there|is there|are|can you see|do you see|can i see|do i see|are visible|are in|in) ?.*|"
               r" here| there)?$")


def _count(t: str, L: float | None) -> Plan | None:
    """'How many chairs are there?' -> a count; 'Are there more than two chairs?' -> count vs the number."""
    if L is not None:
        return None
    value_pats = [rf"^how many (?P<a>[a-z ]+?){_COUNT_TAIL}", r"^count (?:the |all (?:the )?)?(?P<a>[a-z ]+?)(?: here| "
                  r"in (?:the|this) .*)?$", rf"^(?:what is|what's) the number of (?P<a>[a-z ]+?){_COUNT_TAIL}"]
    for _pat, _m, (a,) in _matches(value_pats, t):
        return Plan(subqueries=[SubQuery(id="n", kind="exists", a=a)], compute="n",
                    answer_template=f"I count {{n}} {a}.")
    cmp_pats = [rf"^(?:are there|is there|do (?:i|you|we) see|can (?:i|you|we) see) {_COUNT_CMP} {_COUNT_NUM} "
                rf"(?P<a>[a-z ]+?){_COUNT_TAIL}",
                rf"^(?:is|are) the number of (?P<a>[a-z ]+?) {_COUNT_CMP} {_COUNT_NUM}$"]
    for _pat, m, (a,) in _matches(cmp_pats, t):
        n = int(_number(m.group("n")))
        op = "==" if m.group("cmp") == "exactly" else (_cmp_in(f"{m.group('cmp')} <l>") or ">")
        said = {"==": "exactly", **_OP_WORDS}[op]
        return _decision_plan([SubQuery(id="n", kind="exists", a=a)], f"n {op} {n}",
                              f"{{decision}}: I count {{n}} {a}; the question asks for {said} {n}.")
    return None


# --------------------------------------------------------------------------- headroom and missing lengths
_UNDER = r"(?:under|beneath|below|underneath)"


def _headroom(t: str, L: float | None) -> Plan | None:
    """An object's height against a stated clearance: 'Will the sofa fit under a 2 m ceiling?', 'Would the
    wardrobe hit a 1.9 m beam?', 'Is the lamp too tall for a 2 m ceiling?'."""
    if L is None:
        return None
    fits = [
        rf"^(?:will|would|can|could|does|do) (?P<a>.+?) (?:fit|go|pass|slide|get|move)(?: \w+)? {_UNDER} (?:a|an|the) "
        r"<l>",
        rf"^(?:is|are) (?P<a>.+?) (?:low|short) enough to (?:\w+ )*?{_UNDER} .*<l>",
        r"^(?:does|do|would|will|can|could) (?P<a>.+?) clear (?:a|an|the) <l>",
    ]
    hits = [r"^(?:would|will|does|do) (?P<a>.+?) (?:hit|touch|bump into|scrape) (?:a|an|the) <l>",
            r"^(?:is|are) (?P<a>.+?) too (?:tall|high) (?:for|to fit under|to go under) .*<l>"]
    for pats, op in ((fits, "<="), (hits, ">")):
        for _pat, _m, (a,) in _matches(pats, t):
            if not is_definite(a):
                continue  # "can a box fit under a 1 m table": not an object of the image
            tpl = (f"{{decision}}: {_the(a)} is {{h}} tall; the clearance stated is {_fmt_len(L)}.")
            return _decision_plan([SubQuery(id="h", kind="height", a=a)], f"h {op} {L:.6g} m", tpl)
    return None


_THING = r"(?:a|an|the|my|our) (?P<thing>[a-z -]+?)"


def _missing_length(t: str, L: float | None) -> Plan | None:
    """A fit or reach question that states no size: refuse, naming the size that is missing."""
    if L is not None:
        return None
    m = re.search(rf"^(?:can|could|will|would|does|do|is there (?:room|space) for) {_THING} (?:fit|pass|get|go|"
                  r"squeeze|drive|roll|make it|be carried)\b.*\b(?:between|through|past|on|onto|under)\b", t)
    if m:
        return Plan(refusal=f"The question does not say how big the {m.group('thing')} is, so I can't tell whether "
                            "it fits; please give its size (e.g. '0.8 m wide').")
    if re.search(r"\b(?:reach|grab|touch|get to)\b", t) and re.search(r"\b(?:arm|gripper|robot|hand)\b", t):
        return Plan(refusal="The question does not say how long the arm is, so I can't tell whether it reaches; "
                            "please give its reach (e.g. '0.8 m').")
    return None


_VALUE_PATS: list[tuple[str, str]] = [
    (r"^how (?:far|distant) (?:apart )?(?:is|are) (?P<a>.+?) (?:from|to) (?P<b>.+)$", "distance"),
    (r"^how far apart are (?P<a>.+?) and (?P<b>.+)$", "distance"),
    (r"^(?:what is|what's|measure|estimate|give me) the (?:centre-to-centre |center-to-center |direct )?distance"
     r" (?:between|from) (?P<a>.+?) (?:and|to) (?P<b>.+)$", "distance"),
    (r"^how much (?:free )?(?:space|room|clearance|gap) is there between (?P<a>.+?) and (?P<b>.+)$", "gap"),
    (r"^(?:what is|what's|measure|estimate) the (?:free-space |free space |free )?(?:gap|clearance|space|"
     r"room|opening|spacing) between (?P<a>.+?) and (?P<b>.+)$", "gap"),
    (r"^how wide is the (?:gap|space|opening|clearance|passage) between (?P<a>.+?) and (?P<b>.+)$", "gap"),
    (r"^how (?:wide|long) (?:is|are) (?P<a>.+)$", "width"),
    (r"^how (?:tall|high) (?:is|are) (?P<a>.+?)(?P<e> " + _ELEV + ")?$", "height"),
    (r"^how deep (?:is|are) (?P<a>.+)$", "depth"),
    (r"^how (?:high|far) (?:above|off|from|over) the (?:floor|ground) (?:is|are) (?P<a>.+)$", "elevation"),
    (r"^(?:what is|what's) the (?P<w>width|length|height|depth|elevation) of (?P<a>.+?)(?P<e> " + _ELEV + ")?$",
     "dim"),
]


def _value(t: str, L: float | None) -> Plan | None:
    if L is not None:
        return None
    kinds = dict(_VALUE_PATS)
    for pat, m, (a, *rest) in _matches(kinds, t, ("a", "b")):
        b = rest[0] if rest else None
        gd = m.groupdict()
        kind = kinds[pat]
        if kind == "dim":
            kind = {"length": "width"}.get(gd["w"], gd["w"])
        if kind in ("height", "width", "depth") and gd.get("e"):
            kind = "elevation"
        sq = [SubQuery(id="v", kind=kind, a=a, b=b)]  # type: ignore[arg-type]
        what = {"distance": f"the distance between {_the(a)} and {_the(b or '')}",
                "gap": f"the free-space gap between {_the(a)} and {_the(b or '')}",
                "width": f"the width of {_the(a)}", "height": f"the height of {_the(a)}",
                "depth": f"the depth of {_the(a)}", "elevation": f"the height of {_the(a)} above the floor"}[kind]
        return Plan(subqueries=sq, compute="v", answer_template=f"{what[0].upper()}{what[1:]} is {{v}}.")
    return None


# --------------------------------------------------------------------------- spatial relations
# Relation words -> ``SubQuery.relation``; the tool decides them from geometry (see ``spatial_agent.tools``).
_REL_WORDS: dict[str, str] = {
    "on top of": "on", "on": "on", "onto": "on", "atop": "on", "upon": "on", "resting on": "on",
    "sitting on": "on", "standing on": "on", "lying on": "on", "placed on": "on",
    "under": "under", "underneath": "under", "beneath": "under", "over": "over", "above": "above", "below": "below",
    "next to": "next_to", "beside": "next_to", "near": "next_to", "close to": "next_to", "by": "next_to",
    "adjacent to": "next_to", "alongside": "next_to", "in front of": "in_front_of", "behind": "behind",
    "in back of": "behind", "to the left of": "left_of", "on the left of": "left_of", "left of": "left_of",
    "on the left side of": "left_of", "to the left side of": "left_of", "to the right of": "right_of",
    "on the right of": "right_of", "right of": "right_of", "on the right side of": "right_of",
    "to the right side of": "right_of",
}
_REL = "|".join(sorted(map(re.escape, _REL_WORDS), key=len, reverse=True))  # longest first: "on the left of" > "on"
# "from the camera's point of view", "as seen in the image", "looking at the image, ...": the view, not an object.
_VIEW = re.compile(r",?\s*(?:as seen |seen )?(?:from|in) (?:the camera'?s?|my|our|this|the|your) (?:point of view|"
                   r"viewpoint|view|perspective|angle)\b|,?\s*as seen in the (?:image|picture|photo)\b")
_LEAD = re.compile(r"^(?:(?:looking at|in|judging by|from) (?:the|this) (?:image|picture|photo|scene|viewpoint),?\s*)")
_ASK = r"(?:would you say|is it true that|can you confirm (?:if|whether)|do you think|could you tell me (?:if|whether))"
_FILLER = r"(?:(?:located|positioned|situated|placed|found|kept) )?"
_REL_PATS = [
    # "is there a mug on the table": a keeps its article, which tells the tool "any mug" from "the mug"
    rf"^(?:is there|are there|do you see|can you see) (?P<a>.+?)(?: (?:that|which) (?:is|are))? {_FILLER}"
    rf"(?P<rel>{_REL}) (?P<b>.+)$",
    rf"^(?:is|are) (?P<a>.+?) {_FILLER}(?P<rel>{_REL}) (?P<b>.+)$",
    rf"^{_ASK} (?P<a>.+?) (?:is|are) {_FILLER}(?P<rel>{_REL}) (?P<b>.+)$",
    rf"^(?:does|do) (?P<a>.+?) (?:appear|look|seem|sit|stand|rest|lie) (?:to be )?{_FILLER}(?P<rel>{_REL}) (?P<b>.+)$",
]
# A distance stated for "next to": "... next to the sofa, within 30 cm".
_WITHIN_TAIL = re.compile(r",? (?:within|less than|no more than|at most|no further than|closer than) <l>"
                          r"(?: (?:of|from) (?:it|them|each other|one another))?$")
_WITHIN_PATS = [r"^(?:is|are) there (?P<a>.+?) within <l> (?:of|from) (?P<b>.+)$"]


def _without_view(t: str) -> str:
    return _LEAD.sub("", _VIEW.sub("", t).strip(" ,")).strip(" ,")


def _relation_plan(a: str, b: str, relation: str, within: float | None = None) -> Plan:
    if re.search(r"\b(?:and|or|but)\b", f"{a} {b}"):
        # "on the table and next to the lamp": read as one object, a relaxed match would answer for the lamp.
        return Plan(refusal="I can check one relation between two objects at a time; please ask about each "
                            "object or relation separately.")
    sq = SubQuery(id="r", kind="relation", a=a, b=b, relation=relation, within=within)  # type: ignore[arg-type]
    # The tool states the finding ("the mug is on the wall shelf"); the decision is its yes/no, never a guess.
    return Plan(subqueries=[sq], compute="r", answer_template="{decision}: {r.text}.")


def _relation_stated(t: str, L: float | None) -> Plan | None:
    """'Is there a chair within 1 m of the sofa?', 'Is the lamp next to the sofa, within 30 cm?': next_to with the
    stated distance. Tried before the reach rule, which reads "is A within L of B" for one named object."""
    if L is None:
        return None
    for _pat, _m, (a, b) in _matches(_WITHIN_PATS, t, ("a", "b")):
        return _relation_plan(a, b, "next_to", L)
    tail = _WITHIN_TAIL.search(t)
    if not tail:
        return None
    for _pat, m, (a, b) in _matches(_REL_PATS, _without_view(t[: tail.start()]), ("a", "b")):
        return _relation_plan(a, b, "next_to", L) if _REL_WORDS[m.group("rel")] == "next_to" else None
    return None


def _relation(t: str, L: float | None) -> Plan | None:
    """'Is there a mug on the table?', 'Is the mug on the table?', 'Is the lamp to the left of the sofa?'."""
    if L is not None:
        return None
    for _pat, m, (a, b) in _matches(_REL_PATS, _without_view(t), ("a", "b")):
        return _relation_plan(a, b, _REL_WORDS[m.group("rel")])
    return None


# Relations the tools cannot check, and rooms ("a mug in the kitchen" is about the whole picture).
_RELATION = re.compile(
    r"\s+(?:on top of|on|in front of|inside|in|within|next to|beside|by|under|underneath|beneath|below|above|over|"
    r"near|behind|against|between|among|close to|to the (?:left|right) of|left of|right of)\s.*$")
_ROOM = re.compile(r"\s+(?:in|inside) (?:the |this |a |my |our )?(?:(?:living|dining|bed|bath|class|waiting|meeting|"
                   r"guest|play) ?room|room|kitchen|office|hall(?:way)?|corridor|garage|house|home|apartment|flat|"
                   r"space|area|scene|picture|photo|image|shot|frame)$")
_EXISTS = (r"^(?:is there|are there|do you see|can you see|does the (?:image|picture|photo|room) "
           r"(?:have|contain|show)|is anything like) (?P<art>a |an |any |some )?(?P<a>.+)$")


def _exists(t: str, L: float | None) -> Plan | None:
    for _pat, m, _ in _matches([_EXISTS], t, ()):
        phrase = _ROOM.sub("", _FLUFF.sub("", m.group("a")))
        rel = _RELATION.search(phrase)
        if rel:
            # The relation rule did not take it (a relation the tools cannot check, or an object it could not
            # read): answering whether the object exists at all would ignore what was asked.
            return Plan(refusal=f"I can't check whether there is {m.group('art') or ''}{phrase.strip()}: I can "
                                "only tell whether something is on, under, over, above, below, next to, in front "
                                "of, behind, or to the left or right of an object.")
        try:
            a = _obj(phrase)
        except _NoMatch:
            return None
        return Plan(subqueries=[SubQuery(id="n", kind="exists", a=a)], compute="n >= 1",
                    answer_template=f"{{decision}}: I found {{n}} matching {a}.")
    return None


# Properties no measurement of boxes gives: the refusal names the one asked about.
_UNMEASURABLE: list[tuple[str, str]] = [
    (r"\b(?:heav(?:y|ier|iest)|light(?:er|est)|weigh\w*|mass)\b", "weight"),
    (r"\b(?:colou?r\w*)\b", "colour"), (r"\b(?:cost\w*|price\w*|expensive|cheap\w*|worth)\b", "price"),
    (r"\b(?:how old|age|older|newer)\b", "age"), (r"\b(?:made of|material|wooden|metal|plastic)\b", "material"),
    (r"\b(?:comfortable|soft(?:er)?|hard(?:er)?|warm(?:er)?)\b", "comfort or feel"),
]


def _unmeasurable(t: str, L: float | None) -> Plan | None:
    for pat, what in _UNMEASURABLE:
        if re.search(pat, t):
            return Plan(refusal=f"I can't tell {what} from the image: I measure sizes, distances and positions "
                                f"of objects, not {what}.")
    return None


RULES: list[Rule] = [_relation_stated, _headroom, _reach, _apart, _between, _size_vs_length, _fit_object, _ratio,
                     _object_vs_object, _camera, _which, _count, _value, _relation, _missing_length, _exists,
                     _unmeasurable]


# --------------------------------------------------------------------------- negation and several conditions
_NEG = re.compile(r"\bnot\s+(?!(?:more|less) than\b)")  # "not more than" is a comparator, not a negation
_FLIP = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}
_COND_START = (r"(?:(?:not |no )?(?:more|less|at least|at most|over|under|above|below|within|greater|smaller|"
               r"wider|narrower|taller|shorter|higher|lower|longer|deeper|shallower|bigger|larger|further|"
               r"farther|closer|nearer)\b)")
_TWO_QUESTIONS = re.compile(r"^(?P<q1>(?:is|are|can|could|will|would|does|do)\b.+?),? (?P<conj>and|or) "
                            r"(?P<q2>(?:is|are|can|could|will|would|does|do)\b.+)$")


def _is_decision(plan: Plan) -> bool:
    return bool(re.search(r"[<>=]|^\s*not\b", plan.compute)) or any(q.kind == "relation" for q in plan.subqueries)


_TWO_CONDS = re.compile(rf"^(?P<v>is|are) (?P<a>.+?) (?P<c1>{_COND_START}.*?) (?P<conj>and|or) "
                        rf"(?:(?:is|are) )?(?:it |they )?(?P<c2>{_COND_START}.*)$")


def _negate(plan: Plan) -> Plan | None:
    """The plan of the negated question: a single comparison has its operator flipped, else ``not (...)``."""
    if not plan.refusal and len(plan.subqueries) == 1 and plan.subqueries[0].kind == "relation":
        q = plan.subqueries[0]
        if not is_definite(q.a) or plan.compute.strip() != q.id:
            return None  # "is there a mug not on the table" is not the negation of "is there a mug on the table"
        tpl = f"{plan.answer_template} (The question asks whether it is not.)" if plan.answer_template else None
        return plan.model_copy(update={"compute": f"not {q.id}", "answer_template": tpl})
    if plan.refusal or not re.search(r"[<>=]|\band\b|\bor\b", plan.compute):
        return None  # a value question has no yes/no to flip
    m = re.fullmatch(r"\s*([A-Za-z]\w*)\s*(>=|<=|>|<)\s*([^<>=]+)", plan.compute)
    tpl = plan.answer_template
    if m:
        op = m.group(2)
        compute = f"{m.group(1)} {_FLIP[op]} {m.group(3).strip()}"
        if tpl and f"asks for {_OP_WORDS[op]} " in tpl:
            tpl = tpl.replace(f"asks for {_OP_WORDS[op]} ", f"asks for {_OP_WORDS[_FLIP[op]]} ")
        elif tpl:
            tpl = f"{tpl} (The question asks whether it is not.)"
    else:
        compute = f"not ({plan.compute})"
        tpl = f"{tpl} (The question asks whether it is not.)" if tpl else None
    return plan.model_copy(update={"compute": compute, "answer_template": tpl})


def _rename(plan: Plan, suffix: str) -> Plan:
    """Sub-query ids made unique across two plans (``w`` -> ``w1``), in compute and template too."""
    ids = [q.id for q in plan.subqueries]

    def sub(text: str, braces: bool) -> str:
        for i in ids:
            text = re.sub(rf"\{{{i}\}}" if braces else rf"\b{i}\b", f"{{{i}{suffix}}}" if braces else f"{i}{suffix}",
                          text)
        return text

    return Plan(subqueries=[q.model_copy(update={"id": q.id + suffix}) for q in plan.subqueries],
                compute=sub(plan.compute, False),
                answer_template=sub(plan.answer_template, True) if plan.answer_template else None)


def _clause(tpl: str | None) -> str:
    body = (tpl or "").replace("{decision}: ", "").replace("{decision}", "").strip().rstrip(".")
    return body


class RulePlanner:
    """Offline planner: regular grammar over the affordance question families (see module docstring)."""

    name = "rules"

    def plan(self, question: str, feedback: str | None = None) -> Plan:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        text, lengths = extract_lengths(normalise(question))
        text = text.replace("<L>", "<l>")
        negated = bool(_NEG.search(text))
        if negated:
            text = re.sub(r"\s+", " ", _NEG.sub("", text)).strip()
        plan = self._conditions(text, lengths)
        if plan is None:
            plan = self._single(text, lengths)
        if negated and not plan.refusal:
            flipped = _negate(plan)
            if flipped is None:
                return Plan(refusal=f"I can't answer the negated question {question.strip()!r}; please ask it "
                                    "without 'not'.")
            plan = flipped
        return plan

    def _single(self, text: str, lengths: list[float]) -> Plan:
        if len(lengths) > 1:
            # A rule reads one stated length; answering on the first of several would silently drop the rest.
            return Plan(refusal="The question states several lengths; I can only check one condition at a time, "
                                "so please ask about each one separately.")
        length = lengths[0] if lengths else None
        for rule in RULES:
            plan = rule(text, length)
            if plan is not None:
                return plan
        return Plan(refusal=REFUSAL)

    def _conditions(self, text: str, lengths: list[float]) -> Plan | None:
        """ "Is the sofa wider than 1 m and taller than 1 m?": both conditions, joined with and/or."""
        m = _TWO_CONDS.search(text)
        if m:
            subject = f"{m.group('v')} {m.group('a')}"
            q1, q2 = f"{subject} {m.group('c1')}", f"{subject} {m.group('c2')}"
        else:  # two questions in one: "can a 1 m robot fit between A and B, and is C taller than 2 m?"
            m = _TWO_QUESTIONS.search(text)
            if not m:
                return None
            q1, q2 = m.group("q1"), m.group("q2")
        n1, n2 = q1.count("<l>"), q2.count("<l>")
        if n1 > 1 or n2 > 1 or n1 + n2 != len(lengths):
            return None
        p1 = self._single(q1, lengths[:n1])
        p2 = self._single(q2, lengths[n1:])
        if not _TWO_CONDS.search(text) and (p1.refusal or p2.refusal) and (n1 + n2 < 2):
            return None  # not two questions after all: "... and is" inside one question is read as one
        if p1.refusal or p2.refusal or not _is_decision(p1) or not _is_decision(p2):
            return Plan(refusal="The question has two conditions and I could not plan both of them; please ask "
                                "about each one separately.")
        p1, p2 = _rename(p1, "1"), _rename(p2, "2")
        conj = m.group("conj")
        tpl = f"{{decision}}: {_clause(p1.answer_template)}; {_clause(p2.answer_template)} (both must hold)." \
            if conj == "and" else \
            f"{{decision}}: {_clause(p1.answer_template)}; {_clause(p2.answer_template)} (either may hold)."
        return Plan(subqueries=[*p1.subqueries, *p2.subqueries], compute=f"({p1.compute}) {conj} ({p2.compute})",
                    answer_template=tpl)
