"""What a training run records: one row per epoch, the per-step mini-batch costs, and events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["History"]


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
    def from_dict(cls, d: dict) -> History:
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
