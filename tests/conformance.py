"""The one conformance check every layer goes through (STYLE.md §0 rule 11, §2.3).

``check_layer(layer)`` enforces the layer protocol on an *unbuilt* layer:

- shapes: forward (m, n_in) -> (m, n_out), backward returns dX of shape (m, n_in);
  ``params`` and ``grads`` have the same keys, shapes and dtypes;
- dtype: a float32 copy keeps float32 through forward, backward, params and grads;
- the cache: backward without a training forward raises NotFittedError with a clear message,
  and forward(training=False) caches nothing;
- configuration: get_config() is JSON and layer_from_config() rebuilds an equal config;
- gradients (float64): for J = sum(forward(X, training=True) * R) with a fixed random R
  (so dJ/dY = R), every parameter's gradient and the input gradient dX returned by backward
  agree with two-sided differences to a relative error < 1e-7.

Inputs are kept away from 0 (|x| > 0.1) so ReLU/LeakyReLU kinks cannot fall between
J(x - eps) and J(x + eps). A Dropout layer has its mask frozen after one training forward.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from deeprecipe.engine.gradcheck import check_gradients
from deeprecipe.engine.layers import Dropout, Layer, layer_from_config
from deeprecipe.errors import DeepRecipeError, NotFittedError

GRADCHECK_TOL = 1e-7


def layer_inputs(rng: np.random.Generator, m: int, n_in: int, dtype=np.float64) -> np.ndarray:
    """Standard-normal inputs pushed away from 0: |x| >= 0.1 (kinks stay out of reach)."""
    X = rng.standard_normal((m, n_in))
    X += np.where(X >= 0, 0.1, -0.1)
    return X.astype(dtype)


def _check_arrays_match(layer: Layer, dtype) -> None:
    assert set(layer.params) == set(layer.grads), "params and grads must have the same keys"
    for k, p in layer.params.items():
        g = layer.grads[k]
        assert g.shape == p.shape, f"grads[{k!r}] has shape {g.shape}, params {p.shape}"
        assert p.dtype == dtype, f"params[{k!r}] is {p.dtype}, expected {np.dtype(dtype)}"
        assert g.dtype == dtype, f"grads[{k!r}] is {g.dtype}, expected {np.dtype(dtype)}"
    for k, s in layer.state.items():
        assert s.dtype == dtype, f"state[{k!r}] is {s.dtype}, expected {np.dtype(dtype)}"


def _check_config(layer: Layer) -> None:
    config = layer.get_config()
    assert config["type"] == type(layer).__name__
    text = json.dumps(config)  # JSON-serializable, no pickle
    rebuilt = layer_from_config(json.loads(text))
    assert type(rebuilt) is type(layer)
    assert rebuilt.get_config() == config
    assert rebuilt is not layer


def _check_needs_training_forward(layer: Layer, X: np.ndarray, n_out: int) -> None:
    dY = np.ones((X.shape[0], n_out), X.dtype)
    with pytest.raises(NotFittedError, match=r"backward\(\) needs a preceding forward\(X, "
                                             r"training=True\)"):
        layer.backward(dY)
    assert issubclass(NotFittedError, DeepRecipeError)


def _check_float32(layer: Layer, n_in: int, m: int, seed: int) -> None:
    layer32 = layer_from_config(layer.get_config())
    layer32.build(n_in, np.random.default_rng(seed), np.float32)
    _check_arrays_match(layer32, np.float32)
    X = layer_inputs(np.random.default_rng(seed + 1), m, n_in, np.float32)
    Y_inf = layer32.forward(X, training=False)
    assert Y_inf.dtype == np.float32, f"inference output is {Y_inf.dtype}"
    Y = layer32.forward(X, training=True)
    assert Y.dtype == np.float32, f"training output is {Y.dtype}"
    dX = layer32.backward(np.ones_like(Y))
    assert dX.dtype == np.float32, f"dX is {dX.dtype}"
    _check_arrays_match(layer32, np.float32)


def check_layer(layer: Layer, n_in: int = 5, m: int = 7, *, seed: int = 0) -> None:
    """Assert the layer protocol for an unbuilt ``layer`` (see the module docstring)."""
    assert isinstance(layer, Layer)
    _check_config(layer)
    _check_float32(layer, n_in, m, seed)

    rng = np.random.default_rng(seed)
    n_out = layer.build(n_in, np.random.default_rng(seed), np.float64)
    assert isinstance(n_out, int) and n_out >= 1
    _check_arrays_match(layer, np.float64)
    X = layer_inputs(rng, m, n_in)

    # The cache: empty before any forward and after an inference forward.
    _check_needs_training_forward(layer, X, n_out)
    Y = layer.forward(X, training=False)
    assert Y.shape == (m, n_out), f"output shape {Y.shape}, expected {(m, n_out)}"
    assert Y.dtype == np.float64
    assert layer._cache == {}, f"inference cached {sorted(layer._cache)}"
    _check_needs_training_forward(layer, X, n_out)

    # A training forward fills one slot; backward returns dX and fills grads in place.
    R = rng.standard_normal((m, n_out))
    Y = layer.forward(X, training=True)
    assert Y.shape == (m, n_out)
    assert layer._cache, "a training forward must cache what backward needs"
    grad_ids = {k: id(g) for k, g in layer.grads.items()}
    dX = layer.backward(R)
    assert dX.shape == X.shape, f"dX shape {dX.shape}, expected {X.shape}"
    assert {k: id(g) for k, g in layer.grads.items()} == grad_ids, "grads must be overwritten " \
        "in place (preallocated arrays), not replaced"
    _check_arrays_match(layer, np.float64)
    slots = set(layer._cache)
    layer.forward(X, training=True)
    assert set(layer._cache) == slots, "a second training forward must overwrite the one slot"

    # Gradient check in float64. Parameters get random offsets so that zeros/ones
    # initializations (b = 0, gamma = 1) cannot hide a wrong formula.
    for p in layer.params.values():
        p += 0.3 * rng.standard_normal(p.shape)
    if isinstance(layer, Dropout):
        layer.forward(X, training=True)
        layer.frozen = True

    def cost() -> float:
        return float(np.sum(layer.forward(X, training=True) * R))

    layer.forward(X, training=True)
    dX = layer.backward(R).copy()
    grads = {k: g.copy() for k, g in layer.grads.items()}
    if layer.params:
        report = check_gradients(cost, layer.params, grads)
        for k, err in report.items():
            assert err < GRADCHECK_TOL, f"{type(layer).__name__} d{k}: relative error {err:.2e}"
        assert report.overall < GRADCHECK_TOL
    X_before = X.copy()
    report_X = check_gradients(cost, {"X": X}, {"X": dX})
    assert report_X["X"] < GRADCHECK_TOL, \
        f"{type(layer).__name__} dX: relative error {report_X['X']:.2e}"
    np.testing.assert_array_equal(X, X_before)  # restored after the perturbations
