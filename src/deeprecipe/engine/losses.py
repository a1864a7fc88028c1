"""Costs J = (1/m) sum_i L(a_i, y_i) with fused, numerically stable gradients.

Each loss takes the pre-activation of the output layer where it fuses with the output activation
(sigmoid + binary cross-entropy, softmax + categorical cross-entropy: dZ = (A - Y) / m) and the
output itself otherwise (mean squared error). The returned gradient already holds the 1/m.
The public functions check their arguments (DataError naming Z or Y); a network's own calls, on
inputs ``Loss.prepare_targets`` checked, go to the unchecked twins (``Loss.prepared``, ``_INTO``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deeprecipe._validation import as_float_array, as_real_array, check_float_dtype, check_int
from deeprecipe.engine._workspace import Workspace
from deeprecipe.engine.layers.activations import _sigmoid_into, sigmoid, softmax
from deeprecipe.errors import DataError, InvalidTypeError, InvalidValueError

__all__ = ["Loss", "LOSSES", "get_loss", "binary_crossentropy", "categorical_crossentropy",
           "mean_squared_error"]


def _outputs(loss: str, Z, name: str) -> np.ndarray:
    """Z (or A) of a public loss call: a real (m, k) array with m, k >= 1; else DataError."""
    Z = as_float_array(Z, name, ndim=2)
    if Z.size == 0:
        raise DataError(f"{loss}: {name} must have shape (m, k) with m, k >= 1, got {Z.shape}")
    return Z


def _targets_like(loss: str, Z: np.ndarray, Y, name: str) -> np.ndarray:
    """Y of a public loss call: a real array of Z's shape ((m,) stands for (m, 1))."""
    Y = as_float_array(Y, "Y", dtype=Z.dtype)
    if Y.ndim == 1 and Z.shape[1] == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape != Z.shape:
        one = f" or ({len(Z)},)" if Z.shape[1] == 1 else ""
        raise DataError(f"{loss}: Y must have the shape of {name}, {Z.shape}{one}, got {Y.shape}")
    return Y


def binary_crossentropy(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """J = -(1/m) sum[y log a + (1 - y) log(1 - a)], a = sigmoid(Z); dZ = (a - y) / m.

    Computed from the logits Z as max(Z, 0) - Z*y + log(1 + exp(-|Z|)), which never overflows.
    Z, Y: (m, 1) (or (m, k) independent sigmoid outputs); Y in [0, 1]; DataError otherwise.

    >>> J, dZ = binary_crossentropy(np.array([[0.0]]), np.array([[1.0]]))
    >>> round(J, 4), dZ.tolist()
    (0.6931, [[-0.5]])
    """
    Z = _outputs("binary_crossentropy", Z, "Z")
    Y = _targets_like("binary_crossentropy", Z, Y, "Z")
    outside = ~((Y >= 0) & (Y <= 1))  # NaN too
    if outside.any():
        raise DataError("binary_crossentropy needs Y in [0, 1] (labels 0/1 or probabilities), "
                        f"got {np.unique(Y[outside])[:5].tolist()}")
    return _binary_crossentropy(Z, Y)


def _binary_crossentropy(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    m = Z.shape[0]
    L = np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))
    dZ = sigmoid(Z)
    dZ -= Y
    dZ /= Z.dtype.type(m)
    return float(L.sum(dtype=np.float64) / m), dZ


def categorical_crossentropy(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """J = -(1/m) sum_i log softmax(Z_i)[y_i]; dZ = (softmax(Z) - onehot(y)) / m.

    log softmax uses log-sum-exp: Z_k - max Z - log sum_j exp(Z_j - max Z).
    Z: (m, C); Y: (m,) integer class indices in [0, C) (or (m, C) one-hot / soft targets);
    DataError otherwise.

    >>> J, dZ = categorical_crossentropy(np.zeros((1, 2)), np.array([1]))
    >>> round(J, 4), dZ.tolist()
    (0.6931, [[0.5, -0.5]])
    """
    name = "categorical_crossentropy"
    Z = _outputs(name, Z, "Z")
    (m, C), Y = Z.shape, as_real_array(Y, "Y")
    if Y.shape == (m, 1) and C > 1:
        Y = Y.reshape(-1)
    if Y.ndim == 2:
        return _categorical_crossentropy(Z, _targets_like(name, Z, Y, "Z"))
    if Y.shape != (m,):
        raise DataError(f"{name} needs Y of integer class labels ({m},) or targets ({m}, {C}), "
                        f"got shape {Y.shape}")
    if Y.dtype.kind not in "iub":
        with np.errstate(invalid="ignore"):
            fractional = np.mod(Y, 1) != 0  # NaN and inf too
        if fractional.any():
            raise DataError(f"{name} needs integer class labels, got {Y.dtype} values such as "
                            f"{Y[fractional][:3].tolist()}")
    if Y.min() < 0 or Y.max() >= C:
        raise DataError(f"{name} needs labels in [0, {C - 1}] for {C} columns of Z, got values "
                        f"from {Y.min()} to {Y.max()}")
    return _categorical_crossentropy(Z, Y.astype(np.intp, copy=False))


def _categorical_crossentropy(Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    m = Z.shape[0]
    shifted = Z - Z.max(axis=1, keepdims=True)
    logsumexp = np.log(np.exp(shifted).sum(axis=1))
    dZ = softmax(Z)
    if Y.ndim == 1:
        rows = np.arange(m)
        J = float(np.sum(logsumexp - shifted[rows, Y], dtype=np.float64) / m)
        dZ[rows, Y] -= 1
    else:
        J = float(np.sum(logsumexp * Y.sum(axis=1) - (shifted * Y).sum(axis=1),
                         dtype=np.float64) / m)
        dZ -= Y
    dZ /= Z.dtype.type(m)
    return J, dZ


def mean_squared_error(A: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """J = (1/2m) sum_i ||a_i - y_i||^2; dA = (A - Y) / m.  A, Y: (m, k).

    The 1/2 (as in scikit-learn's squared loss) makes the gradient exactly (A - Y) / m.
    Y (m,) stands for (m, 1); another shape is a DataError.
    """
    A = _outputs("mean_squared_error", A, "A")
    return _mean_squared_error(A, _targets_like("mean_squared_error", A, Y, "A"))


def _mean_squared_error(A: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    m = A.shape[0]
    dA = A - Y
    J = float(np.einsum("ij,ij->", dA, dA, dtype=np.float64) / (2 * m))
    dA /= A.dtype.type(m)
    return J, dA


# -- the same costs for the training hot path: identical values, no arrays allocated ------------
# Each takes the network's Workspace and returns (J, dZ) with dZ in one of its arrays (valid until
# the next step). Sequential.cost_and_gradients uses them for the built-in losses.

def _binary_crossentropy_ws(Z: np.ndarray, Y: np.ndarray, ws: Workspace
                            ) -> tuple[float, np.ndarray]:
    m, dt = Z.shape[0], Z.dtype
    E, L = ws.get("loss.E", Z.shape, dt), ws.get("loss.L", Z.shape, dt)
    dZ = _sigmoid_into(Z, ws.get("loss.dZ", Z.shape, dt), ws.get("loss.D", Z.shape, dt),
                       ws.get("loss.where", Z.shape, bool), E=E)  # leaves exp(-|Z|) in E
    T = np.multiply(Z, Y, out=ws.get("loss.T", Z.shape, dt))
    np.subtract(np.maximum(Z, 0, out=L), T, out=L)
    L += np.log1p(E, out=E)
    J = float(L.sum(dtype=np.float64) / m)
    dZ -= Y
    dZ /= dt.type(m)
    return J, dZ


def _categorical_crossentropy_ws(Z: np.ndarray, Y: np.ndarray, ws: Workspace
                                 ) -> tuple[float, np.ndarray]:
    (m, C), dt = Z.shape, Z.dtype
    row = ws.get("loss.row", (m, 1), dt)
    shifted = np.subtract(Z, np.maximum.reduce(Z, axis=1, keepdims=True, out=row),
                          out=ws.get("loss.shifted", Z.shape, dt))
    dZ = np.exp(shifted, out=ws.get("loss.dZ", Z.shape, dt))
    S = np.add.reduce(dZ, axis=1, keepdims=True, out=row)
    logsumexp = np.log(S[:, 0], out=ws.get("loss.lse", (m,), dt))
    dZ /= S  # softmax(Z), as softmax() computes it
    if Y.ndim == 1:
        flat = np.multiply(ws.arange("loss.rows", m), C, out=ws.get("loss.flat", (m,), np.intp))
        flat += Y  # index of (i, y_i) in the raveled (m, C) arrays
        picked = np.take(shifted.reshape(-1), flat, out=ws.get("loss.picked", (m,), dt))
        J = float(np.add.reduce(np.subtract(logsumexp, picked, out=picked), dtype=np.float64)
                  / m)
        dZ_flat = dZ.reshape(-1)
        np.take(dZ_flat, flat, out=picked)
        picked -= 1
        np.put(dZ_flat, flat, picked)
    else:
        shifted *= Y
        r = np.sum(shifted, axis=1, out=ws.get("loss.r", (m,), dt))
        ysum = np.sum(Y, axis=1, out=ws.get("loss.ysum", (m,), dt))
        np.multiply(logsumexp, ysum, out=logsumexp)
        J = float(np.sum(np.subtract(logsumexp, r, out=r), dtype=np.float64) / m)
        dZ -= Y
    dZ /= dt.type(m)
    return J, dZ


def _mean_squared_error_ws(A: np.ndarray, Y: np.ndarray, ws: Workspace
                           ) -> tuple[float, np.ndarray]:
    m = A.shape[0]
    dA = np.subtract(A, Y, out=ws.get("loss.dZ", A.shape, A.dtype))
    sq = np.einsum("ij,ij->i", dA, dA, out=ws.get("loss.sq", (m,), A.dtype))
    J = float(np.sum(sq, dtype=np.float64) / (2 * m))
    dA /= A.dtype.type(m)
    return J, dA


@dataclass(frozen=True)
class Loss:
    """A named cost, the output activation it fuses with, and its label checks."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
    fused_activation: str | None  # "Sigmoid", "Softmax" or None (takes the output A)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not callable(self.fn):
            raise InvalidTypeError(f"a Loss needs a str name and a callable fn(Z_or_A, Y) -> "
                                   f"(J, dZ), got {self.name!r:.40} and {self.fn!r:.40}")
        if not (self.fused_activation is None or self.fused_activation in ("Sigmoid",
                                                                           "Softmax")):
            raise InvalidValueError("fused_activation must be 'Sigmoid', 'Softmax' or None, got "
                                    f"{self.fused_activation!r:.40}")

    def __call__(self, Z_or_A: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        return self.fn(Z_or_A, Y)

    def prepared(self, Z_or_A: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        """The cost of a network's output against targets from ``prepare_targets``, not
        checked again (evaluation and gradient checking call it many times)."""
        return _UNCHECKED.get(self.fn, self.fn)(Z_or_A, Y)

    def prepare_targets(self, y, n_out: int, dtype) -> np.ndarray:
        """Check labels for this loss and the network's output width; return them ready to use."""
        n_out, dtype = check_int("n_out", n_out, low=1), check_float_dtype("dtype", dtype)
        y = as_real_array(y, "y")
        if y.size == 0:
            raise DataError(f"y has no labels (shape {y.shape})")
        if not np.isfinite(y).all():
            raise DataError("y contains NaN or inf values")
        if self.name == "categorical_crossentropy":
            if y.ndim == 2 and y.shape[1] == n_out:
                return _as_finite(y, dtype)
            y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
            if y.ndim != 1 or not (y.dtype.kind in "iub" or np.all(np.mod(y, 1) == 0)):
                raise DataError("categorical_crossentropy needs integer class labels of shape "
                                f"(m,) or one-hot (m, {n_out}); got shape {y.shape}")
            if y.min() < 0 or y.max() >= n_out:
                raise DataError(f"labels must be in [0, {n_out - 1}] for a {n_out}-unit softmax "
                                f"output, got values from {y.min()} to {y.max()}")
            return y.astype(np.intp, copy=False)  # read only: no copy of m labels
        shape = y.shape
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if y.ndim != 2 or y.shape[1] != n_out:
            either = " or (m,)" if n_out == 1 else ""
            raise DataError(f"{self.name} needs targets of shape (m, {n_out}){either} for a "
                            f"{n_out}-unit output, got shape {shape}")
        if self.name == "binary_crossentropy" and not np.isin(y, (0, 1)).all():
            raise DataError("binary_crossentropy needs labels 0 or 1, got values "
                            f"{np.unique(y)[:5].tolist()}")
        return _as_finite(y, dtype)


def _as_finite(y: np.ndarray, dtype) -> np.ndarray:
    """y in ``dtype``; DataError if a value overflows it (e.g. 1e39 in float32)."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(y, dtype=dtype)
    if not np.isfinite(out).all():
        raise DataError(f"y has values too large for {np.dtype(dtype).name} (largest "
                        f"magnitude {np.abs(y).max():g})")
    return out


LOSSES: dict[str, Loss] = {
    "binary_crossentropy": Loss("binary_crossentropy", binary_crossentropy, "Sigmoid"),
    "categorical_crossentropy": Loss("categorical_crossentropy", categorical_crossentropy,
                                     "Softmax"),
    "mean_squared_error": Loss("mean_squared_error", mean_squared_error, None),
}


#: public loss function -> the same without the argument checks (``Loss.prepared``).
_UNCHECKED = {binary_crossentropy: _binary_crossentropy,
              categorical_crossentropy: _categorical_crossentropy,
              mean_squared_error: _mean_squared_error}

#: loss function -> its hot-path twin (same J and dZ, written into a Workspace).
_INTO = {binary_crossentropy: _binary_crossentropy_ws,
         categorical_crossentropy: _categorical_crossentropy_ws,
         mean_squared_error: _mean_squared_error_ws}


def get_loss(loss: str | Loss) -> Loss:
    """The Loss named ``loss`` (one of LOSSES)."""
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str) or loss not in LOSSES:
        raise InvalidValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}, "
                                f"got {loss!r}")
    return LOSSES[loss]
