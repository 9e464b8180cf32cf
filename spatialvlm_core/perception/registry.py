"""Backends by name: one generic registry, four instances (depth, detectors, segmenters, CLIP).

A backend module registers its class with ``@DEPTH.register("name")``; ``create_depth("name", **kw)``
builds it. Registration itself is cheap: backend constructors import torch/transformers lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from spatialvlm_core.perception.base import ClipModel, DepthEstimator, Detector, Segmenter

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Registry(Generic[T]):
    """Name -> factory (a class or any callable returning a ``T``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str, *aliases: str) -> Callable[[F], F]:
        """Decorator: ``@REG.register("name")`` on a backend class or factory function."""

        def deco(factory: F) -> F:
            for key in (name, *aliases):
                key = self._key(key)
                if key in self._factories and self._factories[key] is not factory:
                    raise ValueError(f"{self.kind} backend {key!r} is already registered")
                self._factories[key] = factory
            return factory

        return deco

    def create(self, name: str, **kwargs: Any) -> T:
        key = self._key(name)
        if key not in self._factories:
            raise ValueError(f"unknown {self.kind} backend {name!r}; known: {', '.join(self.names())}")
        return self._factories[key](**kwargs)

    def get(self, name: str) -> Callable[..., T]:
        """The registered factory itself (e.g. to call a ``from_model`` classmethod)."""
        key = self._key(name)
        if key not in self._factories:
            raise ValueError(f"unknown {self.kind} backend {name!r}; known: {', '.join(self.names())}")
        return self._factories[key]

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._factories

    @staticmethod
    def _key(name: str) -> str:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"backend name must be a non-empty string, got {name!r}")
        return name.strip().lower().replace("_", "-")


DEPTH: Registry[DepthEstimator] = Registry("depth")
DETECTORS: Registry[Detector] = Registry("detector")
SEGMENTERS: Registry[Segmenter] = Registry("segmenter")
CLIP: Registry[ClipModel] = Registry("clip")


def create_depth(name: str, **kwargs: Any) -> DepthEstimator:
    return DEPTH.create(name, **kwargs)


def create_detector(name: str, **kwargs: Any) -> Detector:
    return DETECTORS.create(name, **kwargs)


def create_segmenter(name: str, **kwargs: Any) -> Segmenter:
    return SEGMENTERS.create(name, **kwargs)


def create_clip(name: str, **kwargs: Any) -> ClipModel:
    return CLIP.create(name, **kwargs)
