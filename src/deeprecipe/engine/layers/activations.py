"""Element-wise activations; each caches its output A and writes g'(Z) in terms of A.

Shapes: Z (m, n) -> A (m, n); backward dA (m, n) -> dZ = dA * g'(Z) (m, n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprecipe._validation import as_float_array, check_in_range
from deeprecipe.engine import _kernels
from deeprecipe.engine.layers.base import Layer
from deeprecipe.errors import DataError

__all__ = ["ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "Linear", "sigmoid", "softmax"]


@dataclass(eq=False)
class ReLU(Layer):
    """A = max(0, Z); dZ = dA * (A > 0)."""

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not self._hot:
            Z = self._input(Z, "Z")
        A = np.maximum(Z, 0, out=self._buffer("A", Z.shape, Z.dtype) if self._hot else None)
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        if not self._hot:
            dA = self._gradient(dA, A.shape, A.dtype, "dA")
        if self._hot and dA.flags.c_contiguous and dA.dtype == A.dtype:
            _kernels.relu_backward_(dA.reshape(-1), A.reshape(-1))  # in place, one pass
            return dA
        return np.multiply(dA, A > 0, dtype=dA.dtype)


@dataclass(eq=False)
class LeakyReLU(Layer):
    """A = max(slope * Z, Z) with 0 <= slope < 1; dZ = dA * (1 if Z > 0 else slope)."""

    slope: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        check_in_range("slope", self.slope, low=0.0, high=1.0, closed="left")

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not self._hot:
            Z = self._input(Z, "Z")
        slope = Z.dtype.type(self.slope)
        if self._hot:  # slope < 1: max(slope * Z, Z) is Z for Z > 0 and slope * Z otherwise
            A = np.multiply(Z, slope, out=self._buffer("A", Z.shape, Z.dtype))
            np.maximum(Z, A, out=A)
        else:
            A = np.where(Z > 0, Z, Z * slope)
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        if not self._hot:
            dA = self._gradient(dA, A.shape, A.dtype, "dA")
        slope = dA.dtype.type(self.slope)
        if self._hot:
            where = np.less_equal(A, 0, out=self._buffer("where", A.shape, bool))
            return np.multiply(dA, slope, out=dA, where=where)
        return np.where(A > 0, dA, dA * slope)


@dataclass(eq=False)
class Tanh(Layer):
    """A = tanh(Z); dZ = dA * (1 - A**2)."""

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not self._hot:
            Z = self._input(Z, "Z")
        A = np.tanh(Z, out=self._buffer("A", Z.shape, Z.dtype) if self._hot else None)
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        if not self._hot:
            dA = self._gradient(dA, A.shape, A.dtype, "dA")
        if self._hot:
            T = np.multiply(A, A, out=self._buffer("T", A.shape, A.dtype))
            return np.multiply(dA, np.subtract(1, T, out=T), out=dA)
        return dA * (1 - A * A)


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """sigma(Z) = 1 / (1 + exp(-Z)), computed without overflow for large |Z|; Z any real
    array (ints and bools become float64)."""
    Z = as_float_array(Z, "Z")
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))


def _sigmoid_into(Z: np.ndarray, A: np.ndarray, D: np.ndarray, where: np.ndarray,
                  E: np.ndarray | None = None) -> np.ndarray:
    """``sigmoid(Z)`` written into A (same values), with scratch D and bool ``where``.

    With ``E`` given, exp(-|Z|) is left there as well (the binary cross-entropy reuses it).
    """
    E = A if E is None else E
    np.negative(np.abs(Z, out=E), out=E)
    np.exp(E, out=E)
    np.add(1, E, out=D)
    np.divide(E, D, out=A)
    return np.divide(1, D, out=A, where=np.greater_equal(Z, 0, out=where))


def softmax(Z: np.ndarray) -> np.ndarray:
    """softmax(Z)_k = exp(Z_k - max Z) / sum_j exp(Z_j - max Z), row-wise.

    The notes' example, z = [5, 2, -1, 3]:

    >>> softmax(np.array([[5.0, 2.0, -1.0, 3.0]])).round(3)
    array([[0.842, 0.042, 0.002, 0.114]])
    """
    Z = as_float_array(Z, "Z", ndim=2)
    if Z.shape[1] == 0:
        raise DataError(f"softmax needs Z of shape (m, n) with n >= 1, got {Z.shape}")
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    E /= E.sum(axis=1, keepdims=True)
    return E


def _softmax_into(Z: np.ndarray, E: np.ndarray, row: np.ndarray) -> np.ndarray:
    """``softmax(Z)`` written into E (same values); ``row`` is (m, 1) scratch."""
    np.subtract(Z, np.max(Z, axis=1, keepdims=True, out=row), out=E)
    np.exp(E, out=E)
    E /= np.sum(E, axis=1, keepdims=True, out=row)
    return E


@dataclass(eq=False)
class Sigmoid(Layer):
    """A = 1 / (1 + exp(-Z)); dZ = dA * A * (1 - A).

    As the last layer with ``binary_crossentropy`` the network fuses both: dZ = (A - Y) / m.
    """

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not self._hot:
            Z = self._input(Z, "Z")
        if self._hot:
            A = _sigmoid_into(Z, self._buffer("A", Z.shape, Z.dtype),
                              self._buffer("T", Z.shape, Z.dtype),
                              self._buffer("where", Z.shape, bool))
        else:
            A = sigmoid(Z)
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        if not self._hot:
            dA = self._gradient(dA, A.shape, A.dtype, "dA")
        if self._hot:
            T = np.subtract(1, A, out=self._buffer("T", A.shape, A.dtype))
            return np.multiply(np.multiply(dA, A, out=dA), T, out=dA)
        return dA * A * (1 - A)


@dataclass(eq=False)
class Softmax(Layer):
    """A = softmax(Z) row-wise; dZ = A * (dA - sum(dA * A, axis=1)).

    As the last layer with ``categorical_crossentropy`` the network fuses both:
    dZ = (A - Y_onehot) / m.
    """

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not self._hot:
            Z = self._input(Z, "Z")
        if self._hot:
            A = _softmax_into(Z, self._buffer("A", Z.shape, Z.dtype),
                              self._buffer("row", (Z.shape[0], 1), Z.dtype))
        else:
            A = softmax(Z)
        self._cache = {"A": A} if training else {}
        return A

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        if not self._hot:
            dA = self._gradient(dA, A.shape, A.dtype, "dA")
        if self._hot:
            T = np.multiply(dA, A, out=self._buffer("T", A.shape, A.dtype))
            row = np.sum(T, axis=1, keepdims=True, out=self._buffer("row", (A.shape[0], 1),
                                                                     A.dtype))
            return np.multiply(A, np.subtract(dA, row, out=dA), out=dA)
        return A * (dA - np.sum(dA * A, axis=1, keepdims=True))


@dataclass(eq=False)
class Linear(Layer):
    """A = Z (identity; the regression output); dZ = dA."""

    def forward(self, Z: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not self._hot:
            Z = self._input(Z, "Z")
        self._cache = {"A": Z} if training else {}  # A = Z: backward checks dA's shape
        return Z

    def backward(self, dA: np.ndarray) -> np.ndarray:
        A = self.cached("A")
        return dA if self._hot else self._gradient(dA, A.shape, A.dtype, "dA")
