"""Callbacks: EarlyStopping semantics and state, Checkpoint files, ProgressBar output."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_moons

import deeprecipe as dr
from deeprecipe.errors import DeepRecipeError
from deeprecipe.optimize import checkpoints
from deeprecipe.optimize.callbacks import Callback, Checkpoint, EarlyStopping, ProgressBar

L = dr.layers


class FakeTrainer:
    """What EarlyStopping touches: a network, the epoch, stop_training and event()."""

    def __init__(self) -> None:
        self.epoch = 0
        self.net = dr.Sequential([L.Dense(3), L.BatchNorm(), L.ReLU(), L.Dense(2), L.Softmax()],
                                 input_dim=2, random_state=0)
        self.stop_training = False
        self.events: list[str] = []

    def event(self, kind, message, **extra) -> None:
        self.events.append(kind)
        self.extra = extra


def feed(stopper: EarlyStopping, trainer: FakeTrainer, values) -> list[int]:
    """Epoch numbers at which stop_training was set."""
    stops = []
    for epoch, value in enumerate(values, start=1):
        trainer.net.params["0.W"][...] = epoch  # weights identify the epoch
        trainer.epoch = epoch
        stopper.on_epoch_end(trainer, {"epoch": epoch, "dev_cost": value})
        if trainer.stop_training:
            stops.append(epoch)
            break
    return stops


def test_patience_is_the_number_of_epochs_without_improvement_tolerated():
    # stops at the (patience + 1)-th consecutive epoch without improvement
    stopper, trainer = EarlyStopping(patience=2), FakeTrainer()
    assert feed(stopper, trainer, [1.0, 0.8, 0.9, 0.85, 0.81, 0.5]) == [5]
    assert stopper.best == 0.8 and stopper.best_epoch == 2 and stopper.stopped_epoch == 5
    assert trainer.events == ["early_stopping"]


def test_patience_zero_stops_at_first_non_improvement():
    stopper, trainer = EarlyStopping(patience=0), FakeTrainer()
    assert feed(stopper, trainer, [1.0, 0.9, 0.9]) == [3]


def test_min_delta_requires_a_large_enough_improvement():
    stopper, trainer = EarlyStopping(patience=1, min_delta=0.1), FakeTrainer()
    # 0.95 and 0.91 improve by less than 0.1 on 1.0: they do not count
    assert feed(stopper, trainer, [1.0, 0.95, 0.91, 0.5]) == [3]
    assert stopper.best == 1.0 and stopper.best_epoch == 1
    stopper, trainer = EarlyStopping(patience=1, min_delta=0.1), FakeTrainer()
    assert feed(stopper, trainer, [1.0, 0.85, 0.7, 0.55]) == []
    assert stopper.best_epoch == 4


def test_restores_best_weights_at_train_end():
    stopper, trainer = EarlyStopping(patience=1), FakeTrainer()
    feed(stopper, trainer, [1.0, 0.5, 0.7, 0.8])
    assert np.all(trainer.net.params["0.W"] == 4)
    stopper.on_train_end(trainer)
    assert np.all(trainer.net.params["0.W"] == 2)
    assert trainer.events[-1] == "restored_best"
    # marked at the restored epoch (#16), not at the one training stopped at
    assert trainer.extra == {"epoch": 2, "stopped_epoch": 4}


def test_restore_best_false_keeps_the_last_weights():
    stopper, trainer = EarlyStopping(patience=1, restore_best=False), FakeTrainer()
    feed(stopper, trainer, [1.0, 0.5, 0.7, 0.8])
    stopper.on_train_end(trainer)
    assert np.all(trainer.net.params["0.W"] == 4)


def test_state_dict_round_trip():
    stopper, trainer = EarlyStopping(patience=5), FakeTrainer()
    feed(stopper, trainer, [1.0, 0.4, 0.6])
    meta, arrays = stopper.state_dict()
    assert meta == {"best": 0.4, "best_epoch": 2, "wait": 1, "stopped_epoch": 0}
    assert set(arrays) == {f"param/{k}" for k in trainer.net.params} | {
        f"state/{k}" for k in trainer.net.state}
    other = EarlyStopping(patience=5)
    other.load_state_dict(meta, arrays)
    assert other.state_dict()[0] == meta
    for k, a in arrays.items():
        assert np.array_equal(other.best_arrays[k], a)
    # continues exactly where the first left off: wait 1 -> 6 > patience after 5 more epochs
    assert feed(other, FakeTrainer(), [0.6] * 10) == [5]


def test_monitor_of_an_unrecorded_key_is_a_clear_error():
    stopper, trainer = EarlyStopping(monitor="dev_error"), FakeTrainer()
    with pytest.raises(DeepRecipeError, match="dev_error.*validation_data"):
        stopper.on_epoch_end(trainer, {"epoch": 1, "cost": 0.3})


@pytest.mark.parametrize("kwargs, match", [({"monitor": "accuracy"}, "monitor"),
                                           ({"patience": -1}, "patience"),
                                           ({"min_delta": -0.1}, "min_delta")])
def test_bad_early_stopping_arguments(kwargs, match):
    with pytest.raises(DeepRecipeError, match=match):
        EarlyStopping(**kwargs)


@pytest.mark.parametrize("kwargs, match", [({"every": 0}, "every"), ({"keep": 0}, "keep")])
def test_bad_checkpoint_arguments(tmp_path, kwargs, match):
    with pytest.raises(DeepRecipeError, match=match):
        Checkpoint(tmp_path, **kwargs)


def _data():
    X, y = make_moons(n_samples=120, noise=0.2, random_state=0)
    return X[:100].astype(np.float32), y[:100], X[100:].astype(np.float32), y[100:]


def test_checkpoint_every_n_epochs_writes_those_epochs_and_best(tmp_path):
    X, y, X_dev, y_dev = _data()
    net = dr.Sequential([L.Dense(8), L.ReLU(), L.Dense(2), L.Softmax()], input_dim=2,
                        random_state=0)
    h = dr.train(net, X, y, optimizer=dr.optimizers.Adam(0.01), batch_size=25, epochs=7,
                 validation_data=(X_dev, y_dev), callbacks=[Checkpoint(tmp_path, every=3)],
                 random_state=0)
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == [
        "epoch-0003.json", "epoch-0006.json", "epoch-0007.json"]  # and the last epoch
    assert (tmp_path / "best.npz").exists()
    # best.npz holds the weights of the epoch with the lowest dev cost
    best = dr.Sequential([L.Dense(8), L.ReLU(), L.Dense(2), L.Softmax()], input_dim=2,
                         random_state=1)
    checkpoints.load_weights(tmp_path / "best.npz", best)
    dev_cost = best.cost(X_dev, y_dev, loss="categorical_crossentropy").data
    assert dev_cost == pytest.approx(min(h["dev_cost"]), rel=1e-6)


def test_checkpoint_keep_prunes_old_ones(tmp_path):
    X, y, _, _ = _data()
    net = dr.Sequential([L.Dense(4), L.ReLU(), L.Dense(2), L.Softmax()], input_dim=2,
                        random_state=0)
    on_disk = []

    class Count(Callback):  # what a crash at each epoch's end would leave behind
        def on_epoch_end(self, trainer, record):
            on_disk.append(len(checkpoints.list_checkpoints(tmp_path)))

    dr.train(net, X, y, batch_size=50, epochs=5,
             callbacks=[Count(), Checkpoint(tmp_path, keep=2)], random_state=0)
    assert [p.name for p in checkpoints.list_checkpoints(tmp_path)] == [
        "epoch-0004.json", "epoch-0005.json"]
    assert on_disk == [0, 1, 2, 2, 2]  # pruned as training goes, never below one
    assert not (tmp_path / "best.npz").exists()  # no dev_cost recorded


def test_progress_without_a_tty_is_one_plain_line_per_epoch(capsys):
    """#16: without a terminal, labelled costs still reach stderr as plain lines."""
    X, y, X_dev, y_dev = _data()
    net = dr.Sequential([L.Dense(4), L.ReLU(), L.Dense(2), L.Softmax()], input_dim=2,
                        random_state=0)
    h = dr.train(net, X, y, batch_size=50, epochs=2, callbacks=[ProgressBar()], random_state=0,
                 validation_data=(X_dev, y_dev), verbose=True)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 2 and len(h) == 2
    assert lines[1] == (f"epoch 2/2  train cost {h.last['cost']:.4f}  dev cost "
                        f"{h.last['dev_cost']:.4f}")
    assert "\x1b" not in err


def test_early_stopping_announces_itself(capsys):
    X, y, X_dev, y_dev = _data()
    net = dr.Sequential([L.Dense(16), L.ReLU(), L.Dense(2), L.Softmax()], input_dim=2,
                        random_state=0)
    h = dr.train(net, X, y, batch_size=8, epochs=400, random_state=0, verbose=True,
                 optimizer=dr.optimizers.Adam(learning_rate=0.1),
                 validation_data=(X_dev, y_dev), callbacks=[EarlyStopping(patience=2)])
    err = capsys.readouterr().err
    assert len(h) < 400
    assert "early stopping: no improvement of dev_cost for 3 epochs" in err
    assert f"restored best: restored the weights of epoch {h.final['epoch']}" in err


def test_progress_bar_renders_when_forced():
    X, y, X_dev, y_dev = _data()
    net = dr.Sequential([L.Dense(4), L.ReLU(), L.Dense(2), L.Softmax()], input_dim=2,
                        random_state=0)
    bar = ProgressBar(force=True)
    h = dr.train(net, X, y, batch_size=50, epochs=3, validation_data=(X_dev, y_dev),
                 callbacks=[bar], random_state=0)
    assert len(h) == 3 and bar._progress is None  # started, updated and stopped cleanly


@pytest.mark.parametrize("directory", [None, 3, ""])
def test_checkpoint_directory_must_be_a_path(directory):
    with pytest.raises(DeepRecipeError, match=r"directory must (be a path|not be empty)"):
        Checkpoint(directory)


@pytest.mark.parametrize("make", [lambda v: EarlyStopping(restore_best=v),
                                  lambda v: ProgressBar(force=v)])
@pytest.mark.parametrize("value", ["no", None, 1])
def test_callback_flags_must_be_bools(make, value):
    with pytest.raises(DeepRecipeError, match=r"(restore_best|force) must be True or False"):
        make(value)


@pytest.mark.parametrize("monitor", ["bogus", "dev_acc", 3])
def test_checkpoint_monitor_is_one_of_the_recorded_metrics(tmp_path, monitor):
    with pytest.raises(DeepRecipeError, match=r"monitor must be one of None, 'dev_cost'"):
        Checkpoint(tmp_path, monitor=monitor)
