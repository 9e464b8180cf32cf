"""How a ``grid`` x ``grid`` token split covers an image's pixels, shared by the dense and the point targets."""

from __future__ import annotations

IGNORE = -100  # class target of a token without a label


def cells(n: int, grid: int) -> list[slice]:
    """``grid`` contiguous pixel ranges covering ``n`` pixels, as adaptive average pooling splits them."""
    return [slice((i * n) // grid, -(-((i + 1) * n) // grid)) for i in range(grid)]
