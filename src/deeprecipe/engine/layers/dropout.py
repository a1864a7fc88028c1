"""Inverted dropout with a per-layer keep_prob."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprecipe._validation import check_keep_prob
from deeprecipe.engine.layers.base import Layer

__all__ = ["Dropout"]


@dataclass(eq=False)
class Dropout(Layer):
    """A_out = A * D / keep_prob, D_ij ~ Bernoulli(keep_prob), a fresh D every training forward.

    Shapes: A (m, n) -> (m, n). E[A_out] = A, so inference (training=False) and keep_prob == 1
    are the identity. Backward: dA = dA_out * D / keep_prob.
    ``frozen = True`` reuses the last mask (for gradient checking: J is then well defined).
    """

    keep_prob: float = 0.8
    hyperparameters = ("keep_prob",)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_keep_prob("keep_prob", self.keep_prob)
        self.frozen = False

    def forward(self, A: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not self._hot:
            A = self._input(A, "A")
        if not training or self.keep_prob == 1.0:
            self._cache = {"mask": None, "A": A} if training else {}  # A: backward's shape
            return A
        if self.rng is None:
            raise self._unbuilt()
        mask = self._cache.get("mask") if self.frozen else None
        if mask is None or mask.shape != A.shape:
            if self._hot:  # the same draws and values, written into this layer's buffers
                mask = self.rng.random(dtype=A.dtype, out=self._buffer("mask", A.shape, A.dtype))
                drop = np.greater_equal(mask, A.dtype.type(self.keep_prob),
                                        out=self._buffer("drop", A.shape, bool))
                mask.fill(A.dtype.type(1.0 / self.keep_prob))
                np.copyto(mask, 0, where=drop)
            else:
                mask = self.rng.random(A.shape, dtype=A.dtype) < A.dtype.type(self.keep_prob)
                mask = np.multiply(mask, A.dtype.type(1.0 / self.keep_prob), dtype=A.dtype)
        self._cache = {"mask": mask}
        if self._hot:
            return np.multiply(A, mask, out=self._buffer("out", A.shape, A.dtype))
        return A * mask

    def backward(self, dA: np.ndarray) -> np.ndarray:
        mask = self.cached("mask")
        if not self._hot:
            like = self._cache["A"] if mask is None else mask
            dA = self._gradient(dA, like.shape, like.dtype, "dA")
        if mask is None:
            return dA
        return np.multiply(dA, mask, out=dA) if self._hot else dA * mask
