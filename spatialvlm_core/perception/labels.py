"""Class names: the COCO-80 list, closed-set vocabularies, and matching free-text queries to detector labels.

Synonyms and class matching live in ``spatialvlm_core.vocabulary`` (one table for the whole toolkit).
"""

from __future__ import annotations

from spatialvlm_core.vocabulary import SYNONYMS, canonical_class, selects

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

# Closed-set vocabularies by detector backend name: what such a detector can name at all.
CLOSED_SET_VOCABULARIES: dict[str, tuple[str, ...]] = {"coco": COCO_CLASSES}
DETECTOR_VOCABULARY: dict[str, str] = {"yolox-onnx": "coco", "yolox": "coco"}

# Default open-vocabulary queries: common indoor objects (SpatialVLM's domain is rooms).
DEFAULT_INDOOR_QUERIES: tuple[str, ...] = (
    "chair", "sofa", "table", "bed", "lamp", "tv", "cabinet", "shelf", "potted plant", "desk",
    "bench", "box", "bottle", "cup", "book", "pillow", "refrigerator", "sink", "toilet", "laptop",
    "door", "window", "clock", "vase", "person",
)


def normalize_label(name: str) -> str:
    """Lower-case, single-spaced, synonym-resolved class name ("Couch" -> "sofa", "tvmonitor" -> "tv"); the
    whole name only ("red couch" stays): synonyms come from ``spatialvlm_core.vocabulary``."""
    key = " ".join(name.replace("_", " ").strip().lower().split())
    return SYNONYMS.get(key, key)


def vocabulary_of(names: list[str] | tuple[str, ...]) -> str | None:
    """The name of a known closed-set vocabulary equal to ``names`` ("coco"), else None."""
    norm = [normalize_label(n) for n in names]
    for key, classes in CLOSED_SET_VOCABULARIES.items():
        if norm == list(classes):
            return key
    return None


def query_targets(query: str, classes: list[str] | tuple[str, ...] = COCO_CLASSES) -> set[str]:
    """Names a free-text query selects: its canonical class, and the ``classes`` it names (its kinds, else its
    fallbacks): "couches" -> {"sofa"}, "table" -> {"table", "dining table"}, "desk" -> {"desk", "dining table"}."""
    cls = canonical_class(query)
    exact = {normalize_label(c) for c in classes if selects(cls, c, fallback=False)}
    loose = {normalize_label(c) for c in classes if selects(cls, c)}
    return {cls} | (exact or loose)


def match_queries(labels: list[str], queries: list[str] | None) -> dict[str, str | None]:
    """For each label, the first query selecting it (None when ``queries`` is None, i.e. keep all). A query's
    fallback classes ("desk" -> table) count only when no label is of the asked class itself."""
    if queries is None:
        return dict.fromkeys(labels)
    out: dict[str, str | None] = {}
    for q in queries:
        hits = [lb for lb in labels if selects(q, lb, fallback=False)]
        if not hits:
            hits = [lb for lb in labels if selects(q, lb)]
        for lb in hits:
            out.setdefault(lb, q)
    return {lb: out[lb] for lb in labels if lb in out}
