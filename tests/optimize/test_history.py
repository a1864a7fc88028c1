"""History: per-epoch rows, per-step costs and events; JSON-lines round trip."""

from __future__ import annotations

import json
import os
import signal

import numpy as np

import pytest
from sklearn.datasets import make_moons

import deeprecipe as dr

from deeprecipe.errors import CheckpointError
from deeprecipe.optimize import checkpoints, steplog
from deeprecipe.optimize.history import History
from deeprecipe.optimize.steplog import STEP_LOG_CAPACITY, StepLog


def make_history() -> History:
    h = History()
    for epoch in (1, 2, 3):
        h.epochs.append({"epoch": epoch, "cost": 1.0 / epoch, "data_cost": 0.9 / epoch,
                         "learning_rate": 0.1, "time": 0.01 * epoch,
                         **({"dev_cost": 2.0 / epoch} if epoch > 1 else {})})
        for step in (1, 2):
            h.steps.append(epoch, step, 1.0 / (epoch + step), 1.5 / (epoch + step))
    h.events.append({"epoch": 2, "step": 0, "kind": "nudge", "message": "lr x 0.5"})
    return h


def test_getitem_gives_the_per_epoch_series_with_none_where_missing():
    h = make_history()
    assert h["epoch"] == [1, 2, 3]
    assert h["cost"] == [1.0, 0.5, 1.0 / 3]
    assert h["dev_cost"] == [None, 1.0, 2.0 / 3]
    assert h["nonexistent"] == [None, None, None]
    assert len(h) == 3 and h.last["epoch"] == 3
    assert History().last == {} and len(History()) == 0


def test_jsonl_round_trip():
    h = make_history()
    text = h.to_jsonl()
    lines = text.splitlines()
    assert len(lines) == 3 + 1 + 1 + 6
    assert [json.loads(line)["type"] for line in lines] == (["epoch"] * 3 + ["event", "step_log"]
                                                           + ["step"] * 6)
    back = History.from_jsonl(text)
    assert back == h
    assert back.to_dict() == h.to_dict()


def test_jsonl_of_an_empty_history():
    back = History.from_jsonl(History().to_jsonl())
    assert back == History()


def test_dict_round_trip_copies():
    h = make_history()
    back = History.from_dict(h.to_dict())
    assert back == h
    back.epochs[0]["cost"] = 99.0
    back.steps.truncate(0)
    assert h.epochs[0]["cost"] == 1.0 and h.steps["cost"][0] == 0.5 and len(h.steps) == 6


def test_truncate_drops_later_epochs_and_their_steps():
    h = make_history()
    h.truncate(2)
    assert h["epoch"] == [1, 2]
    assert h.steps["epoch"].tolist() == [1, 1, 2, 2] and h.steps.seen == 4
    assert h.steps["cost"] == pytest.approx([0.5, 1 / 3, 1 / 3, 0.25])
    assert len(h.events) == 1  # events are the caller's to keep or drop
    h.truncate(0)
    assert len(h) == 0 and len(h.steps) == 0 and h.steps.seen == 0


def test_final_is_the_restored_epoch_not_the_last():
    """#16: after early stopping, the network holds the best epoch's weights."""
    X, y = make_moons(n_samples=300, noise=0.3, random_state=0)
    X = X.astype(np.float32)
    net = dr.Sequential([dr.layers.Dense(16), dr.layers.ReLU(), dr.layers.Dense(1),
                         dr.layers.Sigmoid()], input_dim=2, random_state=0)
    h = dr.train(net, X[:200], y[:200], loss="binary_crossentropy", epochs=300,
                 optimizer=dr.optimizers.Adam(learning_rate=0.05), batch_size=16,
                 validation_data=(X[200:], y[200:]), random_state=0,
                 callbacks=[dr.callbacks.EarlyStopping(patience=3)])
    (restored,) = [e for e in h.events if e["kind"] == "restored_best"]
    assert restored["epoch"] < h.last["epoch"] == restored["stopped_epoch"]
    assert h.final["epoch"] == restored["epoch"]
    assert h.final["dev_cost"] == min(h["dev_cost"])


# ---- the bounded step log inside a History, its files and a training run -----------------

def _moons(n: int = 150):
    X, y = make_moons(n_samples=n, noise=0.2, random_state=0)
    return X.astype(np.float32), y


def _train(directory=None, callbacks=(), resume=False, epochs=5) -> History:
    """150 rows in batches of 20: 8 steps an epoch."""
    X, y = _moons()
    net = dr.Sequential([dr.layers.Dense(8), dr.layers.ReLU(), dr.layers.Dense(2),
                         dr.layers.Softmax()], input_dim=2, random_state=1)
    return dr.train(net, X, y, optimizer=dr.optimizers.Adam(0.01), batch_size=20,
                    epochs=epochs, random_state=2, checkpoint_dir=directory,
                    callbacks=callbacks, resume=resume)


def _without_time(h: History) -> dict:
    d = h.to_dict()
    return {**d, "epochs": [{k: v for k, v in r.items() if k != "time"} for r in d["epochs"]]}


def test_a_thinned_log_holds_the_full_runs_rows_at_its_positions(monkeypatch):
    full = _train(epochs=9)
    monkeypatch.setattr(steplog, "STEP_LOG_CAPACITY", 16)
    thin = _train(epochs=9)
    assert (full.steps.stride, len(full.steps), full.steps.seen) == (1, 72, 72)
    assert (thin.steps.stride, len(thin.steps), thin.steps.seen) == (8, 9, 72)
    for key in steplog.COLUMNS:  # cost_ewa too: the average of every step, not of the rows
        np.testing.assert_array_equal(thin.steps[key], full.steps[key][thin.steps.index])
    assert _without_time(thin)["epochs"] == _without_time(full)["epochs"]


class _CtrlC(dr.callbacks.Callback):
    """Ctrl-C after step ``step`` of epoch ``epoch_num``."""

    def __init__(self, epoch_num: int, step: int) -> None:
        self.at = (epoch_num, step)

    def on_step_end(self, trainer, step, cost) -> None:
        if self.at == (trainer.epoch + 1, step):
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
def test_resume_across_decimations_ends_with_the_uninterrupted_log(tmp_path, monkeypatch):
    monkeypatch.setattr(steplog, "STEP_LOG_CAPACITY", 8)
    ref = _train(tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt, match="resume"):
        _train(tmp_path / "cut", [_CtrlC(3, 3)])
    latest = checkpoints.latest_checkpoint(tmp_path / "cut")
    saved = json.loads(latest.read_text(encoding="utf-8"))["history"]["steps"]
    assert (saved["seen"], saved["stride"], saved["capacity"]) == (19, 4, 8)  # thinned twice
    h = _train(tmp_path / "cut", resume=True)
    assert (ref.steps.seen, ref.steps.stride) == (40, 8)  # and once more after the cut
    assert h.steps == ref.steps
    assert _without_time(h) == _without_time(ref)


@pytest.mark.parametrize("capacity", [STEP_LOG_CAPACITY, 8])
def test_a_checkpoint_of_the_older_format_resumes_to_the_same_log(tmp_path, monkeypatch,
                                                                  capacity):
    """Older files: the step lists of every step, no stride; at capacity 8 the 16 steps
    saved are more than the log keeps, and loading thins them as recording would have."""
    monkeypatch.setattr(steplog, "STEP_LOG_CAPACITY", capacity)
    ref = _train(epochs=4)
    _train(tmp_path, epochs=2)
    latest = checkpoints.latest_checkpoint(tmp_path)
    meta = json.loads(latest.read_text(encoding="utf-8"))
    with monkeypatch.context() as m:  # written as before: every step, four lists
        m.setattr(steplog, "STEP_LOG_CAPACITY", STEP_LOG_CAPACITY)
        full = _train(epochs=2).steps
    meta["history"]["steps"] = {k: full[k].tolist() for k in steplog.COLUMNS}
    assert len(meta["history"]["steps"]["cost"]) == 16
    latest.write_text(json.dumps(meta), encoding="utf-8")
    h = _train(tmp_path, resume=True, epochs=4)
    assert h.steps == ref.steps and h.steps.capacity == capacity
    assert _without_time(h) == _without_time(ref)


def test_older_history_files_load_with_every_step_and_stride_one():
    rows = [(e, s, 1.0 / (e + s), 0.5) for e in (1, 2) for s in (1, 2, 3)]
    old = {"epochs": [{"epoch": 1, "cost": 1.0}, {"epoch": 2, "cost": 0.5}],
           "steps": {k: [r[i] for r in rows] for i, k in enumerate(steplog.COLUMNS)},
           "events": []}
    h = History.from_dict(json.loads(json.dumps(old)))
    assert (h.steps.stride, h.steps.seen, len(h.steps)) == (1, 6, 6)
    assert h.steps["step"].tolist() == [1, 2, 3, 1, 2, 3]
    jsonl = "\n".join([json.dumps({"type": "epoch", **r}) for r in old["epochs"]]
                      + [json.dumps({"type": "step", **dict(zip(steplog.COLUMNS, r,
                                                                strict=True))}) for r in rows])
    assert History.from_jsonl(jsonl) == h  # a history.jsonl without its "step_log" line


def test_truncate_after_decimation_keeps_the_epochs_rows_and_the_stride():
    h = History(steps=StepLog(capacity=4))
    for epoch in range(1, 11):
        h.epochs.append({"epoch": epoch, "cost": 1.0 / epoch})
        for step in range(1, 5):
            h.steps.append(epoch, step, 1.0 / (epoch * step), 0.5)
    assert (h.steps.stride, len(h.steps)) == (16, 3)  # steps 0, 16, 32 of 40
    h.truncate(8)
    assert h["epoch"] == list(range(1, 9)) and h.steps["epoch"].tolist() == [1, 5]
    assert (h.steps.stride, h.steps.seen) == (16, 32)  # 8 epochs of 4 steps, exactly
    back = History.from_jsonl(h.to_jsonl())
    assert back == h and back.steps.capacity == 4


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.update(stride=3), "the checkpoint's history.steps.stride must be a power of "
     "two (1, 2, 4, ...), got 3"),
    (lambda s: s.update(seen=99), "the checkpoint's history.steps.seen must be the steps "
     "counted for 6 rows at stride 1 (from 6 to 6), got 99"),
    (lambda s: s.pop("seen"), "the checkpoint's history.steps must be a table with keys"),
    (lambda s: s["cost"].pop(), "the checkpoint's history.steps must be lists of one length"),
])
def test_a_bad_step_log_in_a_history_names_the_field(edit, message):
    d = json.loads(json.dumps(make_history().to_dict()))
    edit(d["steps"])
    with pytest.raises(CheckpointError) as info:
        History.from_dict(d, what="the checkpoint's history")
    assert message in str(info.value)


def test_a_bad_step_log_line_in_history_jsonl_is_a_checkpoint_error():
    text = make_history().to_jsonl().replace('"stride": 1', '"stride": 0')
    with pytest.raises(CheckpointError, match="history.jsonl's steps.stride must be a power"):
        History.from_jsonl(text)
