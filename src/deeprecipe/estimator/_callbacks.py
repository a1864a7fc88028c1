"""The estimators' training callbacks: the validation score per epoch, and scikit-learn's stop
on a training-cost plateau; and a schedule shifted for one more ``partial_fit`` epoch."""

from __future__ import annotations

import math

from deeprecipe.optimize.callbacks import Callback
from deeprecipe.optimize.trainer import Trainer

__all__ = ["TOL", "ValidationScore", "Converged", "shifted"]

#: Without early_stopping, training stops once the epoch's training cost has not improved by
#: this much for more than ``patience`` epochs (scikit-learn's ``tol``).
TOL = 1e-4


class ValidationScore(Callback):
    """Records score(network, X_dev, y_dev) after every epoch (accuracy or R^2)."""

    def __init__(self, score, X, y) -> None:
        self.score, self.X, self.y, self.scores = score, X, y, []

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        self.scores.append(float(self.score(trainer.net, self.X, self.y)))


class Converged(Callback):
    """scikit-learn's stop: the epoch's training cost has not fallen below (its lowest so far
    - TOL) for more than ``patience`` epochs in a row. The weights at the end of the epoch
    with the lowest cost are put back when training ends (Adam can overshoot on a plateau)."""

    def __init__(self, patience: int) -> None:
        self.patience, self.best, self.wait, self.best_arrays = patience, math.inf, 0, None

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        cost = record["cost"]
        self.wait = self.wait + 1 if cost > self.best - TOL else 0
        if cost < self.best:
            self.best = cost
            self.best_arrays = ({k: a.copy() for k, a in trainer.net.params.items()},
                                {k: a.copy() for k, a in trainer.net.state.items()})
        if self.wait > self.patience:
            trainer.stop_training = True
            trainer.event("converged", f"the training cost improved by less than {TOL:g} for "
                          f"{self.wait} epochs")

    def on_train_end(self, trainer: Trainer) -> None:
        if self.best_arrays is not None:  # None: stopped (diverged) before an epoch ended
            trainer.net.set_arrays(*self.best_arrays)


def shifted(schedule, offset: int):
    """The schedule seen from epoch ``offset + 1`` on (for one more epoch of partial_fit)."""
    return None if schedule is None else (lambda epoch_num: schedule(epoch_num + offset))

