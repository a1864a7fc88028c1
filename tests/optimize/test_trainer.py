"""The training loop: mini-batches, history, schedules, optimizers, early stopping, divergence."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import tracemalloc

import numpy as np
import pytest
from sklearn.datasets import make_moons

import deeprecipe as dr
from deeprecipe.errors import CheckpointError, DeepRecipeError, DivergenceError
from deeprecipe.optimize import checkpoints
from deeprecipe.optimize.averages import ewa
from deeprecipe.optimize.batches import minibatches, resolve_batch_size
from deeprecipe.optimize.callbacks import Callback, EarlyStopping
from deeprecipe.optimize.trainer import Trainer

L = dr.layers


def moons(n: int = 500, noise: float = 0.2, random_state: int = 0):
    X, y = make_moons(n_samples=n, noise=noise, random_state=random_state)
    return X.astype(np.float32), y


def mlp(width: int = 16, depth: int = 2, seed: int = 0, input_dim: int = 2, dtype=np.float32,
        n_out: int = 2) -> dr.Sequential:
    layers = []
    for _ in range(depth):
        layers += [L.Dense(width), L.ReLU()]
    return dr.Sequential([*layers, L.Dense(n_out), L.Softmax()], input_dim=input_dim,
                         dtype=dtype, random_state=seed)


class Recorder(Callback):
    """Keeps a copy of the permutation and learning rate seen at every step."""

    def __init__(self) -> None:
        self.perms: dict[int, np.ndarray | None] = {}
        self.rates: list[float] = []

    def on_step_end(self, trainer, step, cost) -> None:
        epoch = trainer.epoch + 1
        if epoch not in self.perms:
            self.perms[epoch] = None if trainer.perm is None else trainer.perm.copy()
        self.rates.append(trainer.optimizer.learning_rate)


# -- mini-batches ------------------------------------------------------------------------------

@pytest.mark.parametrize("m, batch_size", [(10, 3), (10, 5), (10, 10), (7, 1), (1000, 64)])
def test_minibatches_partition_a_permutation_with_last_partial_batch_kept(m, batch_size):
    batches = list(minibatches(m, batch_size, np.random.default_rng(0)))
    assert len(batches) == math.ceil(m / batch_size)
    assert all(len(b) == batch_size for b in batches[:-1])
    assert len(batches[-1]) == m - batch_size * (len(batches) - 1)  # the partial batch is kept
    rows = np.concatenate(batches)
    assert np.array_equal(np.sort(rows), np.arange(m))  # every row exactly once


def test_minibatches_are_seeded_and_reshuffled_each_call():
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    first_a = np.concatenate(list(minibatches(100, 16, rng_a)))
    first_b = np.concatenate(list(minibatches(100, 16, rng_b)))
    assert np.array_equal(first_a, first_b)
    second_a = np.concatenate(list(minibatches(100, 16, rng_a)))
    assert not np.array_equal(first_a, second_a)
    assert np.array_equal(np.concatenate(list(minibatches(5, 2, None))), np.arange(5))


def test_training_draws_a_new_seeded_permutation_every_epoch():
    X, y = moons(100)

    def perms(seed):
        rec = Recorder()
        dr.train(mlp(), X, y, batch_size=30, epochs=3, random_state=seed, callbacks=[rec])
        return rec.perms

    a, b, c = perms(1), perms(1), perms(2)
    assert sorted(a) == [1, 2, 3]
    for epoch, perm in a.items():
        assert np.array_equal(np.sort(perm), np.arange(100))
        assert np.array_equal(perm, b[epoch])
    assert not np.array_equal(a[1], a[2])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("batch_size, steps_per_epoch", [(None, 1), (1, 40), (16, 3), (40, 1)])
def test_steps_per_epoch(batch_size, steps_per_epoch):
    X, y = moons(40)
    h = dr.train(mlp(width=4, depth=1), X, y, optimizer=dr.optimizers.GradientDescent(0.01),
                 batch_size=batch_size, epochs=2, random_state=0)
    assert len(h.steps["cost"]) == 2 * steps_per_epoch
    assert h.steps["step"].tolist() == list(range(1, steps_per_epoch + 1)) * 2
    assert h.steps["epoch"].tolist() == [1] * steps_per_epoch + [2] * steps_per_epoch


def test_full_batch_first_step_cost_is_the_cost_on_all_data():
    X, y = moons(60)
    net = mlp(width=4, depth=1)
    J0 = net.cost(X, y, loss="categorical_crossentropy", training=True).total
    h = dr.train(net, X, y, optimizer=dr.optimizers.GradientDescent(0.01), batch_size=None,
                 epochs=1, random_state=0)
    assert h.steps["cost"][0] == pytest.approx(J0, rel=1e-6)
    assert h["cost"][0] == pytest.approx(J0, rel=1e-6)


@pytest.mark.parametrize("m", [1, 500, 2000])
def test_auto_batch_size_is_full_batch_up_to_2000(m):
    assert resolve_batch_size("auto", m, 784) == m
    assert resolve_batch_size(None, m) == m


@pytest.mark.parametrize("m, n_features", [(2001, 2), (60000, 784), (10**6, 3072),
                                           (50000, 100_000), (10**5, 10**7)])
def test_auto_batch_size_is_a_power_of_two_in_64_to_512_above_2000(m, n_features):
    size = resolve_batch_size("auto", m, n_features)
    assert 64 <= size <= 512
    assert size & (size - 1) == 0


def test_auto_batch_size_used_by_trainer():
    X, y = moons(2500)
    trainer = Trainer(mlp(width=4, depth=1), X, y, loss="categorical_crossentropy",
                      batch_size="auto", random_state=0)
    assert trainer.batch_size == 512
    small = Trainer(mlp(width=4, depth=1), X[:300], y[:300], loss="categorical_crossentropy",
                    random_state=0)
    assert small.batch_size == 300


def test_an_epoch_does_not_copy_the_training_set():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 100), dtype=np.float32)
    y = rng.integers(0, 2, 20000)
    trainer = Trainer(mlp(width=8, depth=1, input_dim=100), X, y,
                      loss="categorical_crossentropy", batch_size=256, random_state=0)
    assert trainer.X is X  # already float32, C-contiguous, finite: used as is
    tracemalloc.start()
    try:
        trainer.fit(1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert trainer.epoch == 1
    assert peak < X.nbytes / 8  # the permutation, one batch, activations; never a copy of X


# -- history -------------------------------------------------------------------------------------

def test_history_has_every_column_per_epoch():
    X, y = moons(200)
    h = dr.train(mlp(), X[:150], y[:150], optimizer=dr.optimizers.Adam(0.01), l2=0.5,
                 batch_size=50, epochs=3, validation_data=(X[150:], y[150:]), random_state=0)
    assert len(h) == 3 and h["epoch"] == [1, 2, 3]
    for row in h.epochs:
        assert set(row) >= {"epoch", "cost", "data_cost", "train_cost", "train_error",
                            "dev_cost", "dev_error", "learning_rate", "time"}
        assert row["data_cost"] < row["cost"]  # the L2 penalty is in cost only
        assert 0.0 <= row["train_error"] <= 1.0 and 0.0 <= row["dev_error"] <= 1.0
        assert row["time"] >= 0.0
        assert all(math.isfinite(v) for v in row.values())


def test_without_penalty_cost_equals_data_cost_and_no_dev_columns():
    X, y = moons(100)
    h = dr.train(mlp(), X, y, batch_size=25, epochs=2, random_state=0)
    assert h["cost"] == h["data_cost"]
    assert "dev_cost" not in h.last and h["dev_cost"] == [None, None]


def test_per_step_costs_and_bias_corrected_ewa():
    X, y = moons(100)
    h = dr.train(mlp(), X, y, batch_size=16, epochs=3, random_state=0)
    n_steps = 3 * math.ceil(100 / 16)
    assert len(h.steps["cost"]) == len(h.steps["cost_ewa"]) == n_steps
    np.testing.assert_allclose(h.steps["cost_ewa"], ewa(h.steps["cost"], beta=0.98),
                               rtol=1e-12)
    assert h.steps["cost_ewa"][0] == pytest.approx(h.steps["cost"][0])  # corrected, not 0.02x
    # the epoch cost is the size-weighted mean of its mini-batch costs
    sizes = np.array([16] * 6 + [4])
    first = np.array(h.steps["cost"][:7])
    assert h["cost"][0] == pytest.approx(float(first @ sizes) / 100, rel=1e-12)


def test_schedule_is_applied_once_per_epoch():
    X, y = moons(100)
    schedule = dr.schedules.InverseTimeDecay(0.2, 1.0)
    rec = Recorder()
    h = dr.train(mlp(), X, y, optimizer=dr.optimizers.GradientDescent(0.5), schedule=schedule,
                 batch_size=20, epochs=4, random_state=0, callbacks=[rec])
    expected = [schedule(e) for e in (1, 2, 3, 4)]
    assert h["learning_rate"] == expected
    assert [round(r, 3) for r in h["learning_rate"]] == [0.1, 0.067, 0.05, 0.04]  # the notes
    assert rec.rates == [r for r in expected for _ in range(5)]  # constant within an epoch


# -- optimization -----------------------------------------------------------------------------

def test_full_batch_gradient_descent_with_small_rate_decreases_cost_monotonically():
    X, y = moons()
    h = dr.train(mlp(), X, y, optimizer=dr.optimizers.GradientDescent(0.1), batch_size=None,
                 epochs=60, random_state=0)
    cost = np.array(h["cost"])
    assert np.all(np.diff(cost) < 0)  # the notes' debugging rule: J falls on every iteration
    assert cost[-1] < 0.8 * cost[0]


def test_momentum_rmsprop_adam_beat_plain_gradient_descent_on_moons():
    X, y = moons()

    def final_cost(opt):
        return dr.train(mlp(), X, y, optimizer=opt, batch_size=64, epochs=20,
                        random_state=0)["train_cost"][-1]

    opts = dr.optimizers
    gd = min(final_cost(opts.GradientDescent(lr)) for lr in (0.1, 0.3))  # GD's better rate
    assert final_cost(opts.Momentum(1.0, beta=0.9)) < gd
    assert final_cost(opts.RMSprop(0.01)) < gd
    assert final_cost(opts.Adam(0.01)) < gd


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_momentum_damps_the_oscillations_of_a_large_learning_rate():
    X, y = moons()

    def final_cost(opt):
        return dr.train(mlp(), X, y, optimizer=opt, batch_size=64, epochs=20,
                        random_state=0)["train_cost"][-1]

    assert final_cost(dr.optimizers.Momentum(1.0)) < final_cost(
        dr.optimizers.GradientDescent(1.0))


# -- reproducibility and dtype ----------------------------------------------------------------

def _run(seed: int, dtype=np.float32):
    X, y = moons(120)
    net = dr.Sequential([L.Dense(8), L.BatchNorm(), L.ReLU(), L.Dropout(keep_prob=0.8),
                         L.Dense(2), L.Softmax()], input_dim=2, dtype=dtype,
                        random_state=seed)
    h = dr.train(net, X[:100], y[:100], optimizer=dr.optimizers.Adam(0.01), batch_size=32,
                 epochs=3, validation_data=(X[100:], y[100:]), random_state=seed)
    return net, h


def _strip_time(h: dr.History) -> dict:
    d = h.to_dict()
    return {**d, "epochs": [{k: v for k, v in r.items() if k != "time"} for r in d["epochs"]]}


def test_same_seed_gives_identical_history_and_weights():
    (net_a, h_a), (net_b, h_b) = _run(3), _run(3)
    assert _strip_time(h_a) == _strip_time(h_b)
    for k in net_a.params:
        assert np.array_equal(net_a.params[k], net_b.params[k]), k
    for k in net_a.state:
        assert np.array_equal(net_a.state[k], net_b.state[k]), k


def test_different_seed_gives_different_results():
    (net_a, h_a), (net_b, h_b) = _run(3), _run(4)
    assert not np.array_equal(h_a.steps["cost"], h_b.steps["cost"])
    assert not np.array_equal(net_a.params["0.W"], net_b.params["0.W"])


@pytest.mark.parametrize("opt", [dr.optimizers.GradientDescent(0.1), dr.optimizers.Momentum(0.1),
                                 dr.optimizers.RMSprop(0.01), dr.optimizers.Adam(0.01)],
                         ids=lambda o: type(o).__name__)
def test_float32_stays_float32_after_training(opt):
    net, _ = _run(0)
    X, y = moons(50)
    dr.train(net, X, y, optimizer=opt, l2=0.1, batch_size=16, epochs=2, random_state=0)
    for arrays in (net.params, net.grads, net.state):
        for k, a in arrays.items():
            assert a.dtype == np.float32, k
    for k, a in opt.state_dict().items():
        if k != "t":
            assert a.dtype == np.float32, k
    assert net.predict_proba(X).dtype == np.float32


def test_float64_network_stays_float64():
    net, _ = _run(0, dtype=np.float64)
    assert all(p.dtype == np.float64 for p in net.params.values())


# -- early stopping ---------------------------------------------------------------------------

def _overfit(epochs: int, callbacks=()):
    # 24 noisy training points, a wide network, no regularization, a dev set of the same kind
    X, y = moons(224, noise=0.35, random_state=5)
    net = mlp(width=128, depth=2, seed=0)
    h = dr.train(net, X[:24], y[:24], optimizer=dr.optimizers.Adam(0.01), batch_size=None,
                 epochs=epochs, validation_data=(X[24:], y[24:]), callbacks=callbacks,
                 random_state=0)
    return net, h, (X[24:], y[24:])


def test_early_stopping_stops_early_and_restores_the_best_dev_epoch():
    stopper = EarlyStopping(patience=15)
    net, h, (X_dev, y_dev) = _overfit(400, [stopper])
    best = int(np.argmin(h["dev_cost"])) + 1
    assert len(h) < 400  # stopped before the last epoch
    assert stopper.best_epoch == best and len(h) == best + 16
    assert h["train_cost"][-1] < h["train_cost"][best - 1]  # it kept fitting the training set
    dev_cost = net.cost(X_dev, y_dev, loss="categorical_crossentropy").data
    assert dev_cost == pytest.approx(min(h["dev_cost"]), rel=1e-6)
    assert [e["kind"] for e in h.events] == ["early_stopping", "restored_best"]
    rerun, _, _ = _overfit(best)  # the same run, stopped by hand at the best epoch
    for k in net.params:
        assert np.array_equal(net.params[k], rerun.params[k]), k


def test_early_stopping_without_dev_data_is_a_clear_error():
    X, y = moons(50)
    with pytest.raises(DeepRecipeError, match="validation_data"):
        dr.train(mlp(), X, y, epochs=2, callbacks=[EarlyStopping()], random_state=0)


# -- divergence -------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_huge_learning_rate_raises_divergence_error_and_keeps_last_good_checkpoint(tmp_path):
    X, y = moons()
    with pytest.raises(DivergenceError, match="smaller learning_rate") as info:
        dr.train(mlp(), X * 1000, y, optimizer=dr.optimizers.GradientDescent(1e6),
                 batch_size=None, epochs=20, random_state=0, checkpoint_dir=tmp_path)
    assert isinstance(info.value, FloatingPointError)
    assert "learning_rate=1e+06" in str(info.value)
    kept = checkpoints.latest_checkpoint(tmp_path)
    assert kept is not None and kept.name in str(info.value)
    meta, arrays = checkpoints.load_checkpoint(kept)
    assert all(np.isfinite(a).all() for k, a in arrays.items() if k.startswith("param/"))
    assert all(math.isfinite(r["cost"]) for r in meta["history"]["epochs"])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_cost_in_regression_raises_divergence_error():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)).astype(np.float32) * 100
    y = X @ rng.standard_normal(5).astype(np.float32)
    net = dr.Sequential([L.Dense(1, init="xavier")], input_dim=5, random_state=0)
    with pytest.raises(DivergenceError, match="smaller learning_rate such as 1"):
        dr.train(net, X, y, loss="mean_squared_error",
                 optimizer=dr.optimizers.GradientDescent(10.0), batch_size=20, epochs=50,
                 random_state=0)


# -- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: dr.optimizers.GradientDescent(0.0),
    lambda: dr.optimizers.Adam(learning_rate=-1e-3),
    lambda: dr.optimizers.Momentum(0.1, beta=1.0),
    lambda: dr.optimizers.Momentum(0.1, beta=-0.1),
    lambda: dr.optimizers.Adam(beta1=1.0),
    lambda: dr.optimizers.Adam(beta2=1.5),
    lambda: dr.optimizers.RMSprop(beta2=1.0),
], ids=["lr0", "lr-neg", "beta1", "beta-neg", "beta1-adam", "beta2-adam", "beta2-rms"])
def test_bad_optimizer_hyperparameters_are_clear_errors(make):
    with pytest.raises(DeepRecipeError, match=r"must be .*got"):
        make()


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 101}, "batch_size"),
    ({"batch_size": "big"}, "batch_size"),
    ({"epochs": 0}, "epochs"),
    ({"l2": -1.0}, "l2"),
    ({"schedule": lambda epoch_num: 0.1 - 0.1 * (epoch_num - 1)}, "learning_rate"),
    ({"schedule": lambda epoch_num: float("nan")}, "learning_rate"),
    ({"schedule": 0.1}, "schedule"),
])
def test_bad_training_arguments_are_clear_errors(kwargs, match):
    X, y = moons(100)
    args = {"batch_size": 20, "epochs": 3, **kwargs}
    with pytest.raises(DeepRecipeError, match=match):
        dr.train(mlp(), X, y, optimizer=dr.optimizers.GradientDescent(0.1), random_state=0,
                 **args)


def test_schedule_underflow_to_zero_is_a_clear_error():
    X, y = moons(100)
    with pytest.raises(DeepRecipeError, match="learning rate"):
        dr.train(mlp(), X, y, schedule=dr.schedules.ExponentialDecay(1e-300, base=1e-10),
                 batch_size=50, epochs=3, random_state=0)


def _checkpointed(tmp_path, epochs: int = 2):
    X, y = moons(100)
    dr.train(mlp(), X, y, batch_size=50, epochs=epochs, random_state=0,
             checkpoint_dir=tmp_path)
    return X, y


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_corrupt_checkpoint_file_is_a_checkpoint_error(tmp_path, suffix):
    X, y = _checkpointed(tmp_path)
    (tmp_path / f"epoch-0002{suffix}").write_bytes(b"\x89garbage\x00\xff" * 50)
    with pytest.raises(CheckpointError, match="epoch-0002"):
        dr.train(mlp(), X, y, batch_size=50, epochs=3, random_state=0,
                 checkpoint_dir=tmp_path, resume=True)


@pytest.mark.parametrize("meta", [[1, 2], {"format": "deeprecipe-checkpoint/1"},
                                  {"format": "something else"}])
def test_checkpoint_json_with_wrong_content_is_a_checkpoint_error(tmp_path, meta):
    X, y = _checkpointed(tmp_path)
    (tmp_path / "epoch-0002.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CheckpointError):
        dr.train(mlp(), X, y, batch_size=50, epochs=3, random_state=0,
                 checkpoint_dir=tmp_path, resume=True)


@pytest.mark.parametrize("other", [
    lambda: mlp(width=17),
    lambda: mlp(depth=3),
    lambda: mlp(width=16, input_dim=3),
], ids=["width", "depth", "input_dim"])
def test_checkpoint_of_a_different_network_is_a_checkpoint_error(tmp_path, other):
    X, y = _checkpointed(tmp_path)
    net = other()
    if net.input_dim == 3:
        X = np.hstack([X, X[:, :1]])
    with pytest.raises(CheckpointError, match="different network"):
        dr.train(net, X, y, batch_size=50, epochs=3, random_state=0, checkpoint_dir=tmp_path,
                 resume=True)


def test_checkpoint_with_other_data_or_batch_size_is_a_checkpoint_error(tmp_path):
    X, y = _checkpointed(tmp_path)
    with pytest.raises(CheckpointError, match="batch_size"):
        dr.train(mlp(), X, y, batch_size=25, epochs=3, random_state=0,
                 checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="m="):
        dr.train(mlp(), X[:90], y[:90], batch_size=50, epochs=3, random_state=0,
                 checkpoint_dir=tmp_path, resume=True)


def test_resume_without_checkpoints_starts_fresh(tmp_path):
    X, y = moons(100)
    h = dr.train(mlp(), X, y, batch_size=50, epochs=2, random_state=0,
                 checkpoint_dir=tmp_path, resume=True)
    assert h["epoch"] == [1, 2]


# -- Ctrl-C in process ------------------------------------------------------------------------

class _CtrlC(Callback):
    """Sends SIGINT to this process at (epoch_num, step); step 0 = at the start of the epoch."""

    def __init__(self, epoch_num: int, step: int) -> None:
        self.at = (epoch_num, step)

    def on_epoch_begin(self, trainer, epoch_num) -> None:
        if self.at == (epoch_num, 0):
            os.kill(os.getpid(), signal.SIGINT)

    def on_step_end(self, trainer, step, cost) -> None:
        if self.at == (trainer.epoch + 1, step):
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("step", [0, 3])
def test_ctrl_c_checkpoints_and_resume_continues_bit_for_bit(tmp_path, step):
    X, y = moons(150)

    def run(directory, callbacks=(), resume=False):
        net = dr.Sequential([L.Dense(8), L.BatchNorm(), L.ReLU(), L.Dropout(keep_prob=0.8),
                             L.Dense(2), L.Softmax()], input_dim=2, random_state=1)
        h = dr.train(net, X, y, optimizer=dr.optimizers.Adam(0.01), batch_size=20, epochs=4,
                     schedule=dr.schedules.InverseTimeDecay(0.01, 0.5), random_state=2,
                     checkpoint_dir=directory, callbacks=callbacks, resume=resume)
        return net, h

    ref_net, ref_h = run(tmp_path / "ref", [Callback()])
    with pytest.raises(KeyboardInterrupt, match="resume"):
        run(tmp_path / "cut", [_CtrlC(3, step)])
    latest = checkpoints.latest_checkpoint(tmp_path / "cut")
    assert latest.name == ("epoch-0002.json" if step == 0 else f"epoch-0002-step-{step:06d}.json")
    net, h = run(tmp_path / "cut", [Callback()], resume=True)
    for k in ref_net.params:
        assert np.array_equal(net.params[k], ref_net.params[k]), k
    for k in ref_net.state:
        assert np.array_equal(net.state[k], ref_net.state[k]), k
    assert _strip_time(h) == _strip_time(ref_h)


def test_ctrl_c_without_checkpoint_dir_says_nothing_was_saved():
    X, y = moons(100)
    with pytest.raises(KeyboardInterrupt, match="nothing saved"):
        dr.train(mlp(), X, y, batch_size=20, epochs=3, random_state=0,
                 callbacks=[_CtrlC(1, 2)])


def test_augmenter_sees_training_batches_only_and_is_seeded():
    """Augmentation happens per mini-batch, on the fly, never on dev data."""
    digits = dr.data.load_dataset("digits", n_samples=300)
    X, y = digits.X / 16.0, digits.y
    X_dev, y_dev = X[:60], y[:60]
    seen = []

    class Recording(dr.data.Augmenter):
        def __call__(self, X_batch, rng=None):
            seen.append(X_batch.shape[0])
            return super().__call__(X_batch, rng)

    def run():
        net = dr.Sequential([dr.layers.Dense(16), dr.layers.ReLU(), dr.layers.Dense(10),
                             dr.layers.Softmax()], random_state=0)
        history = dr.train(net, X[60:], y[60:], batch_size=64, epochs=2,
                           validation_data=(X_dev, y_dev), random_state=3,
                           augmenter=Recording((8, 8), flip=False, crop=1, noise=0.1))
        return net, history

    net, history = run()
    assert seen == [64, 64, 64, 48] * 2  # every training step, never the 60 dev rows
    dev_cost = net.cost(X_dev, y_dev, loss="categorical_crossentropy").data
    assert history.last["dev_cost"] == pytest.approx(dev_cost, rel=1e-5)  # dev unaugmented
    again, history_again = run()
    assert history_again["cost"] == history["cost"]  # the augmentation stream is seeded


def test_divergence_is_one_clear_error_without_numpy_warnings():
    import warnings

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(200, 2)) * 100, rng.integers(0, 2, 200)
    net = dr.Sequential([dr.layers.Dense(8), dr.layers.ReLU(), dr.layers.Dense(1),
                         dr.layers.Sigmoid()], random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(dr.DivergenceError, match="try a smaller learning_rate"):
            dr.train(net, X, y, loss="binary_crossentropy", batch_size=None, epochs=50,
                     optimizer=dr.optimizers.GradientDescent(1e6), random_state=0)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("bad", [None, 3, ""])
def test_checkpoint_dir_and_resume_path_must_be_paths(bad):
    X, y = moons(40)
    with pytest.raises(DeepRecipeError, match=r"checkpoint_dir must (be a path|not be empty)"):
        Trainer(mlp(), X, y, loss="categorical_crossentropy",
                checkpoint_dir=bad if bad is not None else 3)
    trainer = Trainer(mlp(), X, y, loss="categorical_crossentropy")
    if bad is not None:  # None: the latest checkpoint of checkpoint_dir
        with pytest.raises(DeepRecipeError, match=r"path must (be a path|not be empty)"):
            trainer.resume(bad)


@pytest.mark.parametrize("callbacks, got", [
    (None, "None"), (EarlyStopping(), "EarlyStopping"), (["x"], "'x'"),
    ([EarlyStopping], "EarlyStopping"), (3, "3")])
def test_callbacks_must_be_a_list_of_callback_objects(callbacks, got):
    X, y = moons(40)
    with pytest.raises(DeepRecipeError, match=rf"callbacks must be a list of Callback objects.*"
                                              rf"got .*{got}"):
        Trainer(mlp(), X, y, loss="categorical_crossentropy", callbacks=callbacks)


@pytest.mark.parametrize("augmenter, message", [
    ("flip", r"augmenter must be callable"),
    (lambda X, rng: None, r"augmenter must return an array of the batch's shape \(40, 2\), "
                          r"got None"),
    (lambda X, rng: X[:3], r"augmenter must return .* \(40, 2\), got an array of shape \(3, 2\)"),
    (lambda X, rng: X.ravel(), r"augmenter must return .* got an array of shape \(80,\)"),
    (lambda X, rng: X.astype(str), r"augmenter must return .* got an array of shape \(40, 2\) "
                                    r"and dtype <U"),
    (lambda X, rng: X * np.nan, r"augmenter returned NaN or inf values"),
])
def test_augmenter_must_be_callable_and_keep_the_batch_shape(augmenter, message):
    X, y = moons(40)
    with pytest.raises(DeepRecipeError, match=message):
        dr.train(mlp(), X, y, loss="categorical_crossentropy", augmenter=augmenter, epochs=1)


@pytest.mark.parametrize("eval_samples, error", [
    (0, r"eval_samples must be >= 1, got 0"), (-1, r"eval_samples must be >= 1, got -1"),
    ("x", r"eval_samples must be an integer, got 'x'"), (True, "eval_samples must be an integer")])
def test_eval_samples_is_a_positive_count_or_none(eval_samples, error):
    X, y = moons(40)
    with pytest.raises(DeepRecipeError, match=error):
        Trainer(mlp(), X, y, loss="categorical_crossentropy", eval_samples=eval_samples)


@pytest.mark.parametrize("rate", ["x", None, [0.1], complex(1, 1)])
def test_a_schedule_that_gives_no_number_is_named(rate):
    X, y = moons(40)
    with pytest.raises(DeepRecipeError, match=rf"the schedule gave learning_rate="
                                              rf"{re.escape(repr(rate))} at epoch 1"):
        dr.train(mlp(), X, y, loss="categorical_crossentropy", schedule=lambda e: rate,
                 epochs=1)


def test_a_mini_batch_too_large_for_memory_is_refused_before_training(monkeypatch):
    X, y = moons(40)
    net = mlp()  # widths 16, 16, 16, 16, 2, 2: 2 x 40 x 68 float32 = 21,760 bytes a batch
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", "20000")
    with pytest.raises(DeepRecipeError, match=r"a 40-row mini-batch .* would need .*, or a "
                                              r"smaller batch_size"):
        Trainer(net, X, y, loss="categorical_crossentropy", batch_size=None)
    Trainer(net, X, y, loss="categorical_crossentropy", batch_size=8).fit(1)
