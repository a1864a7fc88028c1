"""Worker for tests/test_checkpoints.py: a small resumable training run in its own process.

Trains BatchNorm + Dropout on moons with Adam, a schedule, validation data and EarlyStopping,
checkpointing into CKPT_DIR; writes the final parameters/state to OUT.npz and the history to
OUT.json. ``--pause-at EPOCH STEP`` parks it after that step (of the 1-based epoch): it writes
OUT.paused and waits until OUT.go exists, so a test signals it at a known point mid-epoch, on a
machine of any speed.

    python tests/_resume_worker.py CKPT_DIR OUT [--epochs N] [--resume] [--pause-at EPOCH STEP]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_moons

import deeprecipe as dr
from deeprecipe.optimize.callbacks import Callback

EPOCHS = 8


class Pause(Callback):
    """Parks training after step ``at[1]`` of epoch ``at[0]``: writes ``out``.paused, then waits
    for ``out``.go (a SIGINT meanwhile is noted by the trainer and acted on at the next step)."""

    def __init__(self, at: tuple[int, int] | None, out: str) -> None:
        self.at, self.out = at, out

    def on_step_end(self, trainer, step, cost) -> None:
        if self.at is not None and (trainer.epoch + 1, step) == tuple(self.at):
            Path(f"{self.out}.paused").touch()
            while not Path(f"{self.out}.go").exists():
                time.sleep(0.01)


def make_data():
    X, y = make_moons(n_samples=360, noise=0.2, random_state=3)
    X = X.astype(np.float32)
    return (X[:300], y[:300]), (X[300:], y[300:])


def make_net() -> dr.Sequential:
    L = dr.layers
    return dr.Sequential([L.Dense(16), L.BatchNorm(), L.ReLU(), L.Dropout(keep_prob=0.8),
                          L.Dense(16), L.ReLU(), L.Dense(2), L.Softmax()],
                         input_dim=2, random_state=7)


def run(ckpt_dir, out, *, epochs=EPOCHS, resume=False, pause_at=None):
    (X, y), dev = make_data()
    net = make_net()
    history = dr.train(net, X, y, loss="categorical_crossentropy",
                       optimizer=dr.optimizers.Adam(learning_rate=0.02),
                       schedule=dr.schedules.InverseTimeDecay(0.02, 0.5), batch_size=32,
                       epochs=epochs, validation_data=dev,
                       callbacks=[dr.callbacks.EarlyStopping(patience=100),
                                  Pause(pause_at, out)],
                       random_state=11, checkpoint_dir=ckpt_dir, resume=resume)
    np.savez(f"{out}.npz", **{f"param/{k}": p for k, p in net.params.items()},
             **{f"state/{k}": s for k, s in net.state.items()})
    with open(f"{out}.json", "w", encoding="utf-8") as f:
        json.dump(history.to_dict(), f)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ckpt_dir")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--pause-at", type=int, nargs=2, metavar=("EPOCH", "STEP"))
    a = parser.parse_args()
    run(a.ckpt_dir, a.out, epochs=a.epochs, resume=a.resume, pause_at=a.pause_at)


if __name__ == "__main__":
    main()
