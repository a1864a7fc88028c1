"""Nudges for a babysat model: requests in run_dir/nudges/, applied at epoch boundaries."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from deeprecipe._io import load_json
from deeprecipe.callbacks import Callback

__all__ = ["NudgeWatcher", "apply_request"]


# -- nudges --------------------------------------------------------------------------------
def apply_request(trainer, request: dict) -> dict:
    """Set the requested values on a live trainer; return {name: [old, new]}."""
    changes = {}
    opt = trainer.optimizer
    lr = request.get("learning_rate")
    if request.get("scale_learning_rate") is not None:
        lr = opt.learning_rate * request["scale_learning_rate"]
    if lr is not None:
        old = opt.learning_rate
        opt.learning_rate = lr
        sched = trainer.schedule
        if sched is not None and hasattr(sched, "lr0"):  # the schedule sets lr every epoch
            trainer.schedule = dataclasses.replace(sched, lr0=sched.lr0 * lr / old)
        changes["learning_rate"] = [old, lr]
    if request.get("beta") is not None and hasattr(opt, "beta"):
        changes["beta"] = [opt.beta, request["beta"]]
        opt.beta = float(request["beta"])
    if request.get("keep_prob") is not None:
        for layer in trainer.net.layers:
            if type(layer).__name__ == "Dropout":
                changes["keep_prob"] = [layer.keep_prob, request["keep_prob"]]
                layer.keep_prob = float(request["keep_prob"])
    if request.get("l2") is not None:
        changes["l2"] = [trainer.l2, request["l2"]]
        trainer.l2 = float(request["l2"])
    return changes


class NudgeWatcher(Callback):
    """Applies the requests in run_dir/nudges/ at each epoch boundary (and at train begin)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.folder = Path(run_dir) / "nudges"

    def on_train_begin(self, trainer) -> None:
        self.poll(trainer)

    def on_epoch_end(self, trainer, record: dict) -> None:
        self.poll(trainer)

    def poll(self, trainer) -> None:
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.json")):
            request = load_json(path)
            changes = apply_request(trainer, request)
            text = ", ".join(f"{k} {a:g} -> {b:g}" for k, (a, b) in changes.items())
            trainer.event("nudge", text or "nothing to change", changes=changes,
                          request=request)
            (self.folder / "applied").mkdir(exist_ok=True)
            os.replace(path, self.folder / "applied" / path.name)
