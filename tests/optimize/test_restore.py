"""A checkpoint is checked field by field before a Trainer takes it (optimize/_restore.py).

Every corrupt field of a real checkpoint is one CheckpointError whose line names the file, the
field and what was expected -- never a raw KeyError, TypeError or ValueError, and never a value
taken silently that breaks training epochs later (a string β, keep_prob 1.5, NaN weights).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_moons

import deeprecipe as dr
from deeprecipe.errors import CheckpointError, DeepRecipeError
from deeprecipe.optimize import checkpoints
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.optimize.trainer import Trainer

RAW = ("KeyError", "TypeError", "ValueError", "AttributeError", "IndexError", "Traceback",
       "incomplete or corrupt (")


def _data():
    X, y = make_moons(n_samples=160, noise=0.2, random_state=0)
    return X.astype(np.float32), y


def _trainer(directory: Path, callbacks=()) -> Trainer:
    """BatchNorm, Dropout, Adam, a schedule, L2, early stopping (which keeps best weights)."""
    L = dr.layers
    net = dr.Sequential([L.Dense(6), L.BatchNorm(), L.ReLU(), L.Dropout(0.9), L.Dense(2),
                         L.Softmax()], input_dim=2, random_state=0)
    X, y = _data()
    return Trainer(net, X[:120], y[:120], loss="categorical_crossentropy",
                   optimizer=dr.optimizers.Adam(0.01), batch_size=40, l2=0.1,
                   schedule=dr.schedules.InverseTimeDecay(0.01, 0.5),
                   validation_data=(X[120:], y[120:]),
                   callbacks=[dr.callbacks.EarlyStopping(patience=50), *callbacks],
                   random_state=0, checkpoint_dir=directory)


class _CtrlC(Callback):
    """A Ctrl-C after step 2 of epoch 2: the trainer writes a mid-epoch checkpoint."""

    def on_step_end(self, trainer, step, cost) -> None:
        if trainer.epoch == 1 and step == 2:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """{"epoch": a folder with an end-of-epoch-2 checkpoint, "mid": one written mid-epoch}."""
    epoch, mid = tmp_path_factory.mktemp("epoch"), tmp_path_factory.mktemp("mid")
    _trainer(epoch).fit(2)
    with pytest.raises(KeyboardInterrupt):
        _trainer(mid, callbacks=[_CtrlC()]).fit(3)
    assert checkpoints.latest_checkpoint(mid).name == "epoch-0001-step-000002.json"
    return {"epoch": epoch, "mid": mid}


def _copy(source: Path, target: Path) -> Path:
    """Copy the latest checkpoint of ``source`` into ``target``; its .json path there."""
    path = checkpoints.latest_checkpoint(source)
    target.mkdir(parents=True, exist_ok=True)
    for suffix in (".json", ".npz"):
        shutil.copyfile(path.with_suffix(suffix), target / path.with_suffix(suffix).name)
    return target / path.name


def _edit(path: Path, meta_edit=None, arrays_edit=None) -> None:
    if meta_edit is not None:
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta_edit(meta)
        path.write_text(json.dumps(meta), encoding="utf-8")
    if arrays_edit is not None:
        with np.load(path.with_suffix(".npz")) as f:
            arrays = {k: f[k] for k in f.files}
        arrays_edit(arrays)
        np.savez(path.with_suffix(".npz"), **arrays)


def _resume_and_train(path: Path) -> Trainer:
    trainer = _trainer(path.parent)
    trainer.resume(path)
    trainer.fit(4)
    json.dumps(trainer.state_dict()[0])
    trainer.history.to_jsonl()
    return trainer


def _assert_one_named_line(exc: Exception, path: Path, *names: str) -> str:
    message = str(exc)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for name in names:
        assert name in message, (name, message)
    for raw in RAW:
        assert raw not in message, message
    return message


def _meta(edit):
    return {"meta_edit": edit}


def _arrays(edit):
    return {"arrays_edit": edit}


def _set(key: str, value):
    """An edit that sets the dotted ``key`` of the checkpoint's JSON to ``value``."""
    *parents, last = key.split(".")

    def edit(meta: dict) -> None:
        node = meta
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
    return _meta(edit)


def _drop(*keys):
    """An edit that deletes ``meta[keys[0]][keys[1]]...``."""
    def edit(meta: dict) -> None:
        node = meta
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return _meta(edit)


def _nan(name: str):
    return _arrays(lambda a: a.update({name: np.full_like(a[name], np.nan)}))


def _astype(name: str, dtype):
    return _arrays(lambda a: a.update({name: a[name].astype(dtype)}))


#: case -> (edit, the words the line must hold: the field and what was expected)
CORRUPT = {
    # optimizer configuration and state
    "beta1 out of range": (_set("optimizer.beta1", 1.5),
                           "the checkpoint's optimizer.beta1 must be in [0.0, 1.0), got 1.5"),
    "epsilon a string": (_set("optimizer.epsilon", "small"),
                         "the checkpoint's optimizer.epsilon must be a real number, got 'small'"),
    "learning rate negative": (_set("optimizer.learning_rate", -0.1),
                               "optimizer.learning_rate must be > 0.0, got -0.1"),
    "optimizer without beta2": (_drop("optimizer", "beta2"), "optimizer must be a table with "
                                "keys 'beta1', 'beta2', 'epsilon', 'learning_rate', 'type', got "
                                "one with no 'beta2'"),
    "optimizer with a method's name": (_set("optimizer.step", 5), "optimizer must be a table "
                                       "with keys", "got one with also 'step'"),
    "another optimizer": (_set("optimizer.type", "Momentum"),
                          "the checkpoint's optimizer.type must be 'Adam'"),
    "optimizer a list": (_set("optimizer", [1]), "the checkpoint's optimizer must be a table"),
    "Adam moment NaN": (_nan("opt/v/0.W"), "array 'opt/v/0.W' must be finite, got NaN or inf"),
    "Adam moment float64": (_astype("opt/s/4.W", np.float64), "Adam state 's/4.W' must have "
                            "shape (6, 2) and dtype float32, got shape (6, 2) and dtype float64"),
    "Adam step count a float": (_astype("opt/t", np.float64), "Adam state 't' must be an "
                                "integer >= 0"),
    # schedule
    "schedule of no known type": (_set("schedule.type", "Cosine"), "schedule.type must be one "
                                  "of 'Constant', 'ExponentialDecay', 'InverseTimeDecay'"),
    "schedule lr0 negative": (_set("schedule.lr0", -1), "schedule.lr0 must be > 0.0, got -1"),
    "schedule decay a string": (_set("schedule.decay_rate", "fast"),
                                "schedule.decay_rate must be a real number, got 'fast'"),
    "schedule without lr0": (_drop("schedule", "lr0"), "schedule must be a table with keys "
                             "'decay_rate', 'lr0', 'type', got one with no 'lr0'"),
    "schedule a string": (_set("schedule", "inverse_time"), "schedule must be a table, got "
                          "'inverse_time'"),
    # layer hyperparameters and the network's form
    "keep_prob 1.5": (_set("network.layers.3.keep_prob", 1.5),
                      "network.layers[3].keep_prob must be in (0.0, 1.0], got 1.5"),
    "keep_prob a string": (_set("network.layers.3.keep_prob", "most"),
                           "network.layers[3].keep_prob must be a real number, got 'most'"),
    "keep_prob missing": (_drop("network", "layers", 3, "keep_prob"),
                          "network.layers[3] must be a table with its keep_prob"),
    "layers a table": (_set("network.layers", {}), "network.layers must be a list"),
    "a layer a number": (_set("network.layers.1", 7), "network.layers[1] must be a table with "
                         "a string type, got 7"),
    "input_dim missing": (_drop("network", "input_dim"), "network.input_dim must be an integer"),
    "another network": (_set("network.layers.2.type", "Tanh"), "written for a different "
                        "network"),
    # history
    "history a list": (_set("history", []), "the checkpoint's history must be a table"),
    "history epochs a string": (_set("history.epochs", "two"),
                                "history.epochs must be a list, got 'two'"),
    "history row without its epoch": (_drop("history", "epochs", 0, "epoch"),
                                      "history.epochs[0] must be a table with an integer epoch"),
    "history cost a string": (_set("history.epochs.1.cost", "low"),
                              "history.epochs[1].cost must be a finite real number, got 'low'"),
    "history cost NaN": (_set("history.epochs.0.cost", float("nan")),
                         "history.epochs[0].cost must be a finite real number, got nan"),
    "history steps of two lengths": (_meta(lambda m: m["history"]["steps"]["cost"].pop()),
                                     "history.steps must be lists of one length"),
    "history step cost a string": (_set("history.steps.cost_ewa.2", "x"),
                                   "history.steps.cost_ewa must be a list of real numbers"),
    "history steps without cost_ewa": (_drop("history", "steps", "cost_ewa"), "history.steps "
                                       "must be a table with keys", "no 'cost_ewa'"),
    "history event without kind": (_meta(lambda m: m["history"]["events"].append({"epoch": 1})),
                                   "history.events[0] must be a table with a string kind"),
    # the rest of the JSON
    "a field missing": (_drop("ewa"), "the checkpoint lacks ewa: it is incomplete"),
    "ewa value NaN": (_set("ewa.v", float("nan")), "ewa.v must be a finite real number, got nan"),
    "ewa without t": (_drop("ewa", "t"), "ewa must be a table with keys 't', 'v', got one with "
                      "no 't'"),
    "l2 negative": (_set("l2", -0.5), "the checkpoint's l2 must be a finite real number >= 0.0, "
                    "got -0.5"),
    "l1 a string": (_set("l1", "none"), "the checkpoint's l1 must be a finite real number"),
    "epoch_sums short": (_set("epoch_sums", [0.5]), "epoch_sums must be a list of 2 numbers"),
    "epoch_sums NaN": (_set("epoch_sums.1", float("inf")),
                       "epoch_sums[1] must be a finite real number, got inf"),
    "epoch a float": (_set("epoch", 2.5), "the checkpoint's epoch must be an integer >= 0"),
    "step past the epoch": (_set("step_in_epoch", 3), "step_in_epoch must be below 3 (the "
                            "batches of an epoch), got 3"),
    "m of another data set": (_set("m", 7), "the checkpoint has m=7 but this run has m=120"),
    "a layer's generator missing": (_meta(lambda m: m["rng"]["layers"].popitem()),
                                    "rng.layers must be a table with keys"),
    "rng a list": (_set("rng", []), "the checkpoint's rng must be a table with keys 'augment', "
                   "'layers', 'shuffle', got []"),
    "early stopping wait a string": (_set("callbacks.0.wait", "2"),
                                     "callbacks[0].wait must be an integer, got '2'"),
    "early stopping best NaN": (_set("callbacks.0.best", float("nan")),
                                "callbacks[0].best must be a real number, got nan"),
    "early stopping with another key": (_set("callbacks.0.patience", 3), "callbacks[0] must be "
                                        "a table with keys", "also 'patience'"),
    "checkpoint best a list": (_set("callbacks.1.best", [0.3]),
                               "callbacks[1].best must be a real number, got [0.3]"),
    "a callback a string": (_set("callbacks.0", "EarlyStopping"),
                            "callbacks[0] must be a table with a string type"),
    "stopped a string": (_set("stopped", "no"), "stopped must be true or false, got 'no'"),
    # arrays: wrong dtype, shape or values
    "weights as integers": (_astype("param/0.W", np.int64), "array 'param/0.W' must be float32 "
                            "of shape (2, 6), got int64 of shape (2, 6)"),
    "weights as strings": (_astype("param/4.b", "U8"), "array 'param/4.b' must be float32"),
    "weights NaN": (_nan("param/1.gamma"), "array 'param/1.gamma' must be finite, got NaN"),
    "running variance float64": (_astype("state/1.running_var", np.float64),
                                 "array 'state/1.running_var' must be float32 of shape (6,), "
                                 "got float64"),
    "a weight missing": (_arrays(lambda a: a.pop("param/4.b")), "array 'param/4.b'"),
    "best weights of another shape": (_arrays(lambda a: a.update({"cb0/param/0.W": np.zeros(
        (3, 6), np.float32)})), "array 'cb0/param/0.W' must be float32 of shape (2, 6), got "
        "float32 of shape (3, 6)"),
    "best weights missing one": (_arrays(lambda a: a.pop("cb0/state/1.running_mean")),
                                 "callbacks[0] arrays must be the network's"),
}

MID_EPOCH = {
    "permutation with a repeat": (_arrays(lambda a: a.update(perm=np.r_[a["perm"][:-1], a[
        "perm"][0]])), "array 'perm' must be a permutation of the rows 0..119"),
    "permutation out of range": (_arrays(lambda a: a.update(perm=a["perm"] + 1)),
                                 "array 'perm' must be a permutation of the rows 0..119"),
    "permutation as floats": (_astype("perm", np.float32), "array 'perm' must be a permutation"),
    "permutation missing": (_arrays(lambda a: a.pop("perm")), "lacks its permutation"),
}


@pytest.mark.parametrize("which, case", [("epoch", c) for c in CORRUPT] +
                         [("mid", c) for c in MID_EPOCH])
def test_a_corrupt_field_is_one_line_naming_the_file_and_the_field(tmp_path, saved, which,
                                                                   case):
    """Each corruption of an end-of-epoch checkpoint (CORRUPT) or of a mid-epoch one's
    position (MID_EPOCH)."""
    edit, *expected = (CORRUPT if which == "epoch" else MID_EPOCH)[case]
    path = _copy(saved[which], tmp_path / "ckpt")
    _edit(path, **edit)
    with pytest.raises(CheckpointError) as info:
        _resume_and_train(path)
    _assert_one_named_line(info.value, path, *expected)


def test_the_untouched_checkpoints_resume(tmp_path, saved):
    for name in ("epoch", "mid"):
        trainer = _resume_and_train(_copy(saved[name], tmp_path / name))
        assert trainer.epoch == 4 and len(trainer.history) == 4


def _leaves(node, path=()):
    """Every JSON path of ``node``, inner ones included (at most 3 items of a list)."""
    yield path
    items = node.items() if isinstance(node, dict) else \
        enumerate(node[:3]) if isinstance(node, list) else ()
    for key, value in items:
        yield from _leaves(value, (*path, key))


JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=4),
    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["type", "t", "v", "x"]), st.integers(-3, 3), max_size=2),
    st.just("DELETE"))


@settings(max_examples=300)
@given(data=st.data())
def test_any_edit_of_any_field_resumes_or_is_one_named_line(saved, data):
    """Property: whatever value replaces whatever field (or its deletion), resuming and
    training on either works (and the state stays writable) or raises one deeprecipe error
    line; never another exception."""
    source = checkpoints.latest_checkpoint(saved["epoch"])
    meta = json.loads(source.read_text(encoding="utf-8"))
    fields = sorted((p for p in _leaves(meta) if p), key=str)
    where = data.draw(st.sampled_from(fields), label="field")
    value = data.draw(JSON_VALUES, label="value")
    node = meta
    for key in where[:-1]:
        node = node[key]
    if value == "DELETE":
        del node[where[-1]]
    else:
        node[where[-1]] = value
    with tempfile.TemporaryDirectory() as folder:
        path = _copy(saved["epoch"], Path(folder))
        path.write_text(json.dumps(meta), encoding="utf-8")
        try:
            _resume_and_train(path)
        except CheckpointError as exc:
            _assert_one_named_line(exc, path)
        except DeepRecipeError as exc:  # a value in range that diverges (l2 = 2**60)
            assert "\n" not in str(exc) and not any(raw in str(exc) for raw in RAW), exc
