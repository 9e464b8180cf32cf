"""Object-class vocabulary for the whole toolkit: one synonym table, head nouns and class matching.

Every module that turns words into object classes uses this table: the phrase resolver (``phrases``: the
agent's tools and GeometricVLM), the detectors' label/query matching (``perception.labels``) and the size priors
(``size_priors``). So "How tall is the nightstand?" finds an object named "night stand" (or "night_stand", or
"bedside table"), "the couch" finds a sofa and "the television" a tv.

Three relations, from strict to loose:

* ``SYNONYMS``: alias -> canonical class (the same thing by another name or spelling). Canonical names are
  COCO's where COCO has the class ("tv", "sofa", "dining table", "potted plant"), else the size-prior table's.
* kinds (:func:`kinds`): the classes an object of a class also counts as: its head noun ("coffee table" is a
  table, "wine glass" a glass) and compound heads ("armchair" is a chair, "bookshelf" a shelf). "The table"
  finds a coffee table; it does not find a "table lamp" (a lamp).
* ``FALLBACKS``: a near class that stands in when nothing of the asked class exists ("desk" -> a table,
  "armchair" -> a chair, "dresser" <-> "chest of drawers"). Resolution and closed-set detection try them only
  after the class itself found nothing.

``SIZE_STANDINS`` are looser still (a cyclist's box is a bicycle's): used only for size priors.
"""

from __future__ import annotations

import re

# Words that open a noun phrase without being part of the class.
DETERMINERS = frozenset({"the", "a", "an", "this", "that", "these", "those", "some", "any", "all", "both",
                         "my", "our", "your", "his", "her", "their"})

# Plurals the suffix rules get wrong.
IRREGULAR_PLURALS: dict[str, str] = {
    "shelves": "shelf", "people": "person", "boxes": "box", "benches": "bench", "couches": "couch",
    "knives": "knife", "men": "man", "women": "woman", "children": "child", "mice": "mouse", "skis": "skis",
    "scissors": "scissors", "glasses": "glass", "buses": "bus", "bookshelves": "bookshelf", "drawers": "drawers", "tvs": "tv",
}

# fmt: off
SYNONYMS: dict[str, str] = {
    # spellings of COCO classes (VOC-style label files, British English)
    "tvmonitor": "tv", "tv monitor": "tv", "diningtable": "dining table", "pottedplant": "potted plant",
    "motorbike": "motorcycle", "aeroplane": "airplane", "hair dryer": "hair drier", "hairdryer": "hair drier",
    "cellphone": "cell phone", "mobile phone": "cell phone", "phone": "cell phone", "smartphone": "cell phone",
    "ski": "skis", "scissor": "scissors", "doughnut": "donut", "hotdog": "hot dog", "teddy": "teddy bear",
    "microwave oven": "microwave", "laptop computer": "laptop", "computer mouse": "mouse",
    "remote control": "remote", "wineglass": "wine glass", "ball": "sports ball",
    # bedroom
    "nightstand": "night stand", "night table": "night stand", "bedside table": "night stand",
    "bedside cabinet": "night stand", "bedside stand": "night stand", "nighttable": "night stand",
    "sleigh bed": "bed", "double bed": "bed", "single bed": "bed", "bunk bed": "bed",
    "drawers": "chest of drawers", "chest": "chest of drawers", "chests of drawers": "chest of drawers", "bureau": "dresser",
    "closet": "wardrobe", "armoire": "wardrobe",
    # living room
    "couch": "sofa", "settee": "sofa", "loveseat": "sofa", "love seat": "sofa",
    "television": "tv", "television set": "tv", "tv set": "tv", "monitor": "tv", "screen": "tv",
    "computer monitor": "tv",
    "bookcase": "bookshelf", "book shelf": "bookshelf", "shelves": "shelf", "shelving": "shelf",
    "end table": "side table", "easy chair": "armchair", "sofa chair": "armchair",
    "footstool": "ottoman", "pouf": "ottoman", "carpet": "rug",
    "tv cabinet": "tv stand", "tv console": "tv stand", "media console": "tv stand",
    "desk lamp": "lamp", "table lamp": "lamp", "standing lamp": "floor lamp",
    "plant": "potted plant", "flowerpot": "potted plant", "houseplant": "potted plant",
    "painting": "picture", "doorway": "door",
    # kitchen, bathroom, utility
    "fridge": "refrigerator", "cupboard": "cabinet", "wall cabinet": "cabinet",
    "kitchen counter": "counter", "countertop": "counter", "tub": "bathtub", "bath": "bathtub",
    "washer": "washing machine", "boiler": "water heater", "coffee mug": "mug",
    "bin": "trash can", "trash bin": "trash can", "garbage can": "trash can", "garbage bin": "trash can",
    "waste bin": "trash can", "wastebasket": "trash can", "dustbin": "trash can", "rubbish bin": "trash can",
    # seats
    "dining chair": "chair", "office chair": "chair", "seat": "chair",
    # people and street
    "pedestrian": "person", "people": "person", "man": "person", "woman": "person", "child": "person",
    "kid": "person", "boy": "person", "girl": "person",
    "bike": "bicycle", "lorry": "truck", "traffic barrier": "barrier", "cone": "traffic cone",
}

# Size stand-ins: close enough in size, not the same thing (size priors only).
SIZE_STANDINS: dict[str, str] = {
    "cyclist": "bicycle", "van": "car", "suv": "car", "glass": "cup", "frame": "picture",
}

# Near classes to try when nothing of the asked class is there (in order).
FALLBACKS: dict[str, tuple[str, ...]] = {
    "desk": ("table",), "armchair": ("chair",), "stool": ("chair",), "dresser": ("chest of drawers",),
    "chest of drawers": ("dresser",), "bookshelf": ("shelf",), "floor lamp": ("lamp",), "van": ("car", "truck"),
    "mug": ("cup",), "cup": ("mug",), "ottoman": ("stool",),
}
# fmt: on

# Multi-word canonical classes (COCO, size priors, synonym targets): a phrase ending in one of them names it.
COMPOUND_CLASSES: frozenset[str] = frozenset({
    "traffic light", "fire hydrant", "stop sign", "parking meter", "sports ball", "baseball bat",
    "baseball glove", "tennis racket", "wine glass", "hot dog", "potted plant", "dining table", "cell phone",
    "teddy bear", "hair drier", "construction vehicle", "traffic cone", "coffee table", "side table",
    "night stand", "chest of drawers", "tv stand", "floor lamp", "washing machine", "water heater", "trash can",
} | {v for v in SYNONYMS.values() if " " in v})

# Compound words whose tail is a class of its own: an armchair is a chair, a bookshelf a shelf.
COMPOUND_HEADS: tuple[str, ...] = ("chair", "shelf", "stand", "case", "table", "lamp")
# Multi-word classes that are not a kind of their last word.
NOT_KIND_OF_HEAD = frozenset({"hot dog", "teddy bear", "night stand", "chest of drawers", "trash can"})


def clean(text: str) -> str:
    """Lower case, ``_``/``-`` as spaces, letters and digits only, single-spaced ("Night_Stand" -> "night stand")."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower().replace("_", " ")))


def singular(word: str) -> str:
    """English singular of a noun (good enough for object classes)."""
    w = word.lower()
    if w in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[w]
    if len(w) > 3 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("ves"):
        return w[:-3] + "f"
    if len(w) > 3 and re.search(r"(ch|sh|x|ss|z)es$", w):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def _known(tail: str) -> str | None:
    if tail in SYNONYMS:
        return SYNONYMS[tail]
    if tail in COMPOUND_CLASSES:
        return tail
    return None


def split_phrase(phrase: str) -> tuple[list[str], str]:
    """(modifier words, canonical class) of a noun phrase: the longest known class or alias at its end, else
    its last word ("the red bedside table" -> (["red"], "night stand"), "wooden chairs" -> (["wooden"], "chair"))."""
    words = clean(phrase).split()
    while words and words[0] in DETERMINERS:
        words = words[1:]
    if not words:
        return [], ""
    # The words joined ("night stand" said as "nightstand" is an alias; "tv monitor" -> "tvmonitor" too).
    for k in range(len(words)):
        tail = words[k:]
        plain = " ".join(tail)
        found = _known(plain) or _known(" ".join([*tail[:-1], singular(tail[-1])]))
        if found is None and len(tail) > 1:
            found = _known("".join(tail))
        if found is not None:
            return words[:k], found
    last = words[-1]
    s = singular(last)
    return words[:-1], SYNONYMS.get(last, SYNONYMS.get(s, s))


def canonical_class(phrase: str) -> str:
    """The class a noun phrase names, synonyms and plurals resolved ("Nightstand" / "the bedside table" ->
    "night stand", "couches" -> "sofa", "TV" / "television" -> "tv"; unknown phrases: their singular last word)."""
    return split_phrase(phrase)[1]


def head_of(cls: str) -> str | None:
    """The class a compound class is a kind of ("coffee table" -> "table", "armchair" -> "chair"), or None."""
    words = cls.split()
    if len(words) > 1:
        if cls in NOT_KIND_OF_HEAD:
            return None
        return SYNONYMS.get(words[-1], words[-1])
    for h in COMPOUND_HEADS:
        if cls.endswith(h) and cls != h:
            return h
    return None


def kinds(name: str) -> set[str]:
    """Every class an object named ``name`` counts as: its canonical class and the heads it is a kind of."""
    cls = canonical_class(name)
    out = {cls} if cls else set()
    while cls and (cls := head_of(cls) or "") and cls not in out:
        out.add(cls)
    return out


def selects(phrase: str, name: str, fallback: bool = True) -> bool:
    """Whether ``phrase`` names an object (or detector class) called ``name``, fallbacks included."""
    cls = canonical_class(phrase)
    ks = kinds(name)
    return cls in ks or (fallback and any(f in ks for f in FALLBACKS.get(cls, ())))

# Other names for a size prior's class (``size_priors.prior_for``): synonyms plus size stand-ins.
PRIOR_ALIASES: dict[str, str] = {**SYNONYMS, **SIZE_STANDINS}
