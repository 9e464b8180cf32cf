"""Parameters of :func:`spatialvlm_core.lifting.lift` (lengths in metres), in their own module so the floor search
(``floor.py``) and lifting both read them without importing each other."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from spatialvlm_core.amodal import AmodalConfig


class LiftConfig(BaseModel):
    """Parameters of :func:`lift` (lengths in metres)."""

    model_config = ConfigDict(extra="forbid")

    fallback_hfov_deg: float = Field(60.0, gt=1, lt=179)  # intrinsics prior when none are given
    pixel_center: float = Field(0.0, ge=0, le=1)  # 0: OpenCV (centres at integers); 0.5: corner-origin intrinsics
    min_depth: float = Field(0.05, ge=0)  # depths outside [min_depth, max_depth] are invalid
    max_depth: float = Field(50.0, gt=0)
    # objects
    min_mask_pixels: int = Field(30, ge=1)  # fewer valid pixels -> object dropped
    erode_px: int = Field(0, ge=0)  # erode masks (when they stay large enough) to shed edge pixels
    max_points: int = Field(6000, ge=100)  # per-object pixel budget (grid subsample above it)
    voxel_size: float = Field(0.01, gt=0)  # object voxel grid for outlier removal / clustering
    max_voxels: int = Field(600, ge=50)  # coarser voxels for big objects (speed)
    sor_neighbors: int = Field(6, ge=2)  # statistical outlier removal: k nearest neighbours
    sor_std_ratio: float = Field(2.5, gt=0)  # drop voxels with mean kNN distance > mean + ratio * std
    sor_median_floor: float = Field(5.0, gt=0)  # ...but never below this times the median (keeps rims)
    cluster_radius: float = Field(0.05, gt=0)  # radius graph for clustering (grows with point spacing)
    grazing_factor: float = Field(10.0, ge=0)  # cluster radius >= this many pixel footprints
    drop_floor_bleed: bool = True  # drop mask pixels on the floor outside the object's footprint
    secondary_cluster_frac: float = Field(0.05, ge=0, le=1)  # keep other clusters this big vs the main
    extent_percentiles: tuple[float, float] = (0.5, 99.5)  # robust box extent
    snap_to_floor_m: float = Field(0.0, ge=0)  # 0 = points-only boxes
    amodal: AmodalConfig = Field(default_factory=AmodalConfig)  # whole objects behind the seen surface
    # floor
    plane_sample: int = Field(3000, ge=100)  # points fed to RANSAC
    ransac_iters: int = Field(200, ge=1)
    ransac_threshold: float = Field(0.02, gt=0)  # inlier distance at <= 3 m (grows as depth^2 beyond)
    ransac_scales: tuple[float, ...] = (1.0, 3.0, 8.0)  # wider bands tried in turn for noisy depth
    max_tilt_deg: float = Field(45.0, gt=0, lt=90)  # floor normal vs camera prior up (pitch+roll)
    max_planes: int = Field(3, ge=1)  # planes extracted in turn; the lowest credible wins
    min_plane_frac: float = Field(0.05, gt=0, lt=1)  # support needed, as a share of the sample
    max_below_frac: float = Field(0.05, ge=0, lt=1)  # share of points allowed clearly below the floor
    below_margin: float = Field(0.05, ge=0)
    floor_max_band: float = Field(0.15, gt=0)  # cap of the depth^2-growing inlier band (far LiDAR), x scale
    floor_max_range: float = Field(25.0, gt=0)  # floor search uses points this near (z, m) when >= 50
    floor_merge_m: float = Field(0.25, ge=0)  # planes this close in height and angle (to a better-
    floor_merge_deg: float = Field(10.0, ge=0)  # supported one) are the same surface, not a floor
    # Floor checks (spatialvlm_core.floor): a candidate's confidence is its RANSAC support times the cue
    # scores (camera height, points below, wall perpendicularity, RGB vertical vanishing direction, objects on
    # it). Below min_floor_confidence the scene stays in the camera frame and the notes name the failed cues.
    min_floor_confidence: float = Field(0.35, ge=0, le=1)
    floor_checks: bool = True  # walls + vanishing-direction cues (height/below/objects are always checked)
    floor_camera_height: tuple[float, float] = (0.3, 3.0)  # plausible camera heights (m); scores fall off
    floor_cue_scale_deg: float = Field(3.5, gt=0)  # walls / vanishing direction this far off score 0.5
    wall_max_tilt_deg: float = Field(30.0, gt=0, lt=90)  # planes this close to vertical count as walls
    wall_min_frac: float = Field(0.08, gt=0, lt=1)  # wall support, as a share of the sample
    vp_min_segments: int = Field(15, ge=2)  # line segments needed for the vanishing-direction cue
    floor_object_tol: float = Field(0.15, gt=0)  # an object bottom this far under the floor contradicts it
    # Known up (Frame.gravity_up): orientation is given; with no floor in view z = 0 goes this far below the
    # camera (or lower, under the lowest points) and the scene stays canonical (see floor.floor_from_gravity).
    floor_prior_height: float = Field(1.5, gt=0)
    seed: int = 0
