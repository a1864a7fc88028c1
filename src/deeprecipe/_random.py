"""Explicit randomness: one SeedSequence per run, child Generators per consumer.

Never use the global NumPy RNG.
"""

from __future__ import annotations

import numpy as np

from deeprecipe._typing import RandomState
from deeprecipe.errors import InvalidTypeError


def as_seed_sequence(random_state: RandomState) -> np.random.SeedSequence:
    """Return a SeedSequence for None, an int, a SeedSequence or a Generator."""
    if random_state is None or isinstance(random_state, (int, np.integer)):
        if isinstance(random_state, bool):
            raise InvalidTypeError(
                "random_state must be None, an int, a SeedSequence or a Generator, got "
                f"{random_state!r}")
        return np.random.SeedSequence(None if random_state is None else int(random_state))
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(0, 2**63)))
    raise InvalidTypeError(
        "random_state must be None, an int, a SeedSequence or a Generator, "
        f"got {type(random_state).__name__}")


def generator_state(rng: np.random.Generator) -> dict:
    """JSON-serializable state of a Generator (for checkpoints)."""
    return rng.bit_generator.state


def set_generator_state(rng: np.random.Generator, state: dict) -> None:
    """Restore a Generator's state saved with generator_state()."""
    rng.bit_generator.state = state


def index_dtype(m: int) -> np.dtype:
    """int32 for row numbers of m < 2**31 rows (4 bytes a row), else int64."""
    return np.dtype(np.int32 if m < 2**31 else np.int64)


def permutation(rng: np.random.Generator, m: int) -> np.ndarray:
    """rng.permutation(m) in index_dtype(m): the same draws and the same order, half the
    memory below 2**31 rows (a Generator's shuffle depends on the length, not the dtype).

    >>> bool((permutation(np.random.default_rng(0), 9)
    ...       == np.random.default_rng(0).permutation(9)).all())
    True
    """
    order = np.arange(m, dtype=index_dtype(m))
    rng.shuffle(order)
    return order
