"""Performance contracts that need no clock: no arrays allocated per training step, float32 kept.

A training step (``Sequential.cost_and_gradients`` + ``optimizer.step``) runs the layers in hot
mode: outputs, dX and temporaries go into arrays allocated on the first step with a given batch
size and reused afterwards. tracemalloc sees NumPy's array allocations, so after a warm-up the
traced peak over further steps must stay far below the size of one activation batch. Timings
live in ``benchmarks/``, never in tests.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe.engine.layers import (
    BatchNorm,
    Dense,
    Dropout,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from deeprecipe.engine.regularizers import add_penalty_gradients_, penalty

M, N_IN, WIDTH = 128, 20, 512
ACTIVATION_BYTES = M * WIDTH * 4  # one float32 activation batch: 256 KiB
# What may remain: Python objects (views, floats, the Cost) and the fixed 8,192-element buffer
# that NumPy's iterator allocates for a broadcast operation such as Z += b (32 KiB in float32,
# the same for any batch size). No array proportional to the batch or the parameters.
BOUND = 64 * 1024  # a quarter of one activation batch


def _wide(k: int = 5) -> list:
    return [Dense(WIDTH), ReLU(), Dense(WIDTH), ReLU(), Dense(k), Softmax()]


def _everything(k: int = 5) -> list:
    return [Dense(WIDTH), BatchNorm(), LeakyReLU(0.1), Dropout(0.8), Dense(WIDTH), Tanh(),
            Dense(WIDTH), Sigmoid(), Dropout(0.9), Dense(k), Softmax()]


NETS = {
    "relu-softmax": (_wide, "categorical_crossentropy", {}),
    "all-layers-l2-l1": (_everything, "categorical_crossentropy", {"l2": 0.1, "l1": 0.01}),
    "one-hot-targets": (_wide, "categorical_crossentropy", {"one_hot": True}),
    "sigmoid-bce": (lambda: [Dense(WIDTH), Tanh(), Dense(1), Sigmoid()],
                    "binary_crossentropy", {}),
    "linear-mse": (lambda: [Dense(WIDTH), ReLU(), Dense(3), Linear()],
                   "mean_squared_error", {"l2": 0.5}),
}


def _targets(rng, loss: str, m: int, one_hot: bool = False) -> np.ndarray:
    if loss == "categorical_crossentropy":
        y = rng.integers(0, 5, m)
        return np.eye(5)[y] if one_hot else y
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, m)
    return rng.normal(size=(m, 3))


def _batches(net, loss_name, opts, rng):
    """Two prepared batch sizes, as a training epoch has them: full batches and the last one."""
    out = []
    for m in (M, M - 37):
        X = rng.normal(size=(m, N_IN))
        y = _targets(rng, loss_name, m, opts.get("one_hot", False))
        out.append(net.prepare(X, y, loss_name))
    return out


def _traced_peak(fn, n: int) -> int:
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(n):
            fn(i)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "rmsprop", "gd"])
@pytest.mark.parametrize("name", sorted(NETS))
def test_training_steps_allocate_no_arrays_after_warm_up(name, optimizer):
    build, loss_name, opts = NETS[name]
    net = dr.Sequential(build(), input_dim=N_IN, random_state=0)
    opt = dr.optimizers.make_optimizer(optimizer, learning_rate=1e-3)
    opt.init(net.params)
    batches = _batches(net, loss_name, opts, np.random.default_rng(0))
    reg = {k: opts[k] for k in ("l2", "l1") if k in opts}

    def step(i: int) -> None:
        X, Y, loss = batches[i % 2]
        cost = net.cost_and_gradients(X, Y, loss, **reg)
        assert np.isfinite(cost.total)
        opt.step(net.params, net.grads)

    for i in range(4):  # warm-up: both batch sizes create their arrays
        step(i)
    peak = _traced_peak(step, 6)
    assert peak < BOUND, (f"{name}/{optimizer}: 6 steps after warm-up traced a peak of {peak} "
                          f"bytes (one activation batch is {ACTIVATION_BYTES})")


def test_the_step_allocation_check_would_see_a_per_step_array():
    # The bound is meaningful: one activation-sized temporary per step exceeds it.
    peak = _traced_peak(lambda i: np.empty((M, WIDTH), np.float32).fill(i), 3)
    assert peak >= ACTIVATION_BYTES > BOUND


# -- hot mode changes no values and leaks no shared arrays ----------------------------------------
def _reference_step(net, X, Y, loss, l2=0.0, l1=0.0) -> float:
    """The step written with the public, allocating pieces."""
    stop = net._fused_stop(loss)
    J, d_out = loss(net.forward(X, training=True, stop=stop), Y)
    net.backward(d_out, start=stop)
    if l2 or l1:
        add_penalty_gradients_(net.params, net.grads, len(X), l2=l2, l1=l1)
    return J + (penalty(net.params, len(X), l2=l2, l1=l1) if (l2 or l1) else 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(NETS))
def test_hot_steps_give_the_same_gradients_as_the_public_path(name, dtype):
    build, loss_name, opts = NETS[name]
    reg = {k: opts[k] for k in ("l2", "l1") if k in opts}
    hot = dr.Sequential(build(), input_dim=N_IN, random_state=1, dtype=dtype)
    ref = dr.Sequential(build(), input_dim=N_IN, random_state=1, dtype=dtype)
    rng = np.random.default_rng(2)
    for m in (M, 7, M):
        X = rng.normal(size=(m, N_IN))
        X, Y, loss = hot.prepare(X, _targets(rng, loss_name, m, opts.get("one_hot", False)),
                                 loss_name)
        J = hot.cost_and_gradients(X, Y, loss, **reg).total
        J_ref = _reference_step(ref, X, Y, loss, **reg)
        for k in hot.grads:  # same values, bit for bit (dropout draws the same masks)
            np.testing.assert_array_equal(hot.grads[k], ref.grads[k], err_msg=k)
        for k in hot.state:
            np.testing.assert_array_equal(hot.state[k], ref.state[k], err_msg=k)
        # J: the hot penalty and MSE sum per row first, so float rounding may differ
        np.testing.assert_allclose(J, J_ref, rtol=1e-6 if dtype == np.float32 else 1e-12)
        for k in hot.params:
            hot.params[k] -= 0.01 * hot.grads[k]
            ref.params[k] -= 0.01 * ref.grads[k]


def test_results_handed_to_callers_are_not_overwritten_by_training_steps():
    net = dr.Sequential(_everything(), input_dim=N_IN, random_state=0)
    rng = np.random.default_rng(0)
    X, Y, loss = net.prepare(rng.normal(size=(M, N_IN)), rng.integers(0, 5, M),
                             "categorical_crossentropy")
    net.cost_and_gradients(X, Y, loss)
    proba = net.predict_proba(X)
    trained_out = net.forward(X, training=True)
    dX = net.layers[4].backward(np.ones((M, WIDTH), np.float32))
    kept = [a.copy() for a in (proba, trained_out, dX)]
    X_before = X.copy()
    for _ in range(3):
        net.cost_and_gradients(X, Y, loss)
    for a, b in zip((proba, trained_out, dX), kept, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(X, X_before)  # the step never writes into its input
    assert all(not layer._hot for layer in net.layers)


def test_hot_mode_ends_when_a_step_raises():
    net = dr.Sequential(_wide(), input_dim=N_IN, random_state=0)
    loss = dr.losses.get_loss("categorical_crossentropy")
    with pytest.raises(ValueError):  # the hot path leaves input checks to prepare()
        net.cost_and_gradients(np.ones((4, N_IN + 1), np.float32), np.zeros(4, np.intp), loss)
    assert all(not layer._hot for layer in net.layers)


def test_clear_caches_frees_the_scratch_arrays():
    net = dr.Sequential(_wide(), input_dim=N_IN, random_state=0)
    X, Y, loss = net.prepare(np.ones((M, N_IN)), np.zeros(M, int), "categorical_crossentropy")
    net.cost_and_gradients(X, Y, loss)
    assert net.layers[0]._ws is not None and net._ws is not None
    net.clear_caches()
    assert all(layer._ws is None and layer._cache == {} for layer in net.layers)
    assert net._ws is None


# -- float32 stays float32 end to end -------------------------------------------------------------
def test_float32_stays_float32_through_training_and_prediction():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, N_IN)).astype(np.float32)
    y = rng.integers(0, 5, 300)
    net = dr.Sequential(_everything(), input_dim=N_IN, random_state=0)
    opt = dr.optimizers.Adam(1e-3)
    trainer = dr.Trainer(net, X, y, loss="categorical_crossentropy", optimizer=opt,
                                  l2=0.1, batch_size=64, random_state=0)
    trainer.fit(2)
    arrays = {**net.params, **net.grads, **net.state,
              **{f"opt.{k}": a for k, a in opt.state_dict().items() if k != "t"}}
    for layer in net.layers:
        arrays.update({f"cache.{type(layer).__name__}.{k}": a
                       for k, a in layer._cache.items() if a is not None})
        if layer._ws is not None:
            arrays.update({f"ws.{k}": a for k, a in layer._ws._arrays.items()
                           if a.dtype.kind == "f"})
    arrays.update({f"net.ws.{k}": a for k, a in net._ws._arrays.items() if a.dtype.kind == "f"})
    not32 = {k: a.dtype for k, a in arrays.items() if a.dtype != np.float32}
    assert not not32, f"arrays not float32 after training: {not32}"
    assert net.predict_proba(X).dtype == np.float32
    assert all(np.isfinite(r["cost"]) for r in trainer.history.epochs)


def test_input_checks_need_no_copy_of_the_data():
    """The NaN/inf check of a float32 X allocates nothing proportional to X."""
    import tracemalloc

    from deeprecipe._validation import check_features

    X = np.random.default_rng(0).random((20000, 100), dtype=np.float32)
    tracemalloc.start()
    try:
        check_features(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 20
