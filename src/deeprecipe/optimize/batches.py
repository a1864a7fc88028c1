"""Mini-batches: the notes' batch-size rule and the partition of one epoch's permutation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from deeprecipe._random import permutation
from deeprecipe._io import check_size
from deeprecipe._validation import check_int
from deeprecipe.errors import InvalidValueError

__all__ = ["resolve_batch_size", "clamp_batch_size", "minibatches", "check_batch_memory"]


def resolve_batch_size(batch_size: int | str | None, m: int, n_features: int = 1,
                       itemsize: int = 4) -> int:
    """The notes' rule for "auto": full batch when m <= 2000, else a power of two in 64..512.

    The largest power of two in 64..512 whose input batch fits in 32 MB is taken. ``None`` is
    batch gradient descent (m); 1 is stochastic gradient descent.

    >>> resolve_batch_size("auto", 1500), resolve_batch_size("auto", 60000, 784)
    (1500, 512)
    >>> resolve_batch_size(None, 300), resolve_batch_size(1, 300)
    (300, 1)
    """
    if batch_size is None:
        return m
    if batch_size == "auto":
        if m <= 2000:
            return m
        size = 512
        while size > 64 and size * n_features * itemsize > 32 * 2**20:
            size //= 2
        return size
    if isinstance(batch_size, str):
        raise InvalidValueError(f"batch_size must be an int, 'auto' or None, got {batch_size!r}")
    return check_int("batch_size", batch_size, low=1, high=m)


def clamp_batch_size(batch_size: int | str | None, m: int) -> int | str | None:
    """An int batch size larger than the m examples becomes m (batch gradient descent);
    anything else is returned as it is.

    >>> clamp_batch_size(256, 100), clamp_batch_size(64, 100), clamp_batch_size("auto", 10)
    (100, 64, 'auto')
    """
    return m if isinstance(batch_size, int) and batch_size > m else batch_size


def minibatches(m: int, batch_size: int, rng: np.random.Generator | None
                ) -> Iterator[np.ndarray]:
    """Index arrays of the mini-batches of one epoch: one permutation, then slices of it."""
    order = np.arange(m) if rng is None else permutation(rng, m)  # = rng.permutation(m)
    for start in range(0, m, batch_size):
        yield order[start:start + batch_size]


def check_batch_memory(net, rows: int) -> None:
    """InvalidValueError (advising a smaller batch_size) unless the activations and gradients
    of a ``rows``-row mini-batch through ``net`` (2 x rows x the sum of its layers' widths)
    fit in the memory limit: checked before a step allocates them."""
    widths = sum(layer.n_out or layer.n_in for layer in net.layers)  # every activation
    try:
        check_size(f"the activations and gradients of a {rows}-row mini-batch",
                   (2, rows, widths), net.dtype.itemsize)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{exc}, or a smaller batch_size") from None
