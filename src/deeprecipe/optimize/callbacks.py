"""Training callbacks: hooks the loop calls at the start/end of training and of each epoch.

A callback may set ``trainer.stop_training = True``. Its ``state_dict()`` goes into checkpoints,
so a resumed run continues with the same patience counters and best weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from deeprecipe._validation import (
    check_bool,
    check_choice,
    check_in_range,
    check_int,
    check_path,
)
from deeprecipe.errors import InvalidTypeError, InvalidValueError
from deeprecipe.optimize import checkpoints

if TYPE_CHECKING:
    from deeprecipe.optimize.trainer import Trainer

__all__ = ["Callback", "EarlyStopping", "Checkpoint", "ProgressBar", "with_defaults"]


#: the epoch record's metrics a callback can watch
_MONITORS = ("dev_cost", "dev_error", "train_cost", "train_error", "cost")


class Callback:
    """Base: every hook is a no-op."""

    def on_train_begin(self, trainer: Trainer) -> None: ...

    def on_epoch_begin(self, trainer: Trainer, epoch_num: int) -> None: ...

    def on_step_end(self, trainer: Trainer, step: int, cost: float) -> None: ...

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...

    def state_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able state, arrays) for checkpoints."""
        return {}, {}

    def load_state_dict(self, state: dict, arrays: dict[str, np.ndarray]) -> None: ...


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for more than ``patience`` epochs.

    ``patience`` epochs without improvement are tolerated; the next one stops training
    (patience=0 stops at the first epoch that does not improve).

    monitor: "dev_cost" (default), "dev_error", "train_cost" or "cost". With
    ``restore_best=True`` the weights of the best epoch are put back when training ends,
    whatever ended it (patience, the epoch budget or divergence).
    """

    def __init__(self, monitor: str = "dev_cost", patience: int = 10, min_delta: float = 0.0,
                 restore_best: bool = True) -> None:
        self.monitor = check_choice("monitor", monitor, _MONITORS)
        self.patience = check_int("patience", patience, low=0)
        self.min_delta = check_in_range("min_delta", min_delta, low=0.0)
        self.restore_best = check_bool("restore_best", restore_best)
        self.best = math.inf
        self.best_epoch = 0
        self.wait = 0
        self.best_arrays: dict[str, np.ndarray] = {}
        self.stopped_epoch = 0

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        value = record.get(self.monitor)
        if value is None:
            raise InvalidValueError(f"EarlyStopping monitors {self.monitor!r}, which this run "
                                    "does not record (pass validation_data for dev_*)")
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = float(value), record["epoch"], 0
            if self.restore_best:
                self.best_arrays = trainer.net.arrays(copy=True)
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.stopped_epoch = record["epoch"]
                trainer.stop_training = True
                trainer.event("early_stopping", f"no improvement of {self.monitor} for "
                              f"{self.wait} epochs; best {self.best:.4g} at epoch "
                              f"{self.best_epoch}")

    def on_train_end(self, trainer: Trainer) -> None:
        if self.restore_best and self.best_arrays:
            trainer.net.load_arrays(self.best_arrays)
            trainer.event("restored_best", f"restored the weights of epoch {self.best_epoch}",
                          epoch=self.best_epoch, stopped_epoch=trainer.epoch)

    def state_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        return ({"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                 "stopped_epoch": self.stopped_epoch}, self.best_arrays)

    def load_state_dict(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.wait, self.stopped_epoch = state["wait"], state["stopped_epoch"]
        self.best_arrays = dict(arrays)


class Checkpoint(Callback):
    """Write a resumable checkpoint every ``every`` epochs and at the last one (and
    ``best.npz`` on improvement).

    Files: directory/epoch-NNNN.npz + .json (params, BatchNorm state, optimizer state, RNG
    states, history, position), written atomically; ``keep`` limits how many are kept (None:
    all).
    """

    def __init__(self, directory: str | Path, every: int = 1, keep: int | None = None,
                 monitor: str | None = "dev_cost") -> None:
        self.directory = check_path("directory", directory)
        self.every = check_int("every", every, low=1)
        self.keep = None if keep is None else check_int("keep", keep, low=1)
        self.monitor = check_choice("monitor", monitor, (None, *_MONITORS))
        self.best = math.inf

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        if (record["epoch"] % self.every == 0 or trainer.stop_training
                or record["epoch"] >= trainer.target_epochs):
            trainer.pending_checkpoints.append(self)
        value = record.get(self.monitor) if self.monitor else None
        if value is not None and value < self.best:
            self.best = float(value)
            checkpoints.save_weights(self.directory / "best.npz", trainer.net)

    def written(self) -> None:
        """After the trainer wrote this epoch's checkpoint: drop all but the ``keep`` latest
        (so a crash at any moment leaves at least one)."""
        if self.keep is not None:
            checkpoints.prune(self.directory, self.keep)

    def state_dict(self) -> tuple[dict, dict[str, np.ndarray]]:
        return {"best": self.best}, {}

    def load_state_dict(self, state: dict, arrays: dict[str, np.ndarray]) -> None:
        self.best = state["best"]


class ProgressBar(Callback):
    """A Rich progress bar over epochs with the labelled costs on a terminal; without one, a
    plain line every ``max(1, epochs // 20)`` epochs (and the last). Either way it ends by
    saying why training stopped early (early stopping) and which epoch's weights came back."""

    def __init__(self, force: bool = False) -> None:
        self.force = check_bool("force", force)
        self._progress = None
        self._every = 0  # > 0: plain lines (no terminal)

    @staticmethod
    def _info(record: dict) -> str:
        info = f"train cost {record['cost']:.4f}"
        if "dev_cost" in record:
            info += f"  dev cost {record['dev_cost']:.4f}"
        return info

    def on_train_begin(self, trainer: Trainer) -> None:
        if not (self.force or sys.stderr.isatty()):
            self._every = max(1, trainer.target_epochs // 20)
            return
        self._progress = Progress(TextColumn("[bold]epoch {task.completed}/{task.total}"),
                                  BarColumn(), TextColumn("{task.fields[info]}"),
                                  TimeRemainingColumn(), console=Console(stderr=True))
        self._progress.start()
        self._task = self._progress.add_task("train", total=trainer.target_epochs,
                                             completed=trainer.epoch, info="")

    def on_epoch_end(self, trainer: Trainer, record: dict) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=record["epoch"],
                                  info=self._info(record))
        elif self._every and (record["epoch"] % self._every == 0
                              or record["epoch"] == trainer.target_epochs):
            print(f"epoch {record['epoch']}/{trainer.target_epochs}  {self._info(record)}",
                  file=sys.stderr, flush=True)

    def on_train_end(self, trainer: Trainer) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self._every or self.force or sys.stderr.isatty():
            for event in trainer.history.events:
                if event["kind"] in ("early_stopping", "restored_best") and \
                        event.get("stopped_epoch", event["epoch"]) == trainer.epoch:
                    print(f"{event['kind'].replace('_', ' ')}: {event['message']}",
                          file=sys.stderr, flush=True)


def with_defaults(callbacks, checkpoint_dir: Path | None, verbose: bool) -> list[Callback]:
    """The Trainer's callbacks: ``callbacks`` (a list of Callback objects, InvalidTypeError
    otherwise), plus a Checkpoint into ``checkpoint_dir`` and a ProgressBar when ``verbose``
    unless the list already holds one."""
    if not (isinstance(callbacks, Sequence) and all(isinstance(c, Callback)
                                                    for c in callbacks)):
        raise InvalidTypeError("callbacks must be a list of Callback objects (e.g. "
                               f"[dr.callbacks.EarlyStopping()]), got {callbacks!r:.80}")
    out = list(callbacks)
    if checkpoint_dir is not None and not any(isinstance(c, Checkpoint) for c in out):
        out.append(Checkpoint(checkpoint_dir))
    if verbose and not any(isinstance(c, ProgressBar) for c in out):
        out.append(ProgressBar())
    return out
