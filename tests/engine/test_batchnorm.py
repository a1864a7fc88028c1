"""Batch norm: training (batch statistics) and inference (running statistics) vs PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

from deeprecipe.engine.layers import BatchNorm
from deeprecipe.errors import DeepRecipeError

RTOL = 1e-10


def _built(n=4, *, dtype=np.float64, seed=0, **kwargs) -> BatchNorm:
    layer = BatchNorm(**kwargs)
    layer.build(n, np.random.default_rng(seed), dtype)
    rng = np.random.default_rng(seed + 100)
    layer.params["gamma"][...] = 1.0 + 0.5 * rng.standard_normal(n)
    layer.params["beta"][...] = rng.standard_normal(n)
    return layer


def _batch(rng, m=16, n=4):
    return 3.0 * rng.standard_normal((m, n)) + rng.standard_normal(n) * 5.0


@pytest.mark.parametrize("momentum, epsilon", [(0.9, 1e-5), (0.5, 1e-3), (0.0, 1e-8)])
def test_training_forward_backward_and_running_stats_match_torch(momentum, epsilon, torch):
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    m, n = 16, 4
    layer = _built(n, momentum=momentum, epsilon=epsilon)
    X, dY = _batch(rng, m, n), rng.standard_normal((m, n))

    Y = layer.forward(X, training=True)
    dX = layer.backward(dY)

    Xt = torch.tensor(X, requires_grad=True)
    gt = torch.tensor(layer.params["gamma"], requires_grad=True)
    bt = torch.tensor(layer.params["beta"], requires_grad=True)
    rm, rv = torch.zeros(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)
    # torch's momentum weighs the new batch: ours is 1 - theirs.
    Yt = F.batch_norm(Xt, rm, rv, gt, bt, training=True, momentum=1 - momentum, eps=epsilon)
    Yt.backward(torch.tensor(dY))

    np.testing.assert_allclose(Y, Yt.detach().numpy(), rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(dX, Xt.grad.numpy(), rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(layer.grads["gamma"], gt.grad.numpy(), rtol=RTOL)
    np.testing.assert_allclose(layer.grads["beta"], bt.grad.numpy(), rtol=RTOL)
    np.testing.assert_allclose(layer.state["running_mean"], rm.numpy(), rtol=RTOL)
    # torch folds the UNBIASED batch variance into running_var, we the biased one:
    # ours = momentum * 1 + (1 - momentum) * var_biased, var_biased = var_unbiased (m - 1) / m.
    expected_var = momentum + (rv.numpy() - momentum) * (m - 1) / m
    np.testing.assert_allclose(layer.state["running_var"], expected_var, rtol=RTOL)
    np.testing.assert_allclose(layer.state["running_var"],
                               momentum + (1 - momentum) * X.var(axis=0), rtol=RTOL)


def test_running_stats_after_many_batches_and_eval_match_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    m, n, momentum, steps = 8, 3, 0.9, 12
    layer = _built(n, momentum=momentum)
    rm, rv = torch.zeros(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)
    g, b = torch.tensor(layer.params["gamma"]), torch.tensor(layer.params["beta"])
    for _ in range(steps):
        X = _batch(rng, m, n)
        layer.forward(X, training=True)
        F.batch_norm(torch.tensor(X), rm, rv, g, b, training=True, momentum=1 - momentum)
    np.testing.assert_allclose(layer.state["running_mean"], rm.numpy(), rtol=RTOL)
    # both recursions start at 1 and are linear in the batch variances (ratio (m - 1) / m):
    decay = momentum ** steps
    np.testing.assert_allclose(layer.state["running_var"],
                               decay + (rv.numpy() - decay) * (m - 1) / m, rtol=RTOL)

    X_test = _batch(rng, 5, n)
    state_before = {k: s.copy() for k, s in layer.state.items()}
    Y = layer.forward(X_test, training=False)
    Yt = F.batch_norm(torch.tensor(X_test), torch.tensor(layer.state["running_mean"]),
                      torch.tensor(layer.state["running_var"]), g, b, training=False,
                      eps=layer.epsilon)
    np.testing.assert_allclose(Y, Yt.numpy(), rtol=RTOL, atol=1e-13)
    for k, s in layer.state.items():  # inference never updates the running statistics
        np.testing.assert_array_equal(s, state_before[k])
    assert layer._cache == {}


def test_training_output_is_normalized_then_scaled_and_shifted():
    layer = _built(3)
    X = _batch(np.random.default_rng(2), 64, 3)
    Y = layer.forward(X, training=True)
    x_hat = (Y - layer.params["beta"]) / layer.params["gamma"]
    np.testing.assert_allclose(x_hat.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(x_hat.var(axis=0), X.var(axis=0) / (X.var(axis=0) + 1e-5),
                               rtol=1e-12)


def test_inference_output_does_not_depend_on_the_batch():
    layer = _built(3)
    for seed in range(3):
        layer.forward(_batch(np.random.default_rng(seed), 10, 3), training=True)
    X = _batch(np.random.default_rng(9), 6, 3)
    full = layer.forward(X)
    single = np.vstack([layer.forward(X[i:i + 1]) for i in range(6)])
    np.testing.assert_allclose(full, single, rtol=1e-14)


def test_build_creates_params_and_state():
    layer = BatchNorm()
    assert layer.build(5, np.random.default_rng(0), np.float32) == 5
    np.testing.assert_array_equal(layer.params["gamma"], 1.0)
    np.testing.assert_array_equal(layer.params["beta"], 0.0)
    np.testing.assert_array_equal(layer.state["running_mean"], 0.0)
    np.testing.assert_array_equal(layer.state["running_var"], 1.0)
    assert set(layer.state).isdisjoint(layer.params)  # optimizers never touch the state


def test_float32_preserved_including_running_stats():
    layer = _built(3, dtype=np.float32)
    X = _batch(np.random.default_rng(3), 8, 3).astype(np.float32)
    Y = layer.forward(X, training=True)
    assert Y.dtype == np.float32
    assert layer.backward(np.ones_like(Y)).dtype == np.float32
    assert all(a.dtype == np.float32 for d in (layer.params, layer.grads, layer.state)
               for a in d.values())
    assert layer.forward(X).dtype == np.float32


@pytest.mark.parametrize("kwargs, message", [
    ({"momentum": 1.0}, r"momentum must be in \[0.0, 1.0\), got 1.0"),
    ({"momentum": -0.1}, r"momentum must be in \[0.0, 1.0\)"),
    ({"epsilon": 0.0}, r"epsilon must be > 0.0, got 0.0"),
    ({"epsilon": -1e-5}, r"epsilon must be > 0.0"),
])
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(DeepRecipeError, match=message):
        BatchNorm(**kwargs)


def test_build_checks_the_size_before_allocating(monkeypatch):
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", "4000")
    BatchNorm().build(100, np.random.default_rng(0))  # 10 arrays of 100 float32: 4000 bytes
    with pytest.raises(DeepRecipeError, match=r"BatchNorm on 101 inputs .* would need"):
        BatchNorm().build(101, np.random.default_rng(0))
