"""``SimConfig``: what kind of scene to generate (room type, object count, camera ranges, image size)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spatialvlm_core.sim.catalog import CATEGORIES, get_category

# Category mixes per room type: (floor objects, wall objects, small objects on tables).
ROOMS: dict[str, dict[str, tuple[str, ...]]] = {
    "living_room": {
        "floor": ("sofa", "armchair", "coffee table", "side table", "floor lamp", "tv", "potted plant", "bookshelf",
                  "ottoman", "box", "cabinet"),
        "wall": ("painting", "door", "clock"),
        "small": ("mug", "bottle", "bowl", "vase", "book", "laptop", "table lamp", "plate"),
    },
    "bedroom": {
        "floor": ("bed", "nightstand", "wardrobe", "armchair", "floor lamp", "box", "potted plant", "desk",
                  "dining chair", "side table", "ottoman"),
        "wall": ("painting", "door", "clock"),
        "small": ("table lamp", "book", "mug", "bottle", "laptop", "vase"),
    },
    "kitchen": {
        "floor": ("fridge", "cabinet", "dining table", "dining chair", "trash can", "potted plant", "box",
                  "side table"),
        "wall": ("door", "clock", "painting"),
        "small": ("mug", "bowl", "bottle", "plate", "vase", "book"),
    },
    "office": {
        "floor": ("desk", "office chair", "bookshelf", "cabinet", "potted plant", "trash can", "box", "armchair",
                  "floor lamp", "side table"),
        "wall": ("door", "clock", "painting"),
        "small": ("laptop", "mug", "book", "bottle", "table lamp", "vase"),
    },
}  # fmt: skip


class SimConfig(BaseModel):
    """Scene generation settings; every range is sampled from the scene's seed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(default=320, ge=16, le=4096)
    height: int = Field(default=240, ge=16, le=4096)
    room: str = "living_room"
    room_size: tuple[float, float] | None = None  # (width, depth) in metres; None: sampled per room type
    min_objects: int = Field(default=5, ge=1)
    max_objects: int = Field(default=9, ge=1)
    max_roll_deg: float = Field(default=10.0, ge=0.0, le=30.0)
    min_pitch_deg: float = Field(default=5.0, ge=0.0, le=60.0)
    max_pitch_deg: float = Field(default=30.0, ge=0.0, le=60.0)
    camera_height: tuple[float, float] = (1.0, 1.8)
    hfov_deg: tuple[float, float] = (50.0, 80.0)
    gap: tuple[str, str, float] | None = None  # (category a, category b, free gap in metres between footprints)
    min_visible_pixels: int = Field(default=25, ge=1)  # fewer mask pixels: the object is dropped as not visible

    @field_validator("room")
    @classmethod
    def _room(cls, v: str) -> str:
        if v not in ROOMS:
            raise ValueError(f"unknown room {v!r}; known: {sorted(ROOMS)}")
        return v

    @field_validator("room_size")
    @classmethod
    def _room_size(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and (min(v) < 1.5 or max(v) > 30):
            raise ValueError(f"room_size must be in [1.5, 30] m per side, got {v}")
        return v

    @field_validator("gap")
    @classmethod
    def _gap(cls, v: tuple[str, str, float] | None) -> tuple[str, str, float] | None:
        if v is None:
            return v
        a, b, g = v
        for name in (a, b):
            if get_category(name).placement != "floor":
                raise ValueError(f"gap objects must stand on the floor; {name!r} is {CATEGORIES[name].placement}")
        if not 0.0 < g <= 20.0:
            raise ValueError(f"gap must be in (0, 20] metres, got {g}")
        return v

    @model_validator(mode="after")
    def _ranges(self) -> SimConfig:
        if self.min_objects > self.max_objects:
            raise ValueError(f"min_objects ({self.min_objects}) > max_objects ({self.max_objects})")
        if self.gap is not None and self.max_objects < 2:
            raise ValueError("a gap layout needs max_objects >= 2")
        if self.min_pitch_deg > self.max_pitch_deg:
            raise ValueError(f"min_pitch_deg ({self.min_pitch_deg}) > max_pitch_deg ({self.max_pitch_deg})")
        lo, hi = self.camera_height
        if not 0.2 <= lo <= hi <= 3.0:
            raise ValueError(f"camera_height must be an increasing range within [0.2, 3.0] m, got {self.camera_height}")
        lo, hi = self.hfov_deg
        if not 20.0 <= lo <= hi <= 120.0:
            raise ValueError(f"hfov_deg must be an increasing range within [20, 120], got {self.hfov_deg}")
        return self
