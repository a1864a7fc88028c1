"""Element-wise activations; each caches its output A and writes g'(Z) in terms of A.

Shapes: Z (m, n) -> A (m, n); backward dA (m, n) -> dZ = dA * g'(Z) (m, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprecipe._validation import check_in_range
from deeprecipe.layers.base import Layer

__all__ = ["ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "Linear", "sigmoid", "softmax"]


@dataclass(eq=False)
class ReLU(Layer):
    """A = max(0, Z); dZ = dA * (A > 0)."""

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        A = np.maximum(Z, 0)
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        return np.multiply(dA, A > 0, dtype=dA.dtype)


@dataclass(eq=False)
class LeakyReLU(Layer):
    """A = max(slope * Z, Z) with 0 <= slope < 1; dZ = dA * (1 if Z > 0 else slope)."""

    slope: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        check_in_range("slope", self.slope, low=0.0, high=1.0, closed="left")

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        A = np.where(Z > 0, Z, Z * Z.dtype.type(self.slope))
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        return np.where(A > 0, dA, dA * dA.dtype.type(self.slope))


@dataclass(eq=False)
class Tanh(Layer):
    """A = tanh(Z); dZ = dA * (1 - A**2)."""

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        A = np.tanh(Z)
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        return dA * (1 - A * A)


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """sigma(Z) = 1 / (1 + exp(-Z)), computed without overflow for large |Z|."""
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))


def softmax(Z: np.ndarray) -> np.ndarray:
    """softmax(Z)_k = exp(Z_k - max Z) / sum_j exp(Z_j - max Z), row-wise.

    The notes' example, z = [5, 2, -1, 3]:

    >>> softmax(np.array([[5.0, 2.0, -1.0, 3.0]])).round(3)
    array([[0.842, 0.042, 0.002, 0.114]])
    """
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


@dataclass(eq=False)
class Sigmoid(Layer):
    """A = 1 / (1 + exp(-Z)); dZ = dA * A * (1 - A).

    As the last layer with ``binary_crossentropy`` the network fuses both: dZ = (A - Y) / m.
    """

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        A = sigmoid(Z)
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        return dA * A * (1 - A)


@dataclass(eq=False)
class Softmax(Layer):
    """A = softmax(Z) row-wise; dZ = A * (dA - sum(dA * A, axis=1)).

    As the last layer with ``categorical_crossentropy`` the network fuses both:
    dZ = (A - Y_onehot) / m.
    """

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        A = softmax(Z)
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        return A * (dA - np.sum(dA * A, axis=1, keepdims=True))


@dataclass(eq=False)
class Linear(Layer):
    """A = Z (identity; the regression output); dZ = dA."""

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        self._cache = {"A": None} if training else {}
        return Z

    def backward(self, dA: np.ndarray) -> np.ndarray:
        self.cached("A")
        return dA
