"""The cost and error of a network on prepared inputs, in chunks of rows (inference mode)."""

from __future__ import annotations

import numpy as np

from deeprecipe.engine.losses import Loss
from deeprecipe.engine.network import Sequential

__all__ = ["cost_and_error"]


def cost_and_error(net: Sequential, X: np.ndarray, Y: np.ndarray, loss: Loss,
                   chunk: int = 8192) -> tuple[float, float]:
    """(data cost J, error) in inference mode, on inputs checked by ``net.prepare``.

    error = the misclassification rate for sigmoid/softmax outputs, the MSE (2 J) otherwise.
    """
    stop = net._fused_stop(loss)
    total_cost, wrong = 0.0, 0.0
    for start in range(0, len(X), chunk):
        Xc, Yc = X[start:start + chunk], Y[start:start + chunk]
        out = net._forward(Xc, training=False, stop=stop)
        total_cost += loss(out, Yc)[0] * len(Xc)
        if loss.name == "categorical_crossentropy":
            labels = Yc if Yc.ndim == 1 else Yc.argmax(axis=1)
            wrong += float(np.count_nonzero(out.argmax(axis=1) != labels))
        elif loss.name == "binary_crossentropy":
            wrong += float(np.count_nonzero((out > 0) != (Yc > 0.5))) / Yc.shape[1]
    m = len(X)
    cost = total_cost / m
    return cost, (wrong / m if loss.fused_activation else 2 * cost)
