"""Type aliases shared across the package."""

from __future__ import annotations

from typing import Protocol

import numpy as np

Params = dict[str, np.ndarray]
RandomState = None | int | np.random.SeedSequence | np.random.Generator


class Schedule(Protocol):
    """Maps the 1-based epoch number to a learning rate."""

    def __call__(self, epoch_num: int) -> float: ...
