"""Worker for tests/test_checkpoints.py: a small resumable training run in its own process.

Trains BatchNorm + Dropout on moons with Adam, a schedule, validation data and EarlyStopping,
checkpointing into CKPT_DIR; writes the final parameters/state to OUT.npz and the history to
OUT.json. ``--sleep-epoch`` / ``--sleep-step`` slow it down so a test can kill it mid-run.

    python tests/_resume_worker.py CKPT_DIR OUT [--epochs N] [--resume] [--sleep-epoch S]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.datasets import make_moons

import deeprecipe as dr
from deeprecipe.optimize.callbacks import Callback

EPOCHS = 8


class Slow(Callback):
    """Sleeps after every epoch and every step, so that a signal lands mid-run."""

    def __init__(self, per_epoch: float, per_step: float) -> None:
        self.per_epoch, self.per_step = per_epoch, per_step

    def on_step_end(self, trainer, step, cost) -> None:
        if self.per_step:
            time.sleep(self.per_step)

    def on_epoch_end(self, trainer, record) -> None:
        if self.per_epoch:
            time.sleep(self.per_epoch)


def make_data():
    X, y = make_moons(n_samples=360, noise=0.2, random_state=3)
    X = X.astype(np.float32)
    return (X[:300], y[:300]), (X[300:], y[300:])


def make_net() -> dr.Sequential:
    L = dr.layers
    return dr.Sequential([L.Dense(16), L.BatchNorm(), L.ReLU(), L.Dropout(keep_prob=0.8),
                          L.Dense(16), L.ReLU(), L.Dense(2), L.Softmax()],
                         input_dim=2, random_state=7)


def run(ckpt_dir, out, *, epochs=EPOCHS, resume=False, sleep_epoch=0.0, sleep_step=0.0):
    (X, y), dev = make_data()
    net = make_net()
    history = dr.train(net, X, y, loss="categorical_crossentropy",
                       optimizer=dr.optimizers.Adam(learning_rate=0.02),
                       schedule=dr.schedules.InverseTimeDecay(0.02, 0.5), batch_size=32,
                       epochs=epochs, validation_data=dev,
                       callbacks=[dr.callbacks.EarlyStopping(patience=100),
                                  Slow(sleep_epoch, sleep_step)],
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
    parser.add_argument("--sleep-epoch", type=float, default=0.0)
    parser.add_argument("--sleep-step", type=float, default=0.0)
    a = parser.parse_args()
    run(a.ckpt_dir, a.out, epochs=a.epochs, resume=a.resume, sleep_epoch=a.sleep_epoch,
        sleep_step=a.sleep_step)


if __name__ == "__main__":
    main()
