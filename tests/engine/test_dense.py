"""Dense: Z = X @ W + b with W of shape (n_in, n_out); parity with PyTorch in float64."""

from __future__ import annotations

import numpy as np
import pytest

from deeprecipe.engine.layers import Dense
from deeprecipe.errors import DeepRecipeError, InvalidTypeError, InvalidValueError

RTOL = 1e-10


def _built(n_in=4, n_out=3, *, seed=0, dtype=np.float64, **kwargs) -> Dense:
    layer = Dense(n_out, **kwargs)
    layer.build(n_in, np.random.default_rng(seed), dtype)
    return layer


@pytest.mark.parametrize("use_bias", [True, False])
def test_forward_and_backward_match_torch_linear(use_bias, torch):
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    layer = _built(4, 3, use_bias=use_bias)
    if use_bias:
        layer.params["b"][...] = rng.standard_normal(3)
    X = rng.standard_normal((6, 4))
    dZ = rng.standard_normal((6, 3))

    Z = layer.forward(X, training=True)
    dX = layer.backward(dZ)

    Xt = torch.tensor(X, requires_grad=True)
    # torch keeps weight as (out_features, in_features): our W transposed.
    Wt = torch.tensor(layer.params["W"].T.copy(), requires_grad=True)
    bt = torch.tensor(layer.params["b"], requires_grad=True) if use_bias else None
    Zt = F.linear(Xt, Wt, bt)
    Zt.backward(torch.tensor(dZ))

    np.testing.assert_allclose(Z, Zt.detach().numpy(), rtol=RTOL)
    np.testing.assert_allclose(dX, Xt.grad.numpy(), rtol=RTOL)
    np.testing.assert_allclose(layer.grads["W"], Wt.grad.numpy().T, rtol=RTOL)
    if use_bias:
        np.testing.assert_allclose(layer.grads["b"], bt.grad.numpy(), rtol=RTOL)


def test_formulas_from_the_dense_docstring():
    rng = np.random.default_rng(1)
    layer = _built(3, 2)
    layer.params["b"][...] = [0.5, -1.0]
    X, dZ = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    np.testing.assert_allclose(layer.forward(X, training=True),
                               X @ layer.params["W"] + layer.params["b"], rtol=1e-13)
    dX = layer.backward(dZ)
    np.testing.assert_allclose(layer.grads["W"], X.T @ dZ, rtol=1e-13)
    np.testing.assert_allclose(layer.grads["b"], dZ.sum(axis=0), rtol=1e-13)
    np.testing.assert_allclose(dX, dZ @ layer.params["W"].T, rtol=1e-13)


def test_shapes_of_params():
    layer = _built(4, 3)
    assert layer.params["W"].shape == (4, 3)
    assert layer.params["b"].shape == (3,)
    np.testing.assert_array_equal(layer.params["b"], 0.0)
    assert layer.n_in == 4 and layer.n_out == 3


def test_use_bias_false_has_no_b():
    layer = _built(use_bias=False)
    assert set(layer.params) == set(layer.grads) == {"W"}


def test_backward_overwrites_grads_instead_of_accumulating():
    rng = np.random.default_rng(2)
    layer = _built()
    X, dZ = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    for _ in range(3):
        layer.forward(X, training=True)
        layer.backward(dZ)
    np.testing.assert_allclose(layer.grads["W"], X.T @ dZ, rtol=1e-13)


def test_first_layer_may_skip_the_input_gradient():
    layer = _built()
    layer.needs_input_grad = False
    X = np.ones((2, 4))
    layer.forward(X, training=True)
    assert layer.backward(np.ones((2, 3))) is None
    np.testing.assert_allclose(layer.grads["W"], X.T @ np.ones((2, 3)))


def test_float32_build_and_forward_stay_float32():
    layer = _built(dtype=np.float32)
    Z = layer.forward(np.ones((2, 4), np.float32), training=True)
    assert Z.dtype == np.float32
    assert layer.backward(np.ones_like(Z)).dtype == np.float32
    assert layer.grads["W"].dtype == layer.grads["b"].dtype == np.float32


def test_same_generator_seed_gives_same_weights():
    a, b, c = _built(seed=3), _built(seed=3), _built(seed=4)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert not np.array_equal(a.params["W"], c.params["W"])


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_out": 0}, InvalidValueError, r"n_out must be >= 1, got 0"),
    ({"n_out": -3}, InvalidValueError, r"n_out must be >= 1"),
    ({"n_out": 2.5}, InvalidTypeError, r"n_out must be an integer, got 2.5"),
    ({"n_out": "3"}, InvalidTypeError, r"n_out must be an integer"),
    ({"n_out": 3, "init": "uniform"}, InvalidValueError, r"init must be one of .*'he'.*"
                                                         r"got 'uniform'"),
    ({"n_out": 3, "scale": -0.1}, InvalidValueError, r"scale must be >= 0.0, got -0.1"),
    ({"n_out": 3, "scale": float("nan")}, InvalidValueError, r"scale must be >= 0.0"),
])
def test_bad_configuration_is_refused_at_construction(kwargs, error, message):
    with pytest.raises(error, match=message):
        Dense(**kwargs)
    assert issubclass(error, DeepRecipeError)


@pytest.mark.parametrize("use_bias", ["no", None, 1, np.array([True])])
def test_use_bias_must_be_a_bool(use_bias):
    with pytest.raises(InvalidTypeError, match=r"use_bias must be True or False, got"):
        Dense(3, use_bias=use_bias)
