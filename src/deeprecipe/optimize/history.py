"""What a training run records: one row per epoch, the per-step mini-batch costs, and events."""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field

from deeprecipe.errors import CheckpointError

__all__ = ["History"]

_NUMBERS = {"epoch": (int, "integers"), "step": (int, "integers"),
            "cost": (float, "real numbers"), "cost_ewa": (float, "real numbers")}


@dataclass
class History:
    """epochs: one dict per epoch (epoch, learning_rate, cost, data_cost, train_/dev_ cost and
    error, time); steps: parallel lists (epoch, step, cost, cost_ewa) for every mini-batch;
    events: nudges, roll-backs, early stopping, divergence ({"epoch", "step", "kind",
    "message", ...}).
    """

    epochs: list[dict] = field(default_factory=list)
    steps: dict[str, list] = field(
        default_factory=lambda: {"epoch": [], "step": [], "cost": [], "cost_ewa": []})
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
        return {"epochs": self.epochs, "steps": self.steps, "events": self.events}

    @classmethod
    def from_dict(cls, d: dict, *, what: str = "history") -> History:
        """The History of :meth:`to_dict` output; CheckpointError naming the first part that
        is not what ``to_dict`` writes (``what``, e.g. "the checkpoint's history", leads)."""
        _check(d, what)
        steps = {k: list(v) for k, v in d["steps"].items()} if d.get("steps") else None
        h = cls([dict(r) for r in d.get("epochs", [])], events=[dict(e) for e in
                                                                d.get("events", [])])
        if steps is not None:
            h.steps = steps
        return h

    def truncate(self, epoch: int) -> None:
        """Drop everything after ``epoch`` (kept in events by the caller if wanted)."""
        self.epochs = [r for r in self.epochs if r["epoch"] <= epoch]
        keep = [i for i, e in enumerate(self.steps["epoch"]) if e <= epoch]
        self.steps = {k: [v[i] for i in keep] for k, v in self.steps.items()}

    def to_jsonl(self) -> str:
        """One JSON line per epoch ("type": "epoch"), event and logged step."""
        lines = [json.dumps({"type": "epoch", **r}) for r in self.epochs]
        lines += [json.dumps({"type": "event", **e}) for e in self.events]
        keys = list(self.steps)
        lines += [json.dumps({"type": "step", **dict(zip(keys, vals, strict=True))})
                  for vals in zip(*self.steps.values(), strict=True)]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_jsonl(cls, text: str) -> History:
        h = cls()
        for line in text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            kind = row.pop("type", "epoch")
            if kind == "epoch":
                h.epochs.append(row)
            elif kind == "event":
                h.events.append(row)
            else:
                for k in h.steps:
                    h.steps[k].append(row.get(k))
        return h


def _is_number(value, kind: type) -> bool:
    """An int (for ``kind`` int) or any real number (for float), never a bool."""
    wanted = numbers.Integral if kind is int else numbers.Real
    return isinstance(value, wanted) and not isinstance(value, bool)


def _check(d, what: str) -> None:
    """CheckpointError unless ``d`` has the shape of :meth:`History.to_dict` output: epochs
    (tables with an integer epoch), steps (lists of one length) and events (tables with a kind
    and an epoch); missing parts are allowed (they start empty)."""
    def bad(where: str, expected: str, value) -> None:
        text = repr(value)
        raise CheckpointError(f"{what}{where} must be {expected}, got "
                              f"{text if len(text) <= 60 else text[:57] + '...'}")

    if not isinstance(d, dict):
        bad("", "a table of epochs, steps and events", d)
    epochs, steps, events = d.get("epochs", []), d.get("steps"), d.get("events", [])
    for where, value in ((".epochs", epochs), (".events", events)):
        if not isinstance(value, list):
            bad(where, "a list", value)
    for i, row in enumerate(epochs):
        if not (isinstance(row, dict) and _is_number(row.get("epoch"), int)):
            bad(f".epochs[{i}]", "a table with an integer epoch", row)
    for i, event in enumerate(events):
        if not (isinstance(event, dict) and isinstance(event.get("kind"), str)
                and _is_number(event.get("epoch"), int)):
            bad(f".events[{i}]", "a table with a string kind and an integer epoch", event)
    if steps is None:
        return
    if not isinstance(steps, dict):
        bad(".steps", "a table of lists", steps)
    for key, value in steps.items():
        if not isinstance(value, list):
            bad(f".steps.{key}", "a list", value)
    if len({len(v) for v in steps.values()}) > 1:
        bad(".steps", "lists of one length", {k: len(v) for k, v in steps.items()})
    for key, (kind, plural) in _NUMBERS.items():
        fast = {int} if kind is int else {int, float}  # JSON's own types: one cheap pass
        values = steps.get(key, [])
        if not all(type(v) in fast for v in values):
            for v in values:
                if not _is_number(v, kind):
                    bad(f".steps.{key}", f"a list of {plural}", v)
