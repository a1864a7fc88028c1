"""Resumable checkpoints: arrays in .npz (never pickled) plus a JSON file, written atomically.

``epoch-NNNN.npz`` + ``epoch-NNNN.json`` after NNNN complete epochs; an interrupted run writes
``epoch-NNNN-step-SSSSSS.*`` at its exact position. The .json is written last, so a checkpoint
without its .json is incomplete and ignored. Everything the loop needs is inside: parameters,
BatchNorm running statistics, optimizer state (with t), learning rate, every RNG state, the
permutation and position in the epoch, the history and the callbacks' state.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from deeprecipe._io import load_json, load_npz, save_npz_atomic, write_json_atomic
from deeprecipe._random import set_generator_state
from deeprecipe.errors import CheckpointError, InvalidValueError

if TYPE_CHECKING:
    from deeprecipe.engine.network import Sequential

__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "list_checkpoints",
           "save_weights", "load_weights", "prune", "restore_rng"]

FORMAT = "deeprecipe-checkpoint/1"
_NAME = re.compile(r"^epoch-(\d{4,})(?:-step-(\d{6,}))?\.json$")


def _stem(epoch: int, step: int) -> str:
    return f"epoch-{epoch:04d}" + (f"-step-{step:06d}" if step else "")


def save_checkpoint(directory: str | Path, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    """Write a state (``Trainer.state_dict()``) to directory/epoch-NNNN[-step-SSSSSS].{npz,json}.

    The files hold what the trainer hands over; ``meta`` names its position (epoch,
    step_in_epoch) and is stamped with the checkpoint format.
    """
    directory = Path(directory)
    meta = {"format": FORMAT, **meta}
    stem = _stem(meta["epoch"], meta["step_in_epoch"])
    save_npz_atomic(directory / f"{stem}.npz", arrays)
    write_json_atomic(directory / f"{stem}.json", meta)  # last: marks the checkpoint complete
    return directory / f"{stem}.json"


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Complete checkpoints (their .json), oldest first by (epoch, step)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and path.with_suffix(".npz").exists():
            found.append(((int(match[1]), int(match[2] or 0)), path))
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The most advanced complete checkpoint in ``directory``, or None."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def load_checkpoint(path: str | Path, net: Sequential | None = None, m: int = 0
                    ) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata, arrays) of a checkpoint given by its .json or .npz path.

    With the ``net`` it belongs to (and its ``m`` training examples), the arrays' shapes and
    total size are checked from their headers before anything is inflated.
    """
    path = Path(path)
    meta = load_json(path.with_suffix(".json"))
    shapes, max_bytes = None, None
    if net is not None:  # params, state, optimizer moments, callbacks' best weights, perm
        shapes = {**{f"param/{k}": p.shape for k, p in net.params.items()},
                  **{f"state/{k}": s.shape for k, s in net.state.items()}}
        max_bytes = 8 * (8 * (net.n_params + sum(s.size for s in net.state.values())) + m) \
            + (1 << 20)
    arrays = load_npz(path.with_suffix(".npz"), shapes, max_bytes=max_bytes)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a deeprecipe checkpoint")
    for key in ("epoch", "step_in_epoch"):  # a position, never before the start
        value = meta.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CheckpointError(f"{path}: the checkpoint's {key} must be an integer >= 0, "
                                  f"got {value!r}")
    return meta, arrays


def restore_rng(name: str, rng: np.random.Generator, state) -> None:
    """Put ``rng`` back at its saved ``state``; CheckpointError naming it if ``state`` is not
    a state of its bit generator (edited, truncated or of another type), checked before it is
    set."""
    try:
        set_generator_state(rng, state)
    except InvalidValueError as exc:
        raise CheckpointError(f"its {name} RNG state is {exc}: the checkpoint is corrupt") \
            from None


def save_weights(path: str | Path, net: Sequential) -> None:
    """Parameters and BatchNorm state of ``net`` in one .npz."""
    save_npz_atomic(path, net.arrays())


def load_weights(path: str | Path, net: Sequential) -> None:
    """Load arrays written by ``save_weights`` into ``net`` (shapes and names checked)."""
    arrays = load_npz(path)
    net.load_arrays(arrays)


def prune(directory: str | Path, keep: int) -> None:
    """Delete all but the ``keep`` most advanced checkpoints."""
    for json_path in list_checkpoints(directory)[:-keep]:
        json_path.unlink(missing_ok=True)
        json_path.with_suffix(".npz").unlink(missing_ok=True)
