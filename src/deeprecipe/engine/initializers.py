"""Weight initializers: W = randn(n_in, n_out) * scale, with the scale chosen per the notes.

- ``zeros``:  W = 0 (never breaks symmetry: every hidden unit stays identical)
- ``random``: W = randn * scale (default scale 0.01)
- ``he``:     W = randn * sqrt(2 / n_in)            (ReLU)
- ``xavier``: W = randn * sqrt(1 / n_in)            (tanh)
- ``glorot``: W = randn * sqrt(2 / (n_in + n_out))  (the Bengio variant)

>>> W = he((4000, 50), np.random.default_rng(0))
>>> round(float(W.var()) * 4000 / 2, 1)
1.0
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deeprecipe._validation import check_choice

__all__ = ["zeros", "random", "he", "xavier", "glorot", "INITIALIZERS", "initialize"]

Initializer = Callable[..., np.ndarray]


def zeros(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = 0."""
    return np.zeros(shape)


def random(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = randn(n_in, n_out) * scale."""
    return rng.standard_normal(shape) * scale


def he(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = randn(n_in, n_out) * sqrt(2 / n_in); Var(W) = 2 / n_in."""
    return rng.standard_normal(shape) * np.sqrt(2.0 / shape[0])


def xavier(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = randn(n_in, n_out) * sqrt(1 / n_in); Var(W) = 1 / n_in."""
    return rng.standard_normal(shape) * np.sqrt(1.0 / shape[0])


def glorot(shape: tuple[int, int], rng: np.random.Generator, scale: float = 0.01) -> np.ndarray:
    """W = randn(n_in, n_out) * sqrt(2 / (n_in + n_out)); Var(W) = 2 / (n_in + n_out)."""
    return rng.standard_normal(shape) * np.sqrt(2.0 / (shape[0] + shape[1]))


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros, "random": random, "he": he, "xavier": xavier, "glorot": glorot,
}


def initialize(name: str, shape: tuple[int, int], rng: np.random.Generator, *,
               scale: float = 0.01, dtype=np.float32) -> np.ndarray:
    """Draw a weight matrix of ``shape`` with the named initializer, in ``dtype``."""
    check_choice("init", name, tuple(INITIALIZERS))
    return INITIALIZERS[name](shape, rng, scale).astype(dtype)
