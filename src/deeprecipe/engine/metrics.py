"""The cost and error of a network on prepared inputs, in chunks of rows (inference mode)."""

from __future__ import annotations

import numpy as np

from deeprecipe._validation import as_float_array, check_int
from deeprecipe.engine.losses import Loss, get_loss
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import DataError, InvalidTypeError

__all__ = ["cost_and_error"]


def cost_and_error(net: Sequential, X: np.ndarray, Y: np.ndarray, loss: str | Loss,
                   chunk: int = 8192) -> tuple[float, float]:
    """(data cost J, error) in inference mode, on inputs checked by ``net.prepare``.

    error = the misclassification rate for sigmoid/softmax outputs, the MSE (2 J) otherwise.
    The arguments are checked again, cheaply: X's type and shape (not its values: NaN gives a
    NaN cost) and Y as ``loss.prepare_targets`` checks it; InvalidTypeError or DataError.
    """
    if not isinstance(net, Sequential):
        raise InvalidTypeError(f"net must be a deeprecipe Sequential, got {type(net).__name__}")
    net._check_built()
    loss, chunk = get_loss(loss), check_int("chunk", chunk, low=1)
    stop = net._fused_stop(loss)
    X = as_float_array(X, "X", dtype=net.dtype, ndim=2)
    if X.shape[0] == 0 or X.shape[1] != net.input_dim:
        raise DataError(f"X must have shape (m, {net.input_dim}) with m >= 1, got {X.shape}")
    Y = loss.prepare_targets(Y, net.output_dim, net.dtype)
    if len(Y) != len(X):
        raise DataError(f"X has {len(X)} samples but Y has {len(Y)}")
    total_cost, wrong = 0.0, 0.0
    for start in range(0, len(X), chunk):
        Xc, Yc = X[start:start + chunk], Y[start:start + chunk]
        out = net._forward(Xc, training=False, stop=stop)
        total_cost += loss.prepared(out, Yc)[0] * len(Xc)
        if loss.name == "categorical_crossentropy":
            labels = Yc if Yc.ndim == 1 else Yc.argmax(axis=1)
            wrong += float(np.count_nonzero(out.argmax(axis=1) != labels))
        elif loss.name == "binary_crossentropy":
            wrong += float(np.count_nonzero((out > 0) != (Yc > 0.5))) / Yc.shape[1]
    m = len(X)
    cost = total_cost / m
    return cost, (wrong / m if loss.fused_activation else 2 * cost)
