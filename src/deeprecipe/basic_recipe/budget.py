"""A wall-clock budget shared by the recipe's rounds and the short searches inside them.

The text of a budget ("10m") is read by ``runs.budget.parse_budget``; here: the seconds left
across a resume (``Budget``) and the callback that stops a training at the deadline.
"""

from __future__ import annotations

import time

from deeprecipe.optimize.callbacks import Callback

__all__ = ["Budget", "StopAtDeadline"]

class Budget:
    """Seconds left of ``total`` (None: unlimited), counting ``spent`` seconds from before."""

    def __init__(self, total: float | None, spent: float = 0.0) -> None:
        self.total = total
        self.start = time.perf_counter() - spent

    @property
    def spent(self) -> float:
        return time.perf_counter() - self.start

    @property
    def left(self) -> float:
        return float("inf") if self.total is None else self.total - self.spent

    def deadline(self, reserve: float = 0.0) -> float | None:
        """The perf_counter time at which training must stop (``reserve`` seconds kept)."""
        return None if self.total is None else self.start + self.total - reserve


class StopAtDeadline(Callback):
    """Stops training at the end of the first epoch past ``deadline`` (a perf_counter time);
    early stopping then puts the best weights back, so the model is the best so far."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def on_epoch_end(self, trainer, record: dict) -> None:
        if time.perf_counter() >= self.deadline:
            trainer.stop_training = True
            trainer.event("budget", f"time budget reached at epoch {record['epoch']}")
