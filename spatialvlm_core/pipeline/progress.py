"""The run's progress bar: images done, with QA/s beside it."""

from __future__ import annotations

import sys
import time


class Progress:
    """tqdm bar in images with QA/s beside it; a no-op when disabled."""

    def __init__(self, total: int, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="img", desc="synth", disable=not enabled, file=sys.stderr)
        self.qa = 0
        self.t0 = time.perf_counter()

    def update(self, images: int, qa: int) -> None:
        self.qa += qa
        self.bar.update(images)
        dt = max(time.perf_counter() - self.t0, 1e-9)
        self.bar.set_postfix_str(f"{self.qa / dt:.1f} QA/s, {self.qa} QA", refresh=False)

    def close(self) -> None:
        self.bar.close()
