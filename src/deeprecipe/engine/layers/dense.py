"""Fully connected layer, samples as rows.

The lecture stacks examples as columns; deeprecipe stacks them as rows and transposes once, here:

=====================  ==========================  ===================
lecture (columns)      deeprecipe (rows)           shape
=====================  ==========================  ===================
Z = W A_prev + b       Z = A_prev @ W + b          (m, n_out)
W[l]                   W (the lecture's W[l].T)    (n_in, n_out)
dW = (1/m) dZ A.T      dW = A_prev.T @ dZ          (n_in, n_out)
db = (1/m) sum(dZ, 1)  db = dZ.sum(axis=0)         (n_out,)
dA_prev = W.T dZ       dA_prev = dZ @ W.T          (m, n_in)
=====================  ==========================  ===================

The 1/m is already inside dZ (it belongs to the cost's gradient), so no layer divides by m.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprecipe._io import check_size
from deeprecipe._validation import check_choice, check_in_range, check_int
from deeprecipe.engine.initializers import INITIALIZERS, initialize
from deeprecipe.engine.layers.base import Layer
from deeprecipe.errors import InvalidTypeError

__all__ = ["Dense"]


@dataclass(eq=False)
class Dense(Layer):
    """Z = X @ W + b; X (m, n_in), W (n_in, n_out), b (n_out,).

    Backward, dZ holding the cost's 1/m: dW = X.T @ dZ, db = dZ.sum(0), dX = dZ @ W.T.
    ``use_bias=False`` drops b (the network does this for a Dense followed by BatchNorm,
    whose beta takes b's role: the batch mean subtraction would cancel b anyway).
    """

    n_out: int
    init: str = "he"
    scale: float = 0.01
    use_bias: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.n_out = check_int("n_out", self.n_out, low=1)
        check_choice("init", self.init, tuple(INITIALIZERS))
        check_in_range("scale", self.scale, low=0.0)
        if not isinstance(self.use_bias, bool):
            raise InvalidTypeError(f"use_bias must be True or False, got {self.use_bias!r}")

    def build(self, n_in: int, rng: np.random.Generator, dtype=np.float32) -> int:
        n_in = super().build(n_in, rng, dtype)
        check_size(*self._footprint(n_in), self.dtype.itemsize)  # before any allocation
        self.params = {"W": initialize(self.init, (n_in, self.n_out), rng, scale=self.scale,
                                       dtype=self.dtype)}
        if self.use_bias:
            self.params["b"] = np.zeros(self.n_out, self.dtype)
        self.grads = {k: np.zeros_like(p) for k, p in self.params.items()}
        return self.n_out

    def _footprint(self, n_in: int) -> tuple[str, tuple[int, ...]]:
        """W, its gradient and up to two optimizer moments: 4 n_in n_out scalars."""
        return (f"Dense({self.n_out}) on {n_in} inputs (W, dW, optimizer state)",
                (4, n_in, self.n_out))

    def forward(self, X: np.ndarray, *, training: bool = False) -> np.ndarray:
        W = self.params.get("W")
        if W is None:
            raise self._unbuilt()
        if not self._hot:
            X = self._input(X, "X")
        self._cache = {"X": X} if training else {}
        if self._hot and X.dtype == W.dtype:
            Z = np.matmul(X, W, out=self._buffer("Z", (X.shape[0], self.n_out), W.dtype))
        else:
            Z = X @ W
        if self.use_bias:
            Z += self.params["b"]
        return Z

    def backward(self, dZ: np.ndarray) -> np.ndarray:
        X = self.cached("X")
        W = self.params["W"]
        if not self._hot:
            dZ = self._gradient(dZ, (X.shape[0], self.n_out), W.dtype, "dZ")
        np.matmul(X.T, dZ, out=self.grads["W"])
        if self.use_bias:
            np.add.reduce(dZ, axis=0, out=self.grads["b"])
        if not self.needs_input_grad:
            return None
        if self._hot and dZ.dtype == W.dtype:
            return np.matmul(dZ, W.T, out=self._buffer("dX", (dZ.shape[0], W.shape[0]),
                                                       W.dtype))
        return dZ @ W.T
