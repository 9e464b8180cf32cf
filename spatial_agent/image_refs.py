"""Images the agent's graph refers to by a string key, so its state (and a LangGraph checkpoint) holds no pixels.

A file path is its own reference (``file:<absolute path>``): a checkpointed thread over a file resumes in any
process that can read the file. An in-memory image (array, PIL image, Frame, Scene3D) is kept here under its
content hash (``mem:<sha1>``) for the last ``capacity`` images; resuming its thread needs the same registry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from spatial_agent.tools import image_key

FILE_PREFIX = "file:"
MEM_PREFIX = "mem:"


class UnknownImageRef(KeyError):
    """A state refers to an in-memory image this registry does not hold (another process, or evicted)."""

    def __str__(self) -> str:  # KeyError's repr-quoting would hide the sentence
        return str(self.args[0]) if self.args else ""


class ImageRegistry:
    """Image references <-> images. Thread-safe; in-memory images are evicted least recently used first."""

    def __init__(self, capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError(f"ImageRegistry capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._images: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, image: Any) -> str | None:
        """The reference of ``image`` (None for no image), registering an in-memory one."""
        if image is None:
            return None
        if isinstance(image, str | Path):
            path = Path(image)
            if not path.is_file():
                raise FileNotFoundError(f"image not found: {path}")
            return FILE_PREFIX + str(path.resolve())
        ref = MEM_PREFIX + image_key(image)  # TypeError for an unsupported type, as the tools raise
        with self._lock:
            self._images[ref] = image
            self._images.move_to_end(ref)
            while len(self._images) > self.capacity:
                self._images.popitem(last=False)
        return ref

    def get(self, ref: str | None) -> Any:
        """The image behind ``ref``: a path string, a registered object, or None."""
        if ref is None:
            return None
        if ref.startswith(FILE_PREFIX):
            return ref[len(FILE_PREFIX):]
        if not ref.startswith(MEM_PREFIX):
            raise ValueError(f"image reference {ref!r} must start with {FILE_PREFIX!r} or {MEM_PREFIX!r}")
        with self._lock:
            if ref not in self._images:
                raise UnknownImageRef(
                    f"image reference {ref!r} is not in this registry: an in-memory image lives only in the "
                    f"registry (last {self.capacity} images) it was asked with; pass a file path to resume a "
                    "thread in another process")
            self._images.move_to_end(ref)
            return self._images[ref]

    def __len__(self) -> int:
        with self._lock:
            return len(self._images)
