"""The memory a network's layers will allocate, checked as one total before any is built."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from deeprecipe._io import format_bytes, memory_limit
from deeprecipe.engine.layers.base import Layer
from deeprecipe.errors import InvalidValueError

__all__ = ["check_network_memory"]


def check_network_memory(layers: Sequence[Layer], input_dim: int, dtype) -> int:
    """Bytes of every layer's parameters, gradients and optimizer state (``Layer._footprint``,
    as each layer's build counts them) on inputs of width ``input_dim``; InvalidValueError
    naming the total and the largest layers if it exceeds memory_limit(), so several layers,
    each small enough alone, are refused before the first is allocated.

    >>> from deeprecipe.engine.layers import Dense, ReLU
    >>> check_network_memory([Dense(10), ReLU(), Dense(1)], 5, np.float32)
    960
    """
    itemsize, n, sizes = np.dtype(dtype).itemsize, input_dim, []
    for i, layer in enumerate(layers):
        planned = layer._footprint(n)
        if planned is not None:
            sizes.append((itemsize * math.prod(int(s) for s in planned[1]), i, planned[0]))
        n = layer.n_out or n  # parameter-free layers keep the width
    total, limit = sum(s for s, _, _ in sizes), memory_limit()
    if total > limit:
        largest = "; ".join(f"layer {i}, {what}: {format_bytes(s)}"
                            for s, i, what in sorted(sizes, key=lambda t: -t[0])[:3])
        raise InvalidValueError(
            f"the network on {input_dim} inputs would need {format_bytes(total)} for its "
            f"parameters, gradients and optimizer state, more than the {format_bytes(limit)} "
            f"allowed (half the memory; DEEPRECIPE_MAX_BYTES sets it); largest: {largest}; "
            "use a smaller network")
    return total
