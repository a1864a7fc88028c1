"""Panda: babysit one model in chunks, nudge it, roll back, resume; nothing is lost."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from deeprecipe.errors import DeepRecipeError
from deeprecipe.optimize import checkpoints
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.persistence import load
from deeprecipe.runs.config import config_from_dict
from deeprecipe.tuning import babysit, nudge, resume, rollback, status

CONFIG = config_from_dict({"data": {"dataset": "digits", "n_samples": 300},
                           "model": {"hidden_layer_sizes": [8]},
                           "optimizer": {"learning_rate": 0.01}, "training": {"epochs": 6}})


def test_a_panda_session_keeps_both_branches_and_every_event(tmp_path):
    first = babysit(CONFIG, tmp_path, chunks=3, epochs_per_chunk=2)
    assert sorted(first.chunks) == ["1", "2", "3"] and len(first.history) == 6
    assert nudge(tmp_path, scale_learning_rate=0.5)["running"] is False
    assert rollback(tmp_path, chunk=1)["epoch"] == 2
    final = resume(tmp_path, chunks=1)
    assert final.branch != "main" and len(final.history) == 4
    assert [e["kind"] for e in final.history.events] == ["rollback", "nudge"]
    assert [r["learning_rate"] for r in final.history.epochs] == pytest.approx(
        [0.01, 0.01, 0.005, 0.005])
    report = status(tmp_path)
    assert set(report["branches"]) == {"main", final.branch}
    assert len(report["branches"]["main"]["epochs"]) == 6  # the old branch is kept
    assert report["branches"][final.branch]["parent"] == "main"
    assert [e["kind"] for e in report["events"]].count("rollback") == 1
    assert report["pending_nudges"] == [] and report["applied_nudges"] == 1
    ckpt = checkpoints.list_checkpoints(tmp_path / "branches" / "main" / "checkpoints")
    assert len(ckpt) == 6
    model = load(tmp_path / "model")
    _, arrays = checkpoints.load_checkpoint(
        tmp_path / report["branches"][final.branch]["chunks"]["2"]["checkpoint"])
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, arrays[f"param/{name}"])


class _Gate(Callback):
    """Holds training at the end of epoch 2 until the test has written its nudge."""

    def __init__(self) -> None:
        self.reached, self.go = threading.Event(), threading.Event()

    def on_epoch_end(self, trainer, record) -> None:
        if record["epoch"] == 2:
            self.reached.set()
            self.go.wait(timeout=60)


def test_a_nudge_reaches_a_running_babysit_at_the_next_epoch_boundary(tmp_path):
    gate = _Gate()
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault(
        "result", babysit(CONFIG, tmp_path, chunks=2, epochs_per_chunk=2, callbacks=(gate,))))
    worker.start()
    try:
        assert gate.reached.wait(timeout=60)
        assert status(tmp_path)["running"] is not None
        with pytest.raises(DeepRecipeError, match="running"):
            rollback(tmp_path, chunk=1)
        sent = nudge(tmp_path, learning_rate=0.002, l2=0.1)
        assert sent["running"] is True
    finally:
        gate.go.set()
        worker.join(timeout=60)
    history = box["result"].history
    (event,) = [e for e in history.events if e["kind"] == "nudge"]
    assert event["epoch"] == 2 and event["changes"]["learning_rate"] == [0.01, 0.002]
    assert [r["learning_rate"] for r in history.epochs] == pytest.approx(
        [0.01, 0.01, 0.002, 0.002])
    assert status(tmp_path)["running"] is None and not list((tmp_path / "nudges").glob("*.json"))


def test_bad_requests_are_clear_errors(tmp_path):
    with pytest.raises(DeepRecipeError, match="no panda session"):
        nudge(tmp_path, learning_rate=0.1)
    babysit(CONFIG, tmp_path, chunks=1, epochs_per_chunk=1)
    with pytest.raises(DeepRecipeError, match="at least one of"):
        nudge(tmp_path)
    with pytest.raises(DeepRecipeError, match="momentum"):
        nudge(tmp_path, beta=0.95)
    with pytest.raises(DeepRecipeError, match=r"has chunks \[1\], got chunk=4"):
        rollback(tmp_path, chunk=4)
    with pytest.raises(DeepRecipeError, match="already holds a panda session"):
        babysit(CONFIG, tmp_path)
