"""What a training run records: one row per epoch, the per-step mini-batch costs, and events."""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field

from deeprecipe.errors import CheckpointError
from deeprecipe.optimize.steplog import COLUMNS, StepLog

__all__ = ["History"]

_LOG_FIELDS = ("stride", "seen", "capacity")  # the "step_log" line of history.jsonl


@dataclass
class History:
    """epochs: one dict per epoch (epoch, learning_rate, cost, data_cost, train_/dev_ cost and
    error, time); steps: a :class:`~deeprecipe.optimize.steplog.StepLog` of the mini-batches
    (epoch, step, cost, cost_ewa), every ``steps.stride``-th one, at most ``steps.capacity``
    (2**15) rows however long the run; events: nudges, roll-backs, early stopping, divergence
    ({"epoch", "step", "kind", "message", ...}).
    """

    epochs: list[dict] = field(default_factory=list)
    steps: StepLog = field(default_factory=StepLog)
    events: list[dict] = field(default_factory=list)

    def __getitem__(self, key: str) -> list:
        """The per-epoch series of ``key``, e.g. history["dev_error"]."""
        return [row.get(key) for row in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def last(self) -> dict:
        """The record of the last epoch trained."""
        return self.epochs[-1] if self.epochs else {}

    @property
    def final(self) -> dict:
        """The record of the epoch whose weights the network holds: the one early stopping
        restored (its ``restored_best`` event), else the last."""
        restored = [e["epoch"] for e in self.events if e.get("kind") == "restored_best"]
        if restored:
            rows = [r for r in self.epochs if r["epoch"] == restored[-1]]
            if rows:
                return rows[-1]
        return self.last

    def to_dict(self) -> dict:
        """JSON-ready: epochs and events as they are, steps as ``StepLog.to_dict``."""
        return {"epochs": self.epochs, "steps": self.steps.to_dict(), "events": self.events}

    @classmethod
    def from_dict(cls, d: dict, *, what: str = "history") -> History:
        """The History of :meth:`to_dict` output; CheckpointError naming the first part that
        is not what ``to_dict`` writes (``what``, e.g. "the checkpoint's history", leads)."""
        _check(d, what)
        steps = StepLog.from_dict(d.get("steps"), what=f"{what}.steps")
        return cls([dict(r) for r in d.get("epochs", [])], steps,
                   [dict(e) for e in d.get("events", [])])

    def truncate(self, epoch: int) -> None:
        """Drop everything after ``epoch`` (kept in events by the caller if wanted); the step
        log keeps its stride (see ``StepLog.truncate``)."""
        self.epochs = [r for r in self.epochs if r["epoch"] <= epoch]
        self.steps.truncate(epoch)

    def to_jsonl(self) -> str:
        """One JSON line per epoch ("type": "epoch"), event, and logged step ("step"), after
        one "step_log" line with the log's stride, seen and capacity."""
        lines = [json.dumps({"type": "epoch", **r}) for r in self.epochs]
        lines += [json.dumps({"type": "event", **e}) for e in self.events]
        d = self.steps.to_dict()
        lines.append(json.dumps({"type": "step_log", **{k: d.pop(k) for k in _LOG_FIELDS}}))
        lines += [json.dumps({"type": "step", **dict(zip(d, vals, strict=True))})
                  for vals in zip(*d.values(), strict=True)]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_jsonl(cls, text: str) -> History:
        """The History of :meth:`to_jsonl` output (or of an older file without its "step_log"
        line); CheckpointError if its steps are not as written."""
        h, steps, log = cls(), {k: [] for k in COLUMNS}, {}
        for line in text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            kind = row.pop("type", "epoch")
            if kind == "epoch":
                h.epochs.append(row)
            elif kind == "event":
                h.events.append(row)
            elif kind == "step_log":
                log = {k: row.get(k) for k in _LOG_FIELDS}
            else:
                for k, values in steps.items():
                    values.append(row.get(k))
        h.steps = StepLog.from_dict({**steps, **log}, what="history.jsonl's steps")
        return h


def _is_int(value) -> bool:
    """An integer, never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check(d, what: str) -> None:
    """CheckpointError unless ``d`` has the shape of :meth:`History.to_dict` output: epochs
    (tables with an integer epoch) and events (tables with a kind and an epoch); missing parts
    are allowed (they start empty). ``StepLog.from_dict`` checks the steps."""
    def bad(where: str, expected: str, value) -> None:
        text = repr(value)
        raise CheckpointError(f"{what}{where} must be {expected}, got "
                              f"{text if len(text) <= 60 else text[:57] + '...'}")

    if not isinstance(d, dict):
        bad("", "a table of epochs, steps and events", d)
    epochs, events = d.get("epochs", []), d.get("events", [])
    for where, value in ((".epochs", epochs), (".events", events)):
        if not isinstance(value, list):
            bad(where, "a list", value)
    for i, row in enumerate(epochs):
        if not (isinstance(row, dict) and _is_int(row.get("epoch"))):
            bad(f".epochs[{i}]", "a table with an integer epoch", row)
    for i, event in enumerate(events):
        if not (isinstance(event, dict) and isinstance(event.get("kind"), str)
                and _is_int(event.get("epoch"))):
            bad(f".events[{i}]", "a table with a string kind and an integer epoch", event)
