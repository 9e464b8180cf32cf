"""Class size priors: typical whole-object dimensions with their spread, for every class our detectors name.

Used to complete objects behind what the camera saw (``amodal``), and to put photos without depth in metres
(``perception/depth_size_prior``: single-view metrology after Hoiem, Efros and Hebert, 2006).

Each prior is (length, width, height) in metres, length >= width being the horizontal extents (length along
the object's long axis), height along gravity, with a log-normal spread ``sigma`` per axis (1-sigma of
ln(size)), and whether the object usually stands on the floor. The numbers are typical adult-world sizes
(furniture catalogues, vehicle class averages as in KITTI/nuScenes statistics, ergonomic tables); the spreads
are wide enough to cover the common range of a class, not one product. Where a public dataset publishes its
class means we use them: nuScenes' per-class mean box sizes (the anchor sizes of mmdetection3d's nuScenes
configs) for street classes, SUN RGB-D's per-class means (VoteNet's ``sunrgbd`` mean sizes) for bed, table,
sofa, chair, toilet, desk, dresser, night stand, bookshelf and bathtub. COCO-80, the simulator's catalogue
and common furniture/street classes are all covered; ``prior_for`` resolves synonyms and head nouns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spatialvlm_core.vocabulary import DETERMINERS, PRIOR_ALIASES, clean, singular  # one vocabulary

# z for a two-sided interval at a given coverage (normal quantiles).
_Z = {0.5: 0.674, 0.68: 1.0, 0.8: 1.2816, 0.9: 1.6449, 0.95: 1.96}


def z_for(level: float) -> float:
    """Two-sided normal quantile for ``level`` coverage (0.5 .. 0.95 tabulated, else by bisection on erf)."""
    if level in _Z:
        return _Z[level]
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    lo, hi = 0.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if math.erf(mid / math.sqrt(2)) < level:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class SizePrior:
    """Typical whole-object size of a class; ``sigma`` is the log-spread per axis."""

    name: str
    length: float
    width: float
    height: float
    sigma: tuple[float, float, float]
    on_floor: bool = True

    @property
    def size(self) -> tuple[float, float, float]:
        return (self.length, self.width, self.height)

    def interval(self, axis: int, level: float = 0.8) -> tuple[float, float]:
        """(lo, hi) of one axis at ``level`` coverage under the log-normal spread."""
        z = z_for(level)
        m = self.size[axis]
        return m * math.exp(-z * self.sigma[axis]), m * math.exp(z * self.sigma[axis])


def _p(name: str, l: float, w: float, h: float, s: float | tuple[float, float, float] = 0.25,  # noqa: E741
       on_floor: bool = True) -> SizePrior:
    sig = (s, s, s) if isinstance(s, float) else s
    return SizePrior(name, max(l, w), min(l, w), h, sig, on_floor)


# fmt: off
_TABLE: tuple[SizePrior, ...] = (
    # people and animals
    _p("person", 0.73, 0.66, 1.75, (0.3, 0.3, 0.1)),
    _p("cat", 0.45, 0.18, 0.28, 0.25), _p("dog", 0.80, 0.28, 0.55, 0.35),
    _p("bird", 0.25, 0.12, 0.20, 0.5, on_floor=False), _p("horse", 2.2, 0.6, 1.6, 0.15),
    _p("sheep", 1.2, 0.45, 0.9, 0.2), _p("cow", 2.3, 0.7, 1.4, 0.15), _p("elephant", 5.5, 2.0, 3.0, 0.2),
    _p("bear", 1.9, 0.9, 1.1, 0.3), _p("zebra", 2.3, 0.6, 1.4, 0.15), _p("giraffe", 3.5, 1.0, 5.0, 0.2),
    # vehicles and street furniture
    _p("car", 4.4, 1.85, 1.6, (0.2, 0.1, 0.1)), _p("truck", 6.7, 2.45, 2.75, (0.4, 0.15, 0.25)),
    _p("bus", 11.2, 2.9, 3.45, (0.35, 0.1, 0.12)), _p("train", 20.0, 2.8, 3.6, (0.5, 0.1, 0.12)),
    _p("motorcycle", 2.1, 0.77, 1.45, 0.15), _p("bicycle", 1.7, 0.6, 1.3, (0.12, 0.2, 0.2)),
    _p("trailer", 12.0, 2.85, 3.8, 0.4), _p("construction vehicle", 6.4, 2.85, 3.2, 0.35),
    _p("airplane", 35.0, 30.0, 11.0, 0.6), _p("boat", 6.0, 2.2, 2.0, 0.6),
    _p("traffic light", 0.35, 0.3, 0.9, 0.3, on_floor=False), _p("fire hydrant", 0.4, 0.3, 0.75, 0.2),
    _p("stop sign", 0.75, 0.05, 0.75, 0.15, on_floor=False), _p("parking meter", 0.35, 0.25, 1.4, 0.2),
    _p("bench", 1.6, 0.6, 0.85, 0.2), _p("barrier", 2.5, 0.5, 1.0, (0.3, 0.35, 0.15)),
    _p("traffic cone", 0.4, 0.4, 0.9, (0.2, 0.2, 0.3)), _p("bollard", 0.25, 0.25, 0.95, 0.2),
    _p("tram", 30.0, 2.65, 3.6, (0.3, 0.05, 0.1)),
    # furniture (floor-standing)
    _p("chair", 0.59, 0.55, 0.83, (0.2, 0.2, 0.15)), _p("armchair", 0.85, 0.80, 0.90, 0.15),
    _p("sofa", 1.87, 0.92, 0.85, (0.2, 0.12, 0.12)), _p("bed", 2.11, 1.62, 0.93, (0.1, 0.25, 0.3)),
    _p("dining table", 1.6, 0.90, 0.75, (0.3, 0.2, 0.08)), _p("table", 1.3, 0.80, 0.74, (0.35, 0.3, 0.15)),
    _p("coffee table", 1.1, 0.60, 0.45, (0.25, 0.25, 0.2)), _p("desk", 1.35, 0.70, 0.74, (0.25, 0.25, 0.1)),
    _p("side table", 0.55, 0.45, 0.55, 0.2), _p("night stand", 0.50, 0.50, 0.60, (0.25, 0.25, 0.2)),
    _p("dresser", 1.0, 0.53, 0.95, (0.3, 0.2, 0.25)), _p("chest of drawers", 0.90, 0.48, 1.05, 0.2),
    _p("cabinet", 1.0, 0.50, 1.00, 0.4), _p("wardrobe", 1.2, 0.60, 1.90, (0.25, 0.15, 0.12)),
    _p("bookshelf", 1.07, 0.40, 1.69, (0.3, 0.25, 0.25)), _p("shelf", 0.90, 0.35, 1.50, 0.45),
    _p("tv stand", 1.5, 0.45, 0.55, 0.2), _p("ottoman", 0.70, 0.60, 0.42, 0.25), _p("stool", 0.40, 0.40, 0.60, 0.3),
    _p("floor lamp", 0.40, 0.40, 1.60, (0.25, 0.25, 0.15)), _p("lamp", 0.30, 0.30, 0.55, 0.4, on_floor=False),
    _p("potted plant", 0.40, 0.40, 0.70, 0.5), _p("plant", 0.40, 0.40, 0.70, 0.5),
    _p("toilet", 0.70, 0.45, 0.76, 0.12), _p("sink", 0.55, 0.45, 0.20, 0.25, on_floor=False),
    _p("bathtub", 1.4, 0.77, 0.47, (0.2, 0.15, 0.2)), _p("refrigerator", 0.75, 0.70, 1.75, (0.12, 0.1, 0.12)),
    _p("oven", 0.60, 0.60, 0.90, 0.12), _p("microwave", 0.50, 0.38, 0.30, 0.15, on_floor=False),
    _p("washing machine", 0.60, 0.60, 0.85, 0.08), _p("dishwasher", 0.60, 0.60, 0.85, 0.08),
    _p("water heater", 0.55, 0.55, 1.50, 0.2), _p("furnace", 0.55, 0.70, 1.30, 0.2),
    _p("dehumidifier", 0.40, 0.30, 0.60, 0.25), _p("box", 0.45, 0.35, 0.35, 0.5),
    _p("door", 0.90, 0.05, 2.03, (0.12, 0.3, 0.05)), _p("window", 1.2, 0.10, 1.2, 0.35, on_floor=False),
    _p("mirror", 0.8, 0.05, 1.0, 0.4, on_floor=False), _p("picture", 0.6, 0.04, 0.5, 0.45, on_floor=False),
    _p("tv", 1.1, 0.08, 0.65, (0.3, 0.5, 0.3), on_floor=False), _p("laptop", 0.34, 0.24, 0.24, 0.15, on_floor=False),
    _p("piano", 1.5, 0.6, 1.2, 0.2), _p("rug", 2.0, 1.4, 0.02, 0.35), _p("pillow", 0.55, 0.40, 0.15, 0.3, on_floor=False),
    _p("blanket", 1.5, 1.2, 0.1, 0.4, on_floor=False), _p("curtain", 1.4, 0.1, 2.2, 0.3, on_floor=False),
    _p("radiator", 0.9, 0.12, 0.6, 0.3), _p("fireplace", 1.5, 0.5, 1.1, 0.3), _p("counter", 2.0, 0.60, 0.91, (0.4, 0.1, 0.06)),
    _p("trash can", 0.35, 0.30, 0.60, 0.3), _p("suitcase", 0.70, 0.45, 0.25, (0.25, 0.25, 0.5)),
    _p("basket", 0.40, 0.30, 0.30, 0.4), _p("pole", 0.10, 0.10, 2.4, 0.4),
    # small objects (usually on something)
    _p("bottle", 0.08, 0.08, 0.26, 0.25, on_floor=False), _p("wine glass", 0.08, 0.08, 0.20, 0.15, on_floor=False),
    _p("cup", 0.10, 0.08, 0.10, 0.2, on_floor=False), _p("mug", 0.12, 0.09, 0.10, 0.15, on_floor=False),
    _p("bowl", 0.17, 0.17, 0.08, 0.3, on_floor=False), _p("vase", 0.15, 0.15, 0.30, 0.4, on_floor=False),
    _p("book", 0.23, 0.16, 0.03, 0.3, on_floor=False), _p("clock", 0.30, 0.06, 0.30, 0.4, on_floor=False),
    _p("fork", 0.19, 0.025, 0.02, 0.15, on_floor=False), _p("knife", 0.22, 0.025, 0.02, 0.2, on_floor=False),
    _p("spoon", 0.17, 0.04, 0.02, 0.15, on_floor=False), _p("banana", 0.19, 0.04, 0.04, 0.15, on_floor=False),
    _p("apple", 0.08, 0.08, 0.08, 0.12, on_floor=False), _p("orange", 0.08, 0.08, 0.08, 0.12, on_floor=False),
    _p("sandwich", 0.13, 0.10, 0.06, 0.25, on_floor=False), _p("broccoli", 0.15, 0.12, 0.15, 0.3, on_floor=False),
    _p("carrot", 0.18, 0.03, 0.03, 0.25, on_floor=False), _p("hot dog", 0.18, 0.05, 0.05, 0.2, on_floor=False),
    _p("pizza", 0.32, 0.32, 0.03, 0.25, on_floor=False), _p("donut", 0.09, 0.09, 0.035, 0.15, on_floor=False),
    _p("cake", 0.22, 0.22, 0.10, 0.3, on_floor=False), _p("mouse", 0.11, 0.06, 0.04, 0.12, on_floor=False),
    _p("remote", 0.18, 0.05, 0.025, 0.15, on_floor=False), _p("keyboard", 0.44, 0.14, 0.03, 0.15, on_floor=False),
    _p("cell phone", 0.15, 0.075, 0.009, 0.1, on_floor=False), _p("toaster", 0.30, 0.18, 0.20, 0.15, on_floor=False),
    _p("scissors", 0.20, 0.08, 0.015, 0.2, on_floor=False), _p("teddy bear", 0.30, 0.20, 0.35, 0.5, on_floor=False),
    _p("hair drier", 0.25, 0.09, 0.22, 0.2, on_floor=False), _p("toothbrush", 0.19, 0.02, 0.02, 0.1, on_floor=False),
    _p("backpack", 0.32, 0.20, 0.45, 0.2, on_floor=False), _p("umbrella", 1.0, 1.0, 0.9, 0.3, on_floor=False),
    _p("handbag", 0.35, 0.15, 0.28, 0.3, on_floor=False), _p("tie", 0.09, 0.01, 0.50, 0.15, on_floor=False),
    _p("frisbee", 0.27, 0.27, 0.03, 0.1, on_floor=False), _p("skis", 1.7, 0.10, 0.05, 0.15, on_floor=False),
    _p("snowboard", 1.55, 0.27, 0.05, 0.1, on_floor=False), _p("sports ball", 0.22, 0.22, 0.22, 0.4, on_floor=False),
    _p("kite", 1.0, 0.8, 0.05, 0.5, on_floor=False), _p("baseball bat", 0.85, 0.07, 0.07, 0.08, on_floor=False),
    _p("baseball glove", 0.30, 0.20, 0.10, 0.15, on_floor=False), _p("skateboard", 0.80, 0.21, 0.11, 0.1),
    _p("surfboard", 2.2, 0.55, 0.08, 0.3, on_floor=False), _p("tennis racket", 0.68, 0.27, 0.03, 0.06, on_floor=False),
    _p("plate", 0.24, 0.24, 0.02, 0.2, on_floor=False),
    _p("gripper", 0.12, 0.08, 0.15, 0.3, on_floor=False),
)
# fmt: on

PRIORS: dict[str, SizePrior] = {p.name: p for p in _TABLE}


def _words(label: str) -> list[str]:
    """The label's words, cleaned and without a leading article ("The Night_Stand" -> ["night", "stand"])."""
    words = clean(label).split()
    while words and words[0] in DETERMINERS:
        words = words[1:]
    return words


def prior_for(label: str) -> SizePrior | None:
    """The size prior of a class name: exact, alias, singular, then the longest known tail ("red office chair"
    -> chair, "sleigh bed" -> bed); None when nothing matches."""
    key = " ".join(_words(label))
    key = PRIOR_ALIASES.get(key, key)
    if key in PRIORS:
        return PRIORS[key]
    words = [singular(w) for w in key.split()]
    for k in range(len(words)):
        tail = " ".join(words[k:])
        tail = PRIOR_ALIASES.get(tail, tail)
        if tail in PRIORS:
            return PRIORS[tail]
    # Compound single words: "armchair" is handled, "deskchair" -> chair.
    last = words[-1] if words else ""
    for name in sorted(PRIORS, key=len, reverse=True):
        if " " not in name and len(name) >= 4 and last.endswith(name):
            return PRIORS[name]
    return None
