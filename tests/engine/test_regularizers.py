"""L2 / L1 penalties: the formulas, W only, the gradient check, and L2 as weight decay."""

from __future__ import annotations

import numpy as np
import pytest
from _hostile import arrays, attempt, hostile, matrices, scalars
from hypothesis import given, settings
from hypothesis import strategies as st

import deeprecipe as dr
from deeprecipe.engine.regularizers import add_penalty_gradients_, penalty, weight_keys

L = dr.layers


def _hand_params():
    return {
        "0.W": np.array([[1.0, -2.0], [3.0, 4.0]]),
        "0.b": np.array([10.0, -10.0]),
        "1.gamma": np.array([5.0, 5.0]),
        "1.beta": np.array([7.0, -7.0]),
        "3.W": np.array([[-1.0], [2.0]]),
        "3.b": np.array([100.0]),
    }


def test_weight_keys_are_the_W_entries_only():
    assert weight_keys(_hand_params()) == ["0.W", "3.W"]
    assert weight_keys({"W": np.ones(1), "b": np.ones(1)}) == ["W"]
    assert weight_keys({"0.Wx": np.ones(1), "0.b": np.ones(1)}) == []


def test_l2_penalty_formula():
    # (l2 / 2m) sum ||W||^2 = 0.5 / 8 * (1 + 4 + 9 + 16 + 1 + 4)
    assert penalty(_hand_params(), 4, l2=0.5) == pytest.approx(0.5 / 8 * 35)


def test_l1_penalty_formula():
    # (l1 / m) sum |W| = 0.3 / 4 * (1 + 2 + 3 + 4 + 1 + 2)
    assert penalty(_hand_params(), 4, l1=0.3) == pytest.approx(0.3 / 4 * 13)


def test_l1_and_l2_add_up():
    both = penalty(_hand_params(), 4, l2=0.5, l1=0.3)
    assert both == pytest.approx(0.5 / 8 * 35 + 0.3 / 4 * 13)
    assert penalty(_hand_params(), 4) == 0.0


def test_penalty_gradients_touch_only_W():
    params = _hand_params()
    grads = {k: np.zeros_like(p) for k, p in params.items()}
    add_penalty_gradients_(params, grads, 4, l2=0.5, l1=0.3)
    for k in ("0.W", "3.W"):
        np.testing.assert_allclose(grads[k], 0.5 / 4 * params[k] + 0.3 / 4 * np.sign(params[k]))
    for k in ("0.b", "1.gamma", "1.beta", "3.b"):
        np.testing.assert_array_equal(grads[k], 0.0)
    np.testing.assert_array_equal(params["0.W"], _hand_params()["0.W"])  # params untouched


def test_penalty_gradients_keep_float32():
    params = {"0.W": np.ones((2, 2), np.float32)}
    grads = {"0.W": np.zeros((2, 2), np.float32)}
    add_penalty_gradients_(params, grads, 3, l2=0.7, l1=0.1)
    assert grads["0.W"].dtype == np.float32
    np.testing.assert_allclose(grads["0.W"], 0.7 / 3 + 0.1 / 3, rtol=1e-6)


def _net(dtype=np.float64):
    return dr.Sequential([L.Dense(5), L.BatchNorm(), L.Tanh(), L.Dense(3), L.ReLU(),
                          L.Dense(1), L.Sigmoid()], input_dim=4, dtype=dtype, random_state=0)


def _data(m=8):
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, 4)), rng.integers(0, 2, m)


def test_network_cost_includes_the_penalty_on_W_only():
    net, (X, y) = _net(), _data()
    cost = net.cost(X, y, loss="binary_crossentropy", l2=0.7, l1=0.1)
    W = [net.params[k] for k in ("0.W", "3.W", "5.W")]
    expected = 0.7 / (2 * 8) * sum((w ** 2).sum() for w in W) + 0.1 / 8 * sum(
        np.abs(w).sum() for w in W)
    assert cost.penalty == pytest.approx(expected, rel=1e-12)
    assert cost.total == pytest.approx(cost.data + cost.penalty, rel=1e-14)
    assert net.cost(X, y, loss="binary_crossentropy").penalty == 0.0


@pytest.mark.parametrize("l2, l1", [(0.7, 0.0), (0.0, 0.1), (0.7, 0.1), (5.0, 2.0)])
def test_gradient_check_with_penalties(l2, l1):
    net, (X, y) = _net(), _data()
    report = dr.gradient_check(net, X, y, loss="binary_crossentropy", l2=l2, l1=l1)
    assert report.overall < 1e-7
    assert max(report.values()) < 1e-7


def test_penalty_gradient_leaves_b_gamma_beta_alone():
    net, (X, y) = _net(), _data()
    _, g0 = net.loss_and_gradients(X, y, loss="binary_crossentropy")
    g0 = {k: g.copy() for k, g in g0.items()}
    _, g1 = net.loss_and_gradients(X, y, loss="binary_crossentropy", l2=0.7, l1=0.1)
    for k in g0:
        if k.endswith(".W"):
            expected = g0[k] + 0.7 / 8 * net.params[k] + 0.1 / 8 * np.sign(net.params[k])
            np.testing.assert_allclose(g1[k], expected, rtol=1e-12)
        else:
            np.testing.assert_array_equal(g1[k], g0[k])


def test_l2_with_plain_gradient_descent_is_weight_decay():
    net, (X, y) = _net(), _data()
    m, l2, lr = len(X), 0.7, 0.1
    _, g = net.loss_and_gradients(X, y, loss="binary_crossentropy", l2=0.0)
    dW_backprop = {k: g[k].copy() for k in weight_keys(net.params)}
    _, g = net.loss_and_gradients(X, y, loss="binary_crossentropy", l2=l2)
    for k, dW in dW_backprop.items():
        W = net.params[k]
        step = W - lr * g[k]                                  # W := W - lr (dW + l2/m W)
        decayed = W * (1 - lr * l2 / m) - lr * dW            # W := W (1 - lr l2/m) - lr dW
        np.testing.assert_allclose(step, decayed, rtol=1e-12, atol=1e-15)
        assert not np.allclose(step, W - lr * dW)            # the decay does change the step


def test_l1_drives_weights_to_zero():
    net, (X, y) = _net(), _data()
    start = {k: net.params[k].copy() for k in weight_keys(net.params)}
    for _ in range(300):
        _, g = net.loss_and_gradients(X, y, loss="binary_crossentropy", l1=2.0)
        for k, p in net.params.items():
            p -= 0.05 * g[k]
    for k in start:  # the sign() subgradient oscillates around 0 at amplitude lr * l1 / m
        assert np.abs(net.params[k]).mean() < 0.2 * np.abs(start[k]).mean()


# -- hostile inputs: the correct penalty or a DeepRecipeError ------------------------------------
_PARAMS = st.one_of(hostile, st.dictionaries(
    st.one_of(st.sampled_from(["W", "0.W", "0.b", "3.W"]), st.integers(0, 2)),
    st.one_of(matrices(), arrays(), scalars), max_size=3))
_NUMBERS = st.one_of(st.sampled_from([0.0, 0.5, 2, 4]), scalars)


def _is_weight(k) -> bool:
    return k == "W" or k.endswith(".W")


@settings(max_examples=300)
@given(params=_PARAMS, m=_NUMBERS, l2=_NUMBERS, l1=_NUMBERS)
def test_penalty_is_the_formula_or_a_deeprecipe_error(params, m, l2, l1):
    J = attempt(lambda: penalty(params, m, l2=l2, l1=l1))
    if J is None:
        return
    expected = sum((l2 and l2 / (2 * m) * np.sum(np.square(W, dtype=np.float64)))
                   + (l1 and l1 / m * np.sum(np.abs(W), dtype=np.float64))
                   for k, W in params.items() if _is_weight(k))
    assert isinstance(J, float)
    np.testing.assert_allclose(J, expected, rtol=1e-6)


@settings(max_examples=300)
@given(params=_PARAMS, m=_NUMBERS, grads=st.one_of(st.just("zeros"), _PARAMS))
def test_penalty_gradients_are_added_or_a_deeprecipe_error(params, m, grads):
    if isinstance(grads, str) and grads == "zeros" and isinstance(params, dict):
        grads = {k: np.zeros_like(W) for k, W in params.items() if isinstance(W, np.ndarray)}
    before = {k: np.copy(g) for k, g in grads.items()} if isinstance(grads, dict) else {}
    if attempt(lambda: add_penalty_gradients_(params, grads, m, l2=0.5, l1=0.25) or True):
        for k, g in grads.items():
            W = params.get(k)
            expected = (before[k] + 0.5 / m * W + 0.25 / m * np.sign(W) if _is_weight(k)
                        else before[k])
            rtol = 1e-2 if g.dtype == np.float16 else 1e-6
            np.testing.assert_allclose(g, np.asarray(expected).astype(g.dtype), rtol=rtol)


@pytest.mark.parametrize("call, message", [
    (lambda: penalty({"W": np.ones((2, 2))}, 0, l2=1.0), "m must be >= 1, got 0"),
    (lambda: penalty({1: np.ones((2, 2))}, 2, l2=1.0), "keyed by parameter names"),
    (lambda: penalty({"W": np.ones(3)}, 2, l2=1.0), None),  # 1-D W: einsum failed before
    (lambda: add_penalty_gradients_({"W": np.ones((2, 2))}, {}, 2, l2=1.0),
     r"grads\['W'\] must be a writeable float array of shape \(2, 2\), got NoneType"),
    (lambda: add_penalty_gradients_({"W": np.ones((2, 2))}, {"W": np.zeros((2, 2), int)}, 2,
                                    l2=1.0), "got a int64 array"),
])
def test_bad_penalty_arguments_are_named(call, message):
    if message is None:
        assert call() == pytest.approx(0.75)
    else:
        with pytest.raises(dr.DeepRecipeError, match=message):
            call()
