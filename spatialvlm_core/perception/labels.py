"""Class names: the COCO-80 list, spelling aliases, and matching free-text queries to closed-set labels."""

from __future__ import annotations

# COCO-80 in the standard output order (YOLOX, torchvision, Detectron), canonical spellings.
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "sofa",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)

# Other spellings of the same class (VOC-style names in some COCO label files, plurals of usage).
LABEL_ALIASES: dict[str, str] = {
    "couch": "sofa",
    "tvmonitor": "tv",
    "tv monitor": "tv",
    "diningtable": "dining table",
    "pottedplant": "potted plant",
    "motorbike": "motorcycle",
    "aeroplane": "airplane",
    "hair dryer": "hair drier",
    "cellphone": "cell phone",
}

# Free-text queries that should select a closed-set class with a different name.
QUERY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "table": ("dining table",),
    "television": ("tv",),
    "monitor": ("tv",),
    "screen": ("tv",),
    "plant": ("potted plant",),
    "fridge": ("refrigerator",),
    "phone": ("cell phone",),
    "armchair": ("chair",),
    "people": ("person",),
    "man": ("person",),
    "woman": ("person",),
}

# Default open-vocabulary queries: common indoor objects (SpatialVLM's domain is rooms).
DEFAULT_INDOOR_QUERIES: tuple[str, ...] = (
    "chair", "sofa", "table", "bed", "lamp", "tv", "cabinet", "shelf", "potted plant", "desk",
    "bench", "box", "bottle", "cup", "book", "pillow", "refrigerator", "sink", "toilet", "laptop",
    "door", "window", "clock", "vase", "person",
)


def normalize_label(name: str) -> str:
    """Lower-case, single-spaced, alias-resolved class name ("Couch" -> "sofa", "tvmonitor" -> "tv")."""
    key = " ".join(name.replace("_", " ").strip().lower().split())
    return LABEL_ALIASES.get(key, key)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def query_targets(query: str) -> set[str]:
    """Canonical class names a free-text query selects ("couches" -> {"sofa"}, "table" -> {"dining table"})."""
    q = normalize_label(query)
    for art in ("a ", "an ", "the "):
        if q.startswith(art):
            q = q[len(art) :]
    names = {q, normalize_label(_singular(q))}
    for n in list(names):
        names.update(normalize_label(s) for s in QUERY_SYNONYMS.get(n, ()))
    return names


def match_queries(labels: list[str], queries: list[str] | None) -> dict[str, str | None]:
    """For each label, the first query selecting it (None when ``queries`` is None, i.e. keep all)."""
    out: dict[str, str | None] = {}
    if queries is None:
        return dict.fromkeys(labels)
    targets = [(q, query_targets(q)) for q in queries]
    for label in labels:
        for q, t in targets:
            if normalize_label(label) in t:
                out[label] = q
                break
    return out
