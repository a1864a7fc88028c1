"""Optimizers: hand-computed steps, torch.optim trajectories, dtype, state, errors, allocation."""

from __future__ import annotations

import io
import json
import re
import tracemalloc

import numpy as np
import pytest

from deeprecipe.errors import (
    CheckpointError,
    ConfigError,
    DeepRecipeError,
    InvalidTypeError,
    InvalidValueError,
    NotFittedError,
)
from deeprecipe.optimize.optimizers import (
    OPTIMIZERS,
    Adam,
    GradientDescent,
    Momentum,
    RMSprop,
    make_optimizer,
    optimizer_from_config,
)

ALL = [GradientDescent(0.1), Momentum(0.1), Momentum(0.1, beta=0.8, form="sum"),
       RMSprop(0.01), Adam(0.01)]
IDS = ["gd", "momentum", "momentum-sum", "rmsprop", "adam"]


def _fresh(opt):
    return optimizer_from_config(opt.get_config())


def _grad_sequence(n_steps, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(n_steps)]


def _run(opt, w0, grads_seq):
    params = {"0.W": w0.copy()}
    opt.init(params)
    for g in grads_seq:
        opt.step(params, {"0.W": g})
    return params["0.W"]


# ---------------------------------------------------------------- hand-computed, several steps
def test_gradient_descent_matches_formula():
    w0, gs, lr = np.full((3, 4), 0.5), _grad_sequence(5, seed=1), 0.1
    w = w0.copy()
    for g in gs:
        w = w - lr * g  # W -= learning_rate * dW
    np.testing.assert_allclose(_run(GradientDescent(lr), w0, gs), w, rtol=1e-12)


@pytest.mark.parametrize("form", ["ema", "sum"])
def test_momentum_matches_formula(form):
    w0, gs, lr, beta = np.full((3, 4), 0.5), _grad_sequence(5, seed=2), 0.1, 0.9
    w, v = w0.copy(), np.zeros_like(w0)
    for g in gs:
        v = beta * v + ((1 - beta) * g if form == "ema" else g)
        w = w - lr * v
    np.testing.assert_allclose(_run(Momentum(lr, beta, form=form), w0, gs), w, rtol=1e-12)


def test_momentum_first_steps_by_hand():
    # beta = 0.9, lr = 0.1, dW = 1 then 2: v1 = 0.1, W1 = 1 - 0.01; v2 = 0.09 + 0.2 = 0.29
    opt, params = Momentum(0.1, beta=0.9), {"W": np.array([1.0])}
    opt.init(params)
    opt.step(params, {"W": np.array([1.0])})
    np.testing.assert_allclose(params["W"], [0.99], rtol=1e-12)
    opt.step(params, {"W": np.array([2.0])})
    np.testing.assert_allclose(opt.v["W"], [0.29], rtol=1e-12)
    np.testing.assert_allclose(params["W"], [0.99 - 0.029], rtol=1e-12)


def test_rmsprop_matches_formula():
    w0, gs = np.full((3, 4), 0.5), _grad_sequence(5, seed=3)
    lr, beta2, eps = 0.01, 0.999, 1e-8
    w, s = w0.copy(), np.zeros_like(w0)
    for g in gs:
        s = beta2 * s + (1 - beta2) * g**2
        w = w - lr * g / (np.sqrt(s) + eps)
    np.testing.assert_allclose(_run(RMSprop(lr, beta2, eps), w0, gs), w, rtol=1e-12)


def test_adam_matches_formula():
    w0, gs = np.full((3, 4), 0.5), _grad_sequence(5, seed=4)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    w, v, s = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(gs, start=1):
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g**2
        v_hat, s_hat = v / (1 - b1**t), s / (1 - b2**t)
        w = w - lr * v_hat / (np.sqrt(s_hat) + eps)  # epsilon outside the square root
    np.testing.assert_allclose(_run(Adam(lr, b1, b2, eps), w0, gs), w, rtol=1e-12)


def test_adam_first_step_is_learning_rate_times_sign():
    rng = np.random.default_rng(5)
    g = rng.uniform(0.5, 2.0, size=(4, 3)) * rng.choice([-1.0, 1.0], size=(4, 3))
    params = {"W": rng.normal(size=(4, 3))}
    w0 = params["W"].copy()
    opt = Adam(learning_rate=0.01)
    opt.init(params)
    opt.step(params, {"W": g})
    assert opt.t == 1
    np.testing.assert_allclose(w0 - params["W"], 0.01 * np.sign(g), rtol=1e-7)


def test_learning_rate_attribute_is_read_every_step():
    opt, params = GradientDescent(0.1), {"W": np.array([1.0])}
    opt.init(params)
    opt.step(params, {"W": np.array([1.0])})
    opt.learning_rate = 0.5  # what a schedule or a nudge does between epochs
    opt.step(params, {"W": np.array([1.0])})
    np.testing.assert_allclose(params["W"], [1.0 - 0.1 - 0.5], rtol=1e-12)


# ---------------------------------------------------------------- torch.optim reference
def _assert_same_trajectory_as_torch(torch, make_torch_opt, ours, n_steps=100, seed=6):
    rng = np.random.default_rng(seed)
    w0, noise = rng.normal(size=(5, 3)), [rng.normal(size=(5, 3)) for _ in range(n_steps)]
    curvature = rng.uniform(0.1, 3.0, size=(5, 3))  # g = curvature * w + noise
    wt = torch.tensor(w0.copy(), dtype=torch.float64, requires_grad=True)
    topt = make_torch_opt([wt])
    params = {"W": w0.copy()}
    ours.init(params)
    for n in noise:
        with torch.no_grad():
            wt.grad = torch.from_numpy(curvature * wt.detach().numpy() + n)
        topt.step()
        ours.step(params, {"W": curvature * params["W"] + n})
        np.testing.assert_allclose(params["W"], wt.detach().numpy(), rtol=1e-10, atol=1e-13)


def test_adam_matches_torch_over_100_steps(torch):
    _assert_same_trajectory_as_torch(
        torch, lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8),
        Adam(0.01, beta1=0.9, beta2=0.999, epsilon=1e-8))


def test_rmsprop_matches_torch_over_100_steps(torch):
    _assert_same_trajectory_as_torch(
        torch, lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8),
        RMSprop(0.01, beta2=0.99, epsilon=1e-8))


def test_momentum_sum_form_matches_torch_sgd_over_100_steps(torch):
    _assert_same_trajectory_as_torch(
        torch, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        Momentum(0.05, beta=0.9, form="sum"))


# ---------------------------------------------------------------- behaviour on a quadratic bowl
A, B = 100.0, 1.0  # J = 0.5 * (A * w1**2 + B * w2**2), condition number A / B = 100


def _bowl(opt, n_steps, w0=(1.0, 1.0)):
    params, grads = {"w": np.array(w0)}, {"w": np.zeros(2)}
    opt.init(params)
    costs = []
    for _ in range(n_steps):
        w = params["w"]
        grads["w"][:] = (A * w[0], B * w[1])
        opt.step(params, grads)
        costs.append(0.5 * (A * params["w"][0] ** 2 + B * params["w"][1] ** 2))
    return costs


@pytest.mark.parametrize("cls", [Momentum, RMSprop, Adam])
def test_adaptive_methods_beat_gradient_descent_on_elongated_bowl(cls):
    lr = 0.019  # GD is stable for lr < 2 / A = 0.02; this is about the best GD can do
    gd_cost = _bowl(GradientDescent(lr), 200)[-1]
    assert _bowl(cls(lr), 200)[-1] < gd_cost


@pytest.mark.parametrize("cls", [GradientDescent, Momentum, RMSprop, Adam])
def test_every_optimizer_converges_on_the_bowl(cls):
    costs = _bowl(cls(0.019), 200)
    assert costs[-1] < 1e-3 * 0.5 * (A + B)  # from J(1, 1) = 50.5


def test_gradient_descent_with_small_learning_rate_decreases_cost_monotonically():
    costs = _bowl(GradientDescent(0.005), 100)  # lr < 1 / A: no oscillation in w1
    assert np.all(np.diff(costs) < 0)


# ---------------------------------------------------------------- dtype, state, config
@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_float32_params_and_state_stay_float32(opt):
    opt = _fresh(opt)
    rng = np.random.default_rng(7)
    params = {"0.W": rng.normal(size=(4, 3)).astype(np.float32),
              "0.b": np.zeros(3, np.float32)}
    opt.init(params)
    for _ in range(3):
        grads = {k: rng.normal(size=p.shape).astype(np.float32) for k, p in params.items()}
        opt.step(params, grads)
    assert all(p.dtype == np.float32 for p in params.values())
    state = opt.state_dict()
    assert all(a.dtype == np.float32 for k, a in state.items() if k != "t")
    assert int(state["t"]) == 3


@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_strided_params_and_other_dtype_grads_update_like_contiguous_ones(opt):
    # the fused kernels run on flat views; other layouts go through a contiguous copy
    w0, gs = np.arange(24.0).reshape(4, 6) / 10, _grad_sequence(4, shape=(6, 4), seed=9)
    expected = _run(_fresh(opt), w0.T.copy(), gs)
    strided = {"0.W": w0.copy().T}  # F-ordered view, updated in place
    fresh = _fresh(opt)
    fresh.init(strided)
    for g in gs:
        fresh.step(strided, {"0.W": np.asfortranarray(g)})
    np.testing.assert_array_equal(strided["0.W"], expected)
    as_f32 = {"0.W": w0.T.astype(np.float32)}
    fresh = _fresh(opt)
    fresh.init(as_f32)
    for g in gs:
        fresh.step(as_f32, {"0.W": g})  # float64 gradients, float32 parameters
    assert as_f32["0.W"].dtype == np.float32
    np.testing.assert_allclose(as_f32["0.W"], expected, rtol=1e-5)


@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_state_dict_round_trip_continues_identically(opt):
    rng = np.random.default_rng(8)
    gs = [{"0.W": rng.normal(size=(4, 3))} for _ in range(5)]
    first, params = _fresh(opt), {"0.W": rng.normal(size=(4, 3))}
    first.init(params)
    for g in gs[:3]:
        first.step(params, g)
    state = first.state_dict()
    restored, params2 = _fresh(opt), {"0.W": params["0.W"].copy()}
    restored.init(params2)
    restored.load_state_dict(dict(np.load(_savez(state))))
    assert restored.t == 3
    for g in gs[3:]:
        first.step(params, g)
        restored.step(params2, g)
    np.testing.assert_array_equal(params["0.W"], params2["0.W"])


def _savez(state):
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    return buf


def test_state_dict_is_a_copy_with_flat_keys():
    opt, params = Adam(0.1), {"0.W": np.ones((2, 2))}
    opt.init(params)
    opt.step(params, {"0.W": np.ones((2, 2))})
    state = opt.state_dict()
    assert sorted(state) == ["s/0.W", "t", "v/0.W"]
    state["v/0.W"][:] = 123.0
    assert not np.any(opt.v["0.W"] == 123.0)


def test_load_state_dict_rejects_mismatches():
    opt, params = Adam(0.1), {"0.W": np.ones((2, 2))}
    opt.init(params)
    good = opt.state_dict()
    with pytest.raises(CheckpointError, match=r"missing \['s/0.W'\]"):
        opt.load_state_dict({k: a for k, a in good.items() if k != "s/0.W"})
    with pytest.raises(CheckpointError, match=r"unexpected \['v/1.W'\]"):
        opt.load_state_dict({**good, "v/1.W": np.ones(2)})
    with pytest.raises(CheckpointError, match=r"'v/0.W' must have shape \(2, 2\)"):
        opt.load_state_dict({**good, "v/0.W": np.ones((2, 3))})
    with pytest.raises(CheckpointError, match="dtype float64, got shape .* dtype float32"):
        opt.load_state_dict({**good, "v/0.W": np.ones((2, 2), np.float32)})
    with pytest.raises(CheckpointError, match="'t' must be an integer >= 0"):
        opt.load_state_dict({**good, "t": np.asarray(-1)})
    momentum = Momentum(0.1)
    momentum.init(params)
    with pytest.raises(CheckpointError, match=r"unexpected \['s/0.W'\]"):
        momentum.load_state_dict(good)  # Adam's "s/..." is not Momentum state
    with pytest.raises(NotFittedError, match="needs init"):
        Adam().load_state_dict(good)


@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_config_is_json_and_round_trips(opt):
    cfg = json.loads(json.dumps(opt.get_config()))
    assert cfg["type"] == type(opt).__name__
    assert optimizer_from_config(cfg).get_config() == opt.get_config()


def test_registry_and_make_optimizer():
    assert OPTIMIZERS == {"gd": GradientDescent, "momentum": Momentum, "rmsprop": RMSprop,
                          "adam": Adam}
    opt = make_optimizer("momentum", learning_rate=0.1, beta=0.95)
    assert isinstance(opt, Momentum) and opt.beta == 0.95 and opt.form == "ema"
    assert isinstance(optimizer_from_config({"type": "rmsprop", "learning_rate": 0.1}), RMSprop)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(("make", "message"), [
    (lambda: GradientDescent(0.0), "learning_rate must be > 0.0, got 0.0"),
    (lambda: Adam(-0.1), "learning_rate must be > 0.0, got -0.1"),
    (lambda: Momentum(0.1, beta=1.0), "beta must be in [0.0, 1.0), got 1.0"),
    (lambda: Momentum(0.1, beta=-0.1), "beta must be in [0.0, 1.0), got -0.1"),
    (lambda: Adam(0.1, beta1=1.0), "beta1 must be in [0.0, 1.0), got 1.0"),
    (lambda: Adam(0.1, beta2=-0.1), "beta2 must be in [0.0, 1.0), got -0.1"),
    (lambda: RMSprop(0.1, beta2=1.0), "beta2 must be in [0.0, 1.0), got 1.0"),
    (lambda: Adam(0.1, epsilon=0.0), "epsilon must be > 0.0, got 0.0"),
    (lambda: RMSprop(0.1, epsilon=0), "epsilon must be > 0.0, got 0"),
    (lambda: Momentum(0.1, form="nesterov"), "form must be one of 'ema', 'sum', got 'nesterov'"),
    (lambda: make_optimizer("sgd"),
     "optimizer must be one of 'gd', 'momentum', 'rmsprop', 'adam', got 'sgd'"),
    (lambda: optimizer_from_config({"type": "Adagrad"}), "optimizer type must be one of"),
])
def test_bad_hyperparameters_fail_early(make, message):
    with pytest.raises(InvalidValueError, match=re.escape(message)):
        make()


def test_learning_rate_set_later_is_validated():
    opt = Adam(0.1)
    with pytest.raises(InvalidValueError, match=re.escape("learning_rate must be > 0.0")):
        opt.learning_rate = -1.0
    with pytest.raises(InvalidTypeError, match="learning_rate must be a real number"):
        opt.learning_rate = "fast"
    assert opt.learning_rate == 0.1


def test_unknown_config_key_is_a_config_error():
    with pytest.raises(ConfigError, match="bad Adam config"):
        optimizer_from_config({"type": "Adam", "learning_rate": 0.1, "beta": 0.9})


def test_step_before_init_and_mismatched_grads():
    params = {"W": np.ones(3)}
    with pytest.raises(NotFittedError, match=re.escape("Adam.step() needs init(params) first")):
        Adam().step(params, {"W": np.ones(3)})
    opt = Adam()
    opt.init(params)
    with pytest.raises(InvalidValueError, match=re.escape("grads['W'] must have shape (3,)")):
        opt.step(params, {"W": np.ones(4)})
    with pytest.raises(InvalidValueError, match="grads\\['W'\\] .* got missing"):
        opt.step(params, {})
    with pytest.raises(InvalidValueError, match="differ from the keys given to init"):
        opt.step({"V": np.ones(3)}, {"V": np.ones(3)})
    with pytest.raises(InvalidTypeError, match="must be a float32 or float64 ndarray"):
        opt.init({"W": np.arange(3)})
    with pytest.raises(InvalidTypeError, match="got float16"):
        opt.init({"W": np.ones(3, np.float16)})
    assert issubclass(NotFittedError, DeepRecipeError)


# ---------------------------------------------------------------- no allocation per step
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_step_allocates_no_arrays(opt, dtype):
    opt = _fresh(opt)
    rng = np.random.default_rng(9)
    params = {"0.W": rng.normal(size=(512, 512)).astype(dtype),
              "0.b": np.zeros(512, dtype)}
    grads = {k: rng.normal(size=p.shape).astype(dtype) for k, p in params.items()}
    opt.init(params)
    opt.step(params, grads)  # warm-up
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(10):
            opt.step(params, grads)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One 512 x 512 temporary would be >= 1 MB; allow only a few small Python objects.
    assert peak - before < 2048
    assert after - before < 1024


@pytest.mark.parametrize("make", [lambda: Momentum(0.01), lambda: RMSprop(0.01),
                                  lambda: Adam(0.01)])
def test_state_never_decays_into_subnormal_floats(make):
    """A gradient that becomes 0 (a never-lit pixel) lets its moments decay geometrically;
    they are flushed to exactly 0 before reaching the slow subnormal range."""
    params = {"W": np.ones((4, 4), np.float32)}
    opt = make()
    opt.init(params)
    opt.step(params, {"W": np.full((4, 4), 1e-3, np.float32)})
    zero = {"W": np.zeros((4, 4), np.float32)}
    tiny = np.finfo(np.float32).tiny
    for _ in range(2000):
        opt.step(params, zero)
        for slot in opt.slots:
            state = getattr(opt, slot)["W"]
            assert not np.any((state != 0) & (np.abs(state) < tiny))
    assert np.isfinite(params["W"]).all()


@pytest.mark.parametrize("cls", [GradientDescent, Momentum, RMSprop, Adam])
def test_load_config_takes_only_its_own_checked_settings(cls):
    opt = cls(learning_rate=0.05)
    saved = cls(learning_rate=0.002).get_config()
    opt.load_config(saved)
    assert opt.get_config() == saved and opt.learning_rate == 0.002  # through the property
    before = opt.get_config()
    with pytest.raises(CheckpointError, match="has the settings"):
        opt.load_config({**saved, "step": 1})  # would replace the method
    with pytest.raises(CheckpointError, match="has the settings"):
        opt.load_config({k: v for k, v in saved.items() if k != "learning_rate"})
    with pytest.raises(DeepRecipeError, match="learning_rate"):
        opt.load_config({**saved, "learning_rate": -1.0})
    assert opt.get_config() == before and callable(opt.step)


# ---------------------------------------------------------------- hostile arguments (API sweep)
_NOT_ARRAYS = [[1.0, 2.0, 3.0], "abc", 3.0, np.ones(3, complex), np.array(["a"] * 3)]


@pytest.mark.parametrize("opt", ALL, ids=IDS)
@pytest.mark.parametrize("bad", [None, [np.ones(3)], "W", 3])
def test_params_and_grads_must_be_dicts(opt, bad):
    opt = _fresh(opt)
    with pytest.raises(InvalidTypeError, match=r"params must be a dict of arrays .*, got"):
        opt.init(bad)
    opt.init({"W": np.ones(3)})
    with pytest.raises(InvalidTypeError, match=r"grads must be a dict of arrays .*, got"):
        opt.step({"W": np.ones(3)}, bad)
    with pytest.raises(InvalidTypeError, match=r"params must be a dict of arrays .*, got"):
        opt.step(bad, {"W": np.ones(3)})


@pytest.mark.parametrize("opt", ALL, ids=IDS)
@pytest.mark.parametrize("bad", _NOT_ARRAYS, ids=repr)
def test_a_gradient_must_be_a_real_array(opt, bad):
    opt = _fresh(opt)
    params = {"W": np.ones(3)}
    opt.init(params)
    with pytest.raises(InvalidTypeError, match=r"grads\['W'\] must be a real ndarray"):
        opt.step(params, {"W": bad})
    np.testing.assert_array_equal(params["W"], 1.0)


@pytest.mark.parametrize("opt", ALL, ids=IDS)
def test_read_only_params_are_refused_by_name(opt):
    opt = _fresh(opt)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(InvalidValueError, match=r"params\['W'\] is read-only"):
        opt.init({"W": frozen})
    opt.init({"W": np.ones(3)})
    with pytest.raises(InvalidValueError, match=r"params\['W'\] is read-only"):
        opt.step({"W": frozen}, {"W": np.ones(3)})


@pytest.mark.parametrize("opt", ALL, ids=IDS)
@pytest.mark.parametrize("bad", [None, [("t", 1)], "state"])
def test_load_state_dict_and_load_config_need_dicts(opt, bad):
    opt = _fresh(opt)
    opt.init({"W": np.ones(3)})
    with pytest.raises(CheckpointError, match=r"state must be a dict from state_dict\(\), got"):
        opt.load_state_dict(bad)
    with pytest.raises(CheckpointError, match=r"config must be a dict from get_config\(\), got"):
        opt.load_config(bad)
