"""Object captions and disambiguation (after SpatialVLM's "reject what stays ambiguous").

Every object gets a referring phrase such as "the red armchair". Objects whose phrases collide are
re-captioned with a distinguishing attribute, tried in this order:

1. colour (when the colliding objects have different named colours),
2. position left/right in the canonical frame (camera at the origin looking along +y, +x to the right),
3. distance from the camera ("the nearer" / "the farther"),
4. size relative to siblings ("the larger" / "the smaller", by footprint area x height),
5. height ("the taller" / "the shorter").

An attribute is used only when the siblings differ by a clear margin, so the phrase is true for a person
looking at the image. Objects that no attribute separates are marked ``ambiguous=True`` (questions skip
them) and ``Scene3D.notes`` says why.

If a CLIP-like model is given (any object with ``embed_images(list[np.ndarray]) -> (N, D)`` and
``embed_texts(list[str]) -> (M, D)``, L2-normalised), appearance captions are checked on the object's crop:
within each category, every crop must match its own caption better than its siblings' captions, else the
colour is not trusted and the geometric attributes above are tried instead. Positional and size phrases are
not checked with CLIP: a crop cannot show where the object is, and they come from the 3D geometry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from spatialvlm_core.colors import CAPTION_PROTOTYPES
from spatialvlm_core.types import Frame, Object3D, Scene3D
from spatialvlm_core.vocabulary import canonical_class

# --------------------------------------------------------------------------- colours

# The captioner's colour words and their sRGB prototypes: a view of the one colour table (spatialvlm_core.colors).
COLOR_TABLE: dict[str, tuple[int, int, int]] = CAPTION_PROTOTYPES


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8/float (..., 3) -> CIE Lab (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


_NAMES = list(COLOR_TABLE)
_TABLE_LAB = _srgb_to_lab(np.array([COLOR_TABLE[n] for n in _NAMES]))


_LUT_BITS = 5  # 32 levels per channel: finer than any colour word


@functools.lru_cache(maxsize=1)
def _color_lut() -> np.ndarray:
    """Nearest table colour (in Lab) for every quantised sRGB value, built once (32^3 entries)."""
    levels = (np.arange(1 << _LUT_BITS) + 0.5) * (256 >> _LUT_BITS)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    lab = _srgb_to_lab(grid)
    d = ((lab[:, None, :] - _TABLE_LAB[None, :, :]) ** 2).sum(-1)
    return d.argmin(1).astype(np.uint8)


# Shading: a face the light does not reach is a darker shade of the same paint, and a dark red, blue or yellow
# reads as brown, purple or brown. Each pixel is brightened towards the object's lit level (this quantile of its
# luminance), by at most RELIGHT_MAX, before it votes (394 sim objects: 87 % of the colour words agreed with the
# sim's paint without it, 97 % with it).
LIT_QUANTILE = 0.8
RELIGHT_MAX = 2.0
_LUMA = np.array([0.2126, 0.7152, 0.0722])
# Where a person looks for the colour word of a class: the pot of a potted plant (its leaves are always green),
# the clothes of a person (the torso band of the mask). Rows as fractions of the mask's height, top = 0.
COLOR_REGIONS: dict[str, tuple[float, float]] = {"potted plant": (0.9, 1.0), "person": (0.2, 0.55)}
# Words a person's torso band may show as bare skin: never used for people (no skin-colour words).
SKIN_WORDS = frozenset({"beige", "brown", "pink", "orange"})
PEOPLE = "person"


def color_of_pixels(
    pixels: np.ndarray, max_pixels: int = 20000, min_share: float = 0.35, lit_quantile: float = LIT_QUANTILE
) -> tuple[str, float]:
    """Dominant named colour of RGB pixels (N, 3): each pixel, relit (above), votes for its nearest table colour
    in Lab. ``lit_quantile=0`` votes the pixels as they are.

    Returns ``(name, share)``; name is "" when no colour wins at least ``min_share`` of the votes
    (multicoloured or textured objects get no colour word rather than a wrong one).
    """
    px = np.asarray(pixels).reshape(-1, 3)
    if len(px) == 0:
        return "", 0.0
    if len(px) > max_pixels:  # deterministic subsample: evenly strided
        px = px[:: int(np.ceil(len(px) / max_pixels))]
    px = np.clip(px, 0, 255).astype(np.float64)
    if lit_quantile > 0:
        lum = px @ _LUMA + 1e-6
        gain = np.clip(np.quantile(lum, lit_quantile) / lum, 1.0, RELIGHT_MAX)
        px = np.clip(px * gain[:, None], 0, 255)
    q = px.astype(np.int32) >> (8 - _LUT_BITS)
    idx = (q[:, 0] << (2 * _LUT_BITS)) | (q[:, 1] << _LUT_BITS) | q[:, 2]
    votes = np.bincount(_color_lut()[idx], minlength=len(_NAMES))
    best = int(votes.argmax())
    share = float(votes[best] / votes.sum())
    return (_NAMES[best] if share >= min_share else ""), share


def color_of_mask(rgb: np.ndarray, mask: np.ndarray, name: str = "") -> tuple[str, float]:
    """Dominant named colour of the masked pixels of an RGB image.

    With the object's class ``name``, the colour is read where a person would name it (``COLOR_REGIONS``), and
    a person never gets a word that may be their skin (``SKIN_WORDS``).
    """
    m = np.asarray(mask, dtype=bool)
    cls = canonical_class(name) if name else ""
    region = COLOR_REGIONS.get(cls)
    if region is not None and m.any():
        rows = np.nonzero(m.any(axis=1))[0]
        top, span = rows[0], rows[-1] + 1 - rows[0]
        lo, hi = top + int(region[0] * span), top + max(int(np.ceil(region[1] * span)), int(region[0] * span) + 1)
        band = np.zeros_like(m)
        band[lo:hi] = m[lo:hi]
        m = band
    color, share = color_of_pixels(np.asarray(rgb)[m])
    if cls == PEOPLE and color in SKIN_WORDS:
        return "", share
    return color, share


# --------------------------------------------------------------------------- backends


@runtime_checkable
class ClipLike(Protocol):
    """What naming needs from a CLIP model (the perception helper builds real ones)."""

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray: ...

    def embed_texts(self, texts: list[str]) -> np.ndarray: ...


# A captioner maps (crop uint8[H, W, 3], object) to a noun phrase such as "red armchair".
Captioner = Callable[[np.ndarray, Object3D], str]


# --------------------------------------------------------------------------- captions


def _article(phrase: str) -> str:
    phrase = " ".join(phrase.strip().split())
    low = phrase.lower()
    for art in ("the ", "a ", "an "):
        if low.startswith(art):
            phrase = phrase[len(art) :]
            break
    return f"the {phrase}"


def _noun(obj: Object3D) -> str:
    return obj.name.replace("_", " ").strip() or "object"


# A person is told apart by clothes or place, never by a colour word before "person" ("the black person"). The
# place stays before the noun ("the left person", like "the left chair"): "the person on the left" reads better,
# but the agent's planners take "on" for the relation ("is A on B?") and lose the object.


def _phrase(qualifier: str, color: str, obj: Object3D) -> str:
    """"the <qualifier> <colour> <name>"; for people "the <qualifier> person in <colour>"."""
    noun = _noun(obj)
    if canonical_class(noun) == PEOPLE:
        return _article(" ".join(w for w in (qualifier, noun, f"in {color}" if color else "") if w))
    return _article(" ".join(w for w in (qualifier, color, noun) if w))


def base_caption(obj: Object3D) -> str:
    """"the <colour> <name>" from the object's attributes (no colour word when unknown)."""
    return _phrase("", obj.attributes.get("color", ""), obj)


def crop_of(frame: Frame, obj: Object3D, pad: float = 0.1) -> np.ndarray | None:
    """The object's 2D box crop (padded by a fraction of its size); None without a usable box."""
    if obj.box_2d is None:
        return None
    h, w = frame.rgb.shape[:2]
    x0, y0, x1, y1 = obj.box_2d
    px, py = (x1 - x0) * pad, (y1 - y0) * pad
    xa, ya = max(0, int(np.floor(x0 - px))), max(0, int(np.floor(y0 - py)))
    xb, yb = min(w, int(np.ceil(x1 + px))), min(h, int(np.ceil(y1 + py)))
    if xb - xa < 2 or yb - ya < 2:
        return None
    return frame.rgb[ya:yb, xa:xb]


# --------------------------------------------------------------------------- geometric attributes

# Each family maps a group of colliding objects to one qualifier per object, or None where the group's
# values do not separate that object by the family's margin.


def _size_key(o: Object3D) -> float:
    s = o.obb.size
    return float(max(s[0] * s[1], 1e-6) * max(s[2], 1e-3))


def _cam_dist(o: Object3D, scene: Scene3D) -> float:
    cam = scene.camera.position if scene.camera is not None else np.zeros(3)
    return float(np.linalg.norm(np.asarray(o.centroid) - cam))


def _lateral(o: Object3D, scene: Scene3D) -> float:
    """Left-to-right coordinate as seen from the camera (canonical: +x; camera frame: +x too)."""
    return float(o.centroid[0])


def _order_words(
    values: list[float], margin: float, two: tuple[str, str], many: tuple[str, str], middle: str | None
) -> list[str | None]:
    """Qualifiers for sorted extremes: 2 objects -> two[0]/two[1]; 3 -> many[0]/middle/many[1]; more -> extremes.

    A qualifier is given only when its object is separated from the neighbours by ``margin`` (absolute or
    relative, as the caller scaled the values).
    """
    n = len(values)
    order = np.argsort(values)
    v = np.asarray(values)[order]
    out: list[str | None] = [None] * n
    gaps = np.diff(v)
    if n == 2:
        if gaps[0] >= margin:
            out[order[0]], out[order[1]] = two
        return out
    if gaps[0] >= margin:
        out[order[0]] = many[0]
    if gaps[-1] >= margin:
        out[order[-1]] = many[1]
    if n == 3 and middle is not None and gaps.min() >= margin:
        out[order[1]] = middle
    return out


def _family_position(group: list[Object3D], scene: Scene3D) -> list[str | None]:
    return _order_words([_lateral(o, scene) for o in group], 0.25, ("left", "right"),
                        ("leftmost", "rightmost"), "middle")


def _family_distance(group: list[Object3D], scene: Scene3D) -> list[str | None]:
    d = [_cam_dist(o, scene) for o in group]
    # Relative margin: "nearer" must be clearly nearer (20 % or 0.3 m).
    margin = max(0.3, 0.2 * float(np.median(d)))
    return _order_words(d, margin, ("nearer", "farther"), ("nearest", "farthest"), None)


def _family_size(group: list[Object3D], scene: Scene3D) -> list[str | None]:
    # log-volume: a ratio of 1.5 is a clear "larger".
    return _order_words([float(np.log(_size_key(o))) for o in group], float(np.log(1.5)),
                        ("smaller", "larger"), ("smallest", "largest"), None)


def _family_height(group: list[Object3D], scene: Scene3D) -> list[str | None]:
    return _order_words([float(np.log(max(o.aabb.size[2], 1e-3))) for o in group], float(np.log(1.3)),
                        ("shorter", "taller"), ("shortest", "tallest"), None)


GEOMETRIC_FAMILIES: list[tuple[str, Callable[[list[Object3D], Scene3D], list[str | None]]]] = [
    ("position", _family_position),
    ("distance", _family_distance),
    ("size", _family_size),
    ("height", _family_height),
]


# --------------------------------------------------------------------------- CLIP check


def _clip_consistent(clip: ClipLike, crops: list[np.ndarray], captions: list[str], margin: float) -> list[bool]:
    """For each crop: does it match its own caption best among the group's captions (by ``margin``)?"""
    img = np.asarray(clip.embed_images(crops), dtype=np.float64)
    txt = np.asarray(clip.embed_texts(captions), dtype=np.float64)
    if img.shape[0] != len(crops) or txt.shape[0] != len(captions):
        raise ValueError(f"clip returned {img.shape[0]} image / {txt.shape[0]} text embeddings, "
                         f"expected {len(crops)} / {len(captions)}")
    sim = img @ txt.T
    ok = []
    for i in range(len(crops)):
        others = np.delete(sim[i], i)
        ok.append(bool(others.size == 0 or sim[i, i] >= others.max() + margin))
    return ok


# --------------------------------------------------------------------------- entry point


def _qualified(qualifier: str, obj: Object3D, with_color: bool) -> str:
    return _phrase(qualifier, obj.attributes.get("color", "") if with_color else "", obj)


def name_objects(
    scene: Scene3D,
    frame: Frame | None = None,
    clip: ClipLike | None = None,
    captioner: Captioner | None = None,
    clip_margin: float = 0.0,
) -> Scene3D:
    """Caption every object and disambiguate colliding captions; returns a new ``Scene3D``.

    ``captioner`` (needs ``frame``) replaces the attribute caption with a backend's phrase. ``clip`` (needs
    ``frame``) verifies appearance captions on crops; see the module docstring for the rules.
    """
    if (clip is not None or captioner is not None) and frame is None:
        raise ValueError("name_objects: clip/captioner need the frame to crop objects from")
    objs = [o.model_copy(deep=True) for o in scene.objects]
    notes = list(scene.notes)
    crops: dict[str, np.ndarray | None] = {}
    if frame is not None:
        crops = {o.id: crop_of(frame, o) for o in objs}

    captions: dict[str, str] = {}
    for o in objs:
        cap = ""
        crop = crops.get(o.id)
        if captioner is not None and crop is not None:
            cap = str(captioner(crop, o)).strip()
        captions[o.id] = _article(cap) if cap else base_caption(o)

    # CLIP: within a category, distinct appearance captions must each win on their own crop.
    distrusted: set[str] = set()
    if clip is not None:
        by_name: dict[str, list[Object3D]] = {}
        for o in objs:
            by_name.setdefault(_noun(o), []).append(o)
        for name, group in by_name.items():
            group = [o for o in group if crops.get(o.id) is not None]
            caps = [captions[o.id] for o in group]
            if len(group) < 2 or len(set(caps)) < len(caps):
                continue  # nothing to verify: single object, or collisions handled below anyway
            ok = _clip_consistent(clip, [crops[o.id] for o in group], caps, clip_margin)  # type: ignore[misc]
            bad = [o for o, good in zip(group, ok, strict=True) if not good]
            if bad:
                distrusted.update(o.id for o in group)
                notes.append(f"naming: CLIP did not confirm appearance captions for {name!r} "
                             f"({', '.join(o.id for o in bad)}); using geometric attributes")

    # Collision groups: same caption, or same category whose appearance captions CLIP distrusts.
    groups: dict[str, list[Object3D]] = {}
    for o in objs:
        key = f"noun:{_noun(o)}" if o.id in distrusted else f"cap:{captions[o.id]}"
        groups.setdefault(key, []).append(o)

    for group in groups.values():
        if len(group) == 1:
            continue
        _disambiguate(group, scene, captions, distrusted, notes)

    for o in objs:
        o.caption = captions[o.id]
    # Final guard: any caption still shared means those objects are not referable.
    seen: dict[str, list[Object3D]] = {}
    for o in objs:
        if not o.ambiguous:
            seen.setdefault(o.caption, []).append(o)
    for cap, group in seen.items():
        if len(group) > 1:
            for o in group:
                o.ambiguous = True
            notes.append(f"naming: ambiguous {', '.join(o.id for o in group)} share caption {cap!r}")
    return scene.model_copy(update={"objects": objs, "notes": notes})


def _disambiguate(
    group: list[Object3D], scene: Scene3D, captions: dict[str, str], distrusted: set[str], notes: list[str]
) -> None:
    """Give each object in a colliding group a distinct caption, or mark it ambiguous."""
    with_color = not any(o.id in distrusted for o in group)
    colors = [o.attributes.get("color", "") for o in group]
    # Colour separates the group when captions collide only because the captioner ignored colour.
    if with_color and all(colors) and len(set(colors)) == len(colors) and len({_noun(o) for o in group}) == 1:
        for o in group:
            captions[o.id] = _qualified("", o, True)
        return
    best: list[str | None] = [None] * len(group)
    used_family = ""
    for fam_name, fam in GEOMETRIC_FAMILIES:
        quals = fam(group, scene)
        if all(q is not None for q in quals):
            best, used_family = quals, fam_name
            break
        if sum(q is not None for q in quals) > sum(q is not None for q in best):
            best, used_family = quals, fam_name
    ambiguous = []
    for o, q in zip(group, best, strict=True):
        if q is None:
            o.ambiguous = True
            ambiguous.append(o.id)
        else:
            # Keep the colour word only when the group shares it (it then still describes the object).
            share_color = with_color and len(set(colors)) == 1 and bool(colors[0])
            captions[o.id] = _qualified(q, o, share_color)
    if ambiguous:
        shared = captions.get(ambiguous[0], "")
        notes.append(f"naming: ambiguous {', '.join(ambiguous)} ({shared!r}): no attribute separates them"
                     + (f" (best: {used_family})" if used_family else ""))


def caption_candidates(obj: Object3D, colors: Sequence[str] = tuple(COLOR_TABLE)) -> list[str]:
    """Colour variants of an object's caption, e.g. to let CLIP pick the colour word on a crop."""
    return [_phrase("", c, obj) for c in colors]
