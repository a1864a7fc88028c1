"""Exponentially weighted averages: V_t = beta * V_{t-1} + (1 - beta) * theta_t, V_0 = 0.

V_t averages roughly the last ``1 / (1 - beta)`` values (beta = 0.9: ~10, beta = 0.98: ~50).
Because V_0 = 0 the early values are biased towards 0; dividing by ``1 - beta**t`` (bias
correction) turns V_t into a true weighted mean of theta_1 .. theta_t. The same update, in place
on arrays, is the moment estimate inside Momentum, RMSprop and Adam (``ema_``).

Example with the lecture's numbers (beta = 0.98, theta_1 = 40, theta_2 = 49):
V_2 = 0.98 * 0.02 * theta_1 + 0.02 * theta_2 = 0.0196 * 40 + 0.02 * 49 = 1.764, far below both
temperatures; V_2 / (1 - 0.98**2) = 1.764 / 0.0396 = 44.545..., the weighted mean.
"""

from __future__ import annotations

import math

import numpy as np

from deeprecipe._validation import check_in_range
from deeprecipe.errors import CheckpointError, InvalidTypeError, InvalidValueError

__all__ = ["ema_", "ExponentialAverage", "ewa"]


def ema_(avg: np.ndarray, x: np.ndarray, beta: float, *, out: np.ndarray) -> None:
    """In place: avg = beta * avg + (1 - beta) * x; ``out`` is scratch space (no allocation).

    ``out`` may be the same array as ``x``; it must not be ``avg``.

    >>> avg, x = np.zeros(2), np.array([40.0, 49.0])
    >>> ema_(avg, x, 0.98, out=np.empty(2))
    >>> avg.round(4).tolist()
    [0.8, 0.98]
    """
    avg *= beta
    avg += np.multiply(x, 1.0 - beta, out=out)


class ExponentialAverage:
    """V_t = beta * V_{t-1} + (1 - beta) * theta_t; ``value`` is V_t / (1 - beta**t) if corrected.

    Parameters
    ----------
    beta : float in [0, 1)
        Weight of the past; the average spans about ``window = 1 / (1 - beta)`` values.
    bias_correction : bool
        Divide by ``1 - beta**t`` so early values are not pulled towards V_0 = 0.

    Examples
    --------
    The lecture's bias-correction example, beta = 0.98, theta_1 = 40, theta_2 = 49:

    >>> avg = ExponentialAverage(beta=0.98, bias_correction=False)
    >>> round(avg.update(40.0), 6), round(avg.update(49.0), 6)  # 0.0196 * 40 + 0.02 * 49
    (0.8, 1.764)
    >>> avg = ExponentialAverage(beta=0.98)                # / (1 - 0.98**2) = / 0.0396
    >>> _ = avg.update(40.0); round(avg.update(49.0), 6)  # (0.784 + 0.98) / 0.0396
    44.545455
    >>> avg.t, round(avg.window, 6)
    (2, 50.0)
    """

    def __init__(self, beta: float = 0.9, bias_correction: bool = True) -> None:
        self.beta = float(check_in_range("beta", beta, low=0.0, high=1.0, closed="left"))
        if not isinstance(bias_correction, bool | np.bool_):
            raise InvalidTypeError(f"bias_correction must be True or False, got "
                                   f"{bias_correction!r}")
        self.bias_correction = bool(bias_correction)
        self.t = 0
        self.v = 0.0  # the uncorrected V_t

    @property
    def window(self) -> float:
        """Approximate number of values averaged: 1 / (1 - beta)."""
        return 1.0 / (1.0 - self.beta)

    @property
    def value(self) -> float:
        """V_t, or V_t / (1 - beta**t) with bias correction (nan before the first update)."""
        if not self.bias_correction:
            return self.v
        if self.t == 0:
            return math.nan
        return self.v / (1.0 - self.beta**self.t)

    def update(self, theta: float) -> float:
        """V_t = beta * V_{t-1} + (1 - beta) * theta with t += 1; returns ``value``."""
        try:
            theta = float(theta)
        except (TypeError, ValueError):
            raise InvalidTypeError(f"theta must be a real number, got {theta!r}") from None
        self.t += 1
        self.v = self.beta * self.v + (1.0 - self.beta) * theta
        return self.value

    def reset(self) -> None:
        """Back to t = 0, V_0 = 0."""
        self.t, self.v = 0, 0.0

    def get_config(self) -> dict:
        """JSON configuration: {"beta": ..., "bias_correction": ...}."""
        return {"beta": self.beta, "bias_correction": self.bias_correction}

    def state_dict(self) -> dict:
        """JSON-able state: {"t": int, "v": float} (v is the uncorrected V_t)."""
        return {"t": self.t, "v": self.v}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``t`` and ``v`` from :meth:`state_dict`; CheckpointError if malformed."""
        missing = {"t", "v"} - set(state)
        if missing:
            raise CheckpointError(f"ExponentialAverage state is missing {sorted(missing)}; "
                                  f"expected keys ['t', 'v'], got {sorted(state)}")
        t, v = state["t"], state["v"]
        if isinstance(t, bool) or not float(t).is_integer() or t < 0:
            raise CheckpointError(f"ExponentialAverage state 't' must be an integer >= 0, "
                                  f"got {t!r}")
        self.t, self.v = int(t), float(v)

    def __repr__(self) -> str:
        return (f"ExponentialAverage(beta={self.beta}, bias_correction={self.bias_correction}, "
                f"t={self.t})")


def ewa(values, beta: float = 0.9, bias_correction: bool = True) -> np.ndarray:
    """V_t = beta * V_{t-1} + (1 - beta) * values[t-1], V_0 = 0, for t = 1..n (vectorised).

    Smooths a noisy series such as mini-batch costs. With ``bias_correction`` each V_t is
    divided by ``1 - beta**t``. Returns a float64 array of the same length (n,).

    Examples
    --------
    >>> ewa([40.0, 49.0], beta=0.98, bias_correction=False).round(6).tolist()
    [0.8, 1.764]
    >>> ewa([40.0, 49.0], beta=0.98).round(6).tolist()     # 1.764 / 0.0396
    [40.0, 44.545455]
    """
    beta = float(check_in_range("beta", beta, low=0.0, high=1.0, closed="left"))
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise InvalidValueError(f"values must be a 1-D series, got shape {x.shape}")
    n = x.size
    if beta == 0.0 or n == 0:
        return x.copy()
    out = np.empty(n)
    # Within a block starting after V_s: V_{s+j} = beta**j * (V_s + (1-beta) sum_i beta**-i x).
    # Blocks keep beta**-j <= 1e50 (no overflow); the error stays ~ j * eps * max|x|.
    block = int(min(4096, 50.0 / -math.log10(beta)))
    if block < 2:  # beta < 1e-25: the past hardly counts; run the recurrence itself
        v = 0.0
        for i, theta in enumerate(x.tolist()):
            out[i] = v = beta * v + (1.0 - beta) * theta
    else:
        j = np.arange(1, block + 1, dtype=np.float64)
        up, down = beta**-j, beta**j
        v_s = 0.0
        for s in range(0, n, block):
            chunk = x[s:s + block]
            k = chunk.size
            acc = np.cumsum(chunk * up[:k]) * (1.0 - beta)
            out[s:s + k] = down[:k] * (v_s + acc)
            v_s = float(out[s + k - 1])
    if bias_correction:
        out /= -np.expm1(np.arange(1, n + 1) * math.log(beta))  # 1 - beta**t, accurately
    return out
