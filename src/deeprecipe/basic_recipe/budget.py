"""A wall-clock budget shared by the recipe's rounds and the short searches inside them.

NOTE for the merge with #14 (tuning as a workflow): ``parse_budget`` is this branch's minimal
duration parser; #14 adds a shared ``--budget`` parser in runs/. Keep one of the two.
"""

from __future__ import annotations

import re
import time

from deeprecipe.errors import InvalidValueError
from deeprecipe.optimize.callbacks import Callback

__all__ = ["parse_budget", "Budget", "Deadline"]

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*$")


def parse_budget(text: str | float | int) -> float:
    """Seconds from "90", "90s", "10m", "1.5h" (or a number of seconds).

    >>> parse_budget("10m"), parse_budget("1.5h"), parse_budget(30)
    (600.0, 5400.0, 30.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _PATTERN.match(str(text))
        if match is None:
            raise InvalidValueError(f"budget must be a duration such as 90s, 10m or 1.5h, "
                                    f"got {text!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or ""]
    if not seconds > 0:
        raise InvalidValueError(f"budget must be positive, got {text!r}")
    return seconds


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


class Deadline(Callback):
    """Stops training at the end of the first epoch past ``deadline`` (a perf_counter time);
    early stopping then puts the best weights back, so the model is the best so far."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def on_epoch_end(self, trainer, record: dict) -> None:
        if time.perf_counter() >= self.deadline:
            trainer.stop_training = True
            trainer.event("budget", f"time budget reached at epoch {record['epoch']}")
