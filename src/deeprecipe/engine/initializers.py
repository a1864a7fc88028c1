"""Weight initializers: W = randn(n_in, n_out) * scale, with the scale chosen per the notes.

- ``zeros``:  W = 0 (never breaks symmetry: every hidden unit stays identical)
- ``random``: W = randn * scale (default scale 0.01)
- ``he``:     W = randn * sqrt(2 / n_in)            (ReLU)
- ``xavier``: W = randn * sqrt(1 / n_in)            (tanh)
- ``glorot``: W = randn * sqrt(2 / (n_in + n_out))  (the Bengio variant)

Each takes ``shape`` = (n_in, n_out) of ints >= 1, a numpy Generator and a ``scale`` >= 0, and
refuses anything else, or a matrix beyond the memory limit, with a DeepRecipeError.

>>> W = he((4000, 50), np.random.default_rng(0))
>>> round(float(W.var()) * 4000 / 2, 1)
1.0
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deeprecipe._io import check_size
from deeprecipe._validation import check_choice, check_float_dtype, check_in_range, check_int
from deeprecipe.errors import InvalidTypeError

__all__ = ["zeros", "random", "he", "xavier", "glorot", "INITIALIZERS", "initialize"]

Initializer = Callable[..., np.ndarray]


def _checked(shape, rng, scale) -> tuple[int, int]:
    """(n_in, n_out) of a valid call; InvalidTypeError / InvalidValueError otherwise."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise InvalidTypeError(f"shape must be a pair (n_in, n_out) of ints >= 1, got "
                               f"{shape!r:.80}")
    n_in, n_out = (check_int(f"shape[{i}]", n, low=1) for i, n in enumerate(shape))
    if not isinstance(rng, np.random.Generator):
        raise InvalidTypeError("rng must be a numpy Generator (np.random.default_rng(seed)), "
                               f"got {rng!r:.80}")
    check_in_range("scale", scale, low=0.0)
    check_size(f"a {n_in} x {n_out} weight matrix", (n_in, n_out), 8)  # drawn in float64
    return n_in, n_out


def zeros(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = 0."""
    return np.zeros(_checked(shape, rng, scale))


def random(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = randn(n_in, n_out) * scale."""
    shape = _checked(shape, rng, scale)
    return rng.standard_normal(shape) * scale


def he(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = randn(n_in, n_out) * sqrt(2 / n_in); Var(W) = 2 / n_in."""
    n_in, n_out = _checked(shape, rng, scale)
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)


def xavier(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = randn(n_in, n_out) * sqrt(1 / n_in); Var(W) = 1 / n_in."""
    n_in, n_out = _checked(shape, rng, scale)
    return rng.standard_normal((n_in, n_out)) * np.sqrt(1.0 / n_in)


def glorot(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = randn(n_in, n_out) * sqrt(2 / (n_in + n_out)); Var(W) = 2 / (n_in + n_out)."""
    n_in, n_out = _checked(shape, rng, scale)
    return rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / (n_in + n_out))


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros, "random": random, "he": he, "xavier": xavier, "glorot": glorot,
}


def initialize(name: str, shape: tuple[int, int], rng: np.random.Generator, *,
               scale: float = 0.01, dtype=np.float32) -> np.ndarray:
    """Draw a weight matrix of ``shape`` with the named initializer, in ``dtype`` (float32 or
    float64)."""
    check_choice("init", name, tuple(INITIALIZERS))
    dtype = check_float_dtype("dtype", dtype)
    return INITIALIZERS[name](shape, rng, scale).astype(dtype)
