"""Fused element-wise kernels of the training step's hot path, compiled by numba.

One loop over the parameters reads p, g and the state once and writes them once, where NumPy
needs one pass (and a scratch array) per operation: Adam's update is ~12 passes in NumPy and one
here, 3x faster on 670k float32 values (``benchmarks/RESULTS.md``). The kernels run on the
calling thread (no numba threads: they would compete with BLAS's) and release the GIL, so the
optimizers can run two halves of an update at once (``_parallel``).

Every argument is a 1-D C-contiguous array of one float dtype (float32 or float64) or a scalar
of that dtype; the optimizers and layers pass flat views of their arrays. The arithmetic is
plain IEEE (no fast-math): NaN and inf propagate as in NumPy.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["adam_", "momentum_", "relu_backward_", "rmsprop_", "sgd_"]


def _jit(fn):
    """numba.njit on the calling thread, without the GIL; the machine code is cached on disk
    (``__pycache__`` next to this file, else the user's cache directory, or NUMBA_CACHE_DIR) and
    compiled in memory in each process when none of them is writable."""
    options = {"nogil": True, "boundscheck": False, "error_model": "numpy"}
    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(**options)(fn)


@_jit
def sgd_(p: np.ndarray, g: np.ndarray, lr: float) -> None:
    """In place: p -= lr * g."""
    for i in range(p.size):
        p[i] -= lr * g[i]


@_jit
def momentum_(p: np.ndarray, g: np.ndarray, v: np.ndarray, beta: float, c: float,
              lr: float) -> None:
    """In place: v = beta * v + c * g;  p -= lr * v  (c = 1 - beta: EWA form; c = 1: sum form)."""
    for i in range(p.size):
        vi = beta * v[i] + c * g[i]
        v[i] = vi
        p[i] -= lr * vi


@_jit
def rmsprop_(p: np.ndarray, g: np.ndarray, s: np.ndarray, beta2: float, c2: float, lr: float,
             eps: float) -> None:
    """In place: s = beta2 * s + c2 * g**2;  p -= lr * g / (sqrt(s) + eps)  (c2 = 1 - beta2)."""
    for i in range(p.size):
        gi = g[i]
        si = beta2 * s[i] + c2 * gi * gi
        s[i] = si
        p[i] -= lr * gi / (np.sqrt(si) + eps)


@_jit
def adam_(p: np.ndarray, g: np.ndarray, v: np.ndarray, s: np.ndarray, beta1: float, c1: float,
          beta2: float, c2: float, step: float, eps: float) -> None:
    """In place: v = beta1 * v + c1 * g;  s = beta2 * s + c2 * g**2;
    p -= step * v / (sqrt(s) + eps)  (c1 = 1 - beta1, c2 = 1 - beta2; the bias corrections are
    folded into step and eps by the caller)."""
    for i in range(p.size):
        gi = g[i]
        vi = beta1 * v[i] + c1 * gi
        si = beta2 * s[i] + c2 * gi * gi
        v[i] = vi
        s[i] = si
        p[i] -= step * vi / (np.sqrt(si) + eps)


@_jit
def relu_backward_(dA: np.ndarray, A: np.ndarray) -> None:
    """In place: dA = dA * (A > 0), one pass (NumPy needs a mask pass and a multiply)."""
    for i in range(dA.size):
        if not A[i] > 0:
            dA[i] = 0
