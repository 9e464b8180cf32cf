"""Compatibility name: the Ray runner lives in ``spatialvlm_core.pipeline.ray_runner``."""

from spatialvlm_core.pipeline.ray_runner import ensure_ray, run_ray

__all__ = ["ensure_ray", "run_ray"]
