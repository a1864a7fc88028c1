"""Nudges for a babysat model: requests in run_dir/nudges/, applied at epoch boundaries."""

from __future__ import annotations

import os
from collections.abc import Callable
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
    """Applies the requests in run_dir/nudges/ at each epoch boundary (and at train begin).

    A request queued for another branch (``"branch"``, the one active when it was queued) is
    dropped, not applied to a branch a later roll-back made; ``record(kind, message, **extra)``
    logs each applied or dropped request in the session's own log (panda.json).
    """

    def __init__(self, run_dir: str | Path, branch: str | None = None,
                 record: Callable[..., None] | None = None) -> None:
        self.folder = Path(run_dir) / rundir.NUDGES
        self.branch, self.record = branch, record

    def on_train_begin(self, trainer) -> None:
        self.poll(trainer)

    def on_epoch_end(self, trainer, record: dict) -> None:
        self.poll(trainer)

    def poll(self, trainer) -> None:
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.json")):
            request = load_json(path)
            target = request.pop("branch", None)
            if target is not None and self.branch is not None and target != self.branch:
                kind, text, changes = "nudge_dropped", (
                    f"nudge {request} was queued for branch {target!r}, not for the active "
                    f"branch {self.branch!r}: dropped"), {}
            else:
                changes = apply_request(trainer, request)
                kind = "nudge"
                text = ", ".join(f"{k} {a:g} -> {b:g}" for k, (a, b) in changes.items())
            trainer.event(kind, text or "nothing to change", changes=changes, request=request)
            if self.record is not None:
                self.record(kind, text or "nothing to change", epoch=trainer.epoch,
                            changes=changes, request=request)
            (self.folder / rundir.APPLIED).mkdir(exist_ok=True)
            os.replace(path, self.folder / rundir.APPLIED / path.name)
