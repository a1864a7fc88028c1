"""History: per-epoch rows, per-step costs and events; JSON-lines round trip."""

from __future__ import annotations

import json

import numpy as np

import pytest
from sklearn.datasets import make_moons

import deeprecipe as dr

from deeprecipe.optimize.history import History


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
