"""Weight penalties on the "W" parameters only (never b, gamma or beta).

L2 ("weight decay"): J += (l2 / 2m) sum_l ||W_l||_F^2;  dW += (l2 / m) W.
L1:                  J += (l1 / m) sum |w|;            dW += (l1 / m) sign(W).
The notes also write L1 as (lambda / 2m) ||w||_1; that is the same penalty with l1 halved,
so pass l1 / 2 to reproduce it. L1 drives weights to exactly zero (sparse W).

With plain gradient descent, L2 is weight decay: W := W (1 - lr l2 / m) - lr dW_backprop.
The public functions check their arguments (InvalidTypeError / InvalidValueError by name); the
training step's fused ``_penalty_and_gradients_ws`` does not.
"""

from __future__ import annotations

import numpy as np

from deeprecipe._typing import Params
from deeprecipe._validation import check_dict, check_in_range, check_int
from deeprecipe.errors import InvalidTypeError

__all__ = ["penalty", "add_penalty_gradients_", "weight_keys", "check_penalties"]


def check_penalties(l2, l1) -> tuple[float, float]:
    """(l2, l1) if both are real numbers >= 0; InvalidValueError / InvalidTypeError by name."""
    return check_in_range("l2", l2, low=0.0), check_in_range("l1", l1, low=0.0)


def weight_keys(params: Params) -> list[str]:
    """The keys of the weight matrices ("0.W", "3.W", ...): the only penalized parameters."""
    check_dict("params", params)
    for k in params:
        if not isinstance(k, str):
            raise InvalidTypeError(f"params must be keyed by parameter names such as '0.W', "
                                   f"got the key {k!r:.40}")
    return [k for k in params if k.endswith(".W") or k == "W"]


def _describe(a) -> str:
    if not isinstance(a, np.ndarray):
        return type(a).__name__
    return f"a {a.dtype} array of shape {a.shape}" + ("" if a.flags.writeable else ", read-only")


def _checked(params: Params, m, l2, l1, grads: Params | None = None
             ) -> tuple[list[str], float, float]:
    """(weight keys, l2, l1) of a valid public call: float arrays W (and writeable float dW of
    W's shape), m an int >= 1, l2 and l1 >= 0."""
    keys = weight_keys(params)
    check_int("m", m, low=1)
    l2, l1 = check_penalties(l2, l1)
    for k in keys:
        W = params[k]
        if not isinstance(W, np.ndarray) or W.dtype.kind != "f":
            raise InvalidTypeError(f"params[{k!r}] must be a float array, got {_describe(W)}")
        if grads is None:
            continue
        dW = grads.get(k)
        if not (isinstance(dW, np.ndarray) and dW.dtype.kind == "f" and dW.shape == W.shape
                and dW.flags.writeable):
            raise InvalidTypeError(f"grads[{k!r}] must be a writeable float array of shape "
                                   f"{W.shape}, got {_describe(dW)}")
    return keys, l2, l1


def penalty(params: Params, m: int, *, l2: float = 0.0, l1: float = 0.0) -> float:
    """(l2 / 2m) sum ||W||_F^2 + (l1 / m) sum |W| over the weight matrices."""
    keys, l2, l1 = _checked(params, m, l2, l1)
    total = 0.0
    for k in keys:
        W = params[k]
        if l2:
            squares = (np.einsum("ij,ij->", W, W, dtype=np.float64) if W.ndim == 2
                       else np.square(W, dtype=np.float64).sum())
            total += l2 / (2 * m) * float(squares)
        if l1:
            total += l1 / m * float(np.abs(W).sum(dtype=np.float64))
    return total


def add_penalty_gradients_(params: Params, grads: Params, m: int, *, l2: float = 0.0,
                           l1: float = 0.0) -> None:
    """In place: dW += (l2 / m) W + (l1 / m) sign(W) for every weight matrix."""
    keys, l2, l1 = _checked(params, m, l2, l1, check_dict("grads", grads))
    for k in keys:
        W, dW = params[k], grads[k]
        if l2:
            dW += W * W.dtype.type(l2 / m)
        if l1:
            dW += np.sign(W) * W.dtype.type(l1 / m)


def _penalty_and_gradients_ws(params: Params, grads: Params, m: int, l2: float, l1: float,
                              ws) -> float:
    """``penalty`` and ``add_penalty_gradients_`` in one pass, with scratch from ``ws``.

    The training hot path: no arrays are allocated. The sums of squares accumulate per row in
    the parameters' dtype and across rows in float64 (``penalty`` sums all in float64), so J can
    differ from ``penalty`` by float rounding; the gradients are the same values.
    """
    total = 0.0
    for k in weight_keys(params):
        W, dW = params[k], grads[k]
        if W.ndim != 2:  # the general versions (allocate)
            total += penalty({k: W}, m, l2=l2, l1=l1)
            add_penalty_gradients_({k: W}, {k: dW}, m, l2=l2, l1=l1)
            continue
        tmp = ws.get("reg." + k, W.shape, W.dtype)
        if l2:
            rows = np.einsum("ij,ij->i", W, W, out=ws.get("reg.rows." + k, W.shape[:1], W.dtype))
            total += l2 / (2 * m) * float(rows.sum(dtype=np.float64))
            dW += np.multiply(W, W.dtype.type(l2 / m), out=tmp)
        if l1:
            rows = np.sum(np.abs(W, out=tmp), axis=1,
                          out=ws.get("reg.rows." + k, W.shape[:1], W.dtype))
            total += l1 / m * float(rows.sum(dtype=np.float64))
            dW += np.multiply(np.sign(W, out=tmp), W.dtype.type(l1 / m), out=tmp)
    return total
