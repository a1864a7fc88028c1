"""L2 / L1 penalties: the formulas, W only, the gradient check, and L2 as weight decay."""

from __future__ import annotations

import numpy as np
import pytest

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
