"""Named scratch arrays that the training hot path reuses from step to step.

``Sequential.cost_and_gradients`` switches its layers into "hot" mode for one step; in that mode
each layer writes its output, its dX and its temporaries into arrays from its own Workspace
instead of allocating new ones. An array is allocated once per name and grows only with the batch:
a smaller batch (the last partial mini-batch) gets the leading rows of the same array, a view that
is still C-contiguous. Arrays more than 4 times larger than needed are replaced, so one call on the
whole data set does not pin that much memory for the rest of training.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Workspace"]


class Workspace:
    """name -> scratch array of shape (rows, *rest); ``get`` returns its first ``rows`` rows."""

    __slots__ = ("_arrays",)

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype``, the same memory on every call."""
        a = self._arrays.get(name)
        rows = shape[0]
        if (a is None or a.dtype != dtype or a.shape[1:] != shape[1:]
                or not rows <= a.shape[0] <= 4 * rows):
            a = self._arrays[name] = np.empty(shape, dtype)
        return a if a.shape[0] == rows else a[:rows]

    def arange(self, name: str, n: int) -> np.ndarray:
        """0, 1, ..., n - 1 as intp, computed once per size (row indices for the losses)."""
        a = self._arrays.get(name)
        if a is None or not n <= a.shape[0] <= 4 * n:
            a = self._arrays[name] = np.arange(n, dtype=np.intp)
        return a if a.shape[0] == n else a[:n]

