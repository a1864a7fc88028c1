"""Nudges for a babysat model: requests in run_dir/nudges/, applied at epoch boundaries."""

from __future__ import annotations

import os
from pathlib import Path

from deeprecipe._io import load_json
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.runs import rundir
from deeprecipe.runs.knobs import set_live

__all__ = ["NudgeWatcher", "apply_request"]


# -- nudges --------------------------------------------------------------------------------
def apply_request(trainer, request: dict) -> dict:
    """Set the requested knobs on a live trainer (``runs.knobs.set_live``); return
    {name: [old, new]} for those that apply (e.g. beta only with momentum)."""
    request = dict(request)
    scale = request.pop("scale_learning_rate", None)
    if scale is not None:
        request["learning_rate"] = trainer.optimizer.learning_rate * scale
    changes = {}
    for name, value in request.items():
        old = set_live(trainer, name, value)
        if old is not None:
            changes[name] = [old, value]
    return changes


class NudgeWatcher(Callback):
    """Applies the requests in run_dir/nudges/ at each epoch boundary (and at train begin)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.folder = Path(run_dir) / rundir.NUDGES

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
            (self.folder / rundir.APPLIED).mkdir(exist_ok=True)
            os.replace(path, self.folder / rundir.APPLIED / path.name)
