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
from deeprecipe._random import generator_state, set_generator_state
from deeprecipe.errors import CheckpointError
from deeprecipe.history import History

if TYPE_CHECKING:
    from deeprecipe.network import Sequential
    from deeprecipe.training import Trainer

__all__ = ["save_checkpoint", "load_checkpoint", "latest_checkpoint", "list_checkpoints",
           "save_weights", "load_weights", "prune"]

FORMAT = "deeprecipe-checkpoint/1"
_NAME = re.compile(r"^epoch-(\d{4,})(?:-step-(\d{6,}))?\.json$")


def trainer_state(trainer: Trainer) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata, arrays) describing ``trainer`` completely."""
    net = trainer.net
    arrays = {f"param/{k}": p for k, p in net.params.items()}
    arrays.update({f"state/{k}": s for k, s in net.state.items()})
    arrays.update({f"opt/{k}": a for k, a in trainer.optimizer.state_dict().items()})
    if trainer.perm is not None:
        arrays["perm"] = trainer.perm
    callbacks = []
    for i, cb in enumerate(trainer.callbacks):
        meta, cb_arrays = cb.state_dict()
        callbacks.append({"type": type(cb).__name__, **meta})
        arrays.update({f"cb{i}/{k}": a for k, a in cb_arrays.items()})
    schedule = trainer.schedule
    meta = {
        "format": FORMAT,
        "epoch": trainer.epoch,
        "step_in_epoch": trainer.step_in_epoch,
        "epoch_sums": list(trainer.epoch_sums),
        "network": net.get_config(),
        "optimizer": trainer.optimizer.get_config(),
        "schedule": schedule.get_config() if hasattr(schedule, "get_config") else None,
        "loss": trainer.loss.name, "l2": trainer.l2, "l1": trainer.l1,
        "batch_size": trainer.batch_size, "m": trainer.m,
        "rng": {"shuffle": generator_state(trainer.shuffle_rng),
                "augment": generator_state(trainer.augment_rng),
                "layers": {str(i): generator_state(layer.rng)
                           for i, layer in enumerate(net.layers) if layer.rng is not None}},
        "ewa": trainer.ewa.state_dict(),
        "history": trainer.history.to_dict(),
        "callbacks": callbacks,
        "stopped": bool(trainer.stop_training),  # a callback (early stopping) ended training
    }
    return meta, arrays


def restore_trainer(trainer: Trainer, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Put ``trainer`` back at the saved position; CheckpointError if it does not match."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"not a deeprecipe checkpoint (format {found!r})")
    try:
        _restore(trainer, meta, arrays)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"the checkpoint is incomplete or corrupt ({type(exc).__name__}: "
                              f"{exc}); resume from an earlier one") from None


def _restore(trainer: Trainer, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    net = trainer.net
    saved_layers = meta["network"]["layers"]
    ours = [layer.get_config() for layer in net.layers]
    if saved_layers != ours or meta["network"]["input_dim"] != net.input_dim:
        raise CheckpointError("the checkpoint was written for a different network: saved "
                              f"{[c['type'] for c in saved_layers]} with input_dim "
                              f"{meta['network']['input_dim']}, this run has "
                              f"{[c['type'] for c in ours]} with input_dim {net.input_dim}")
    for key in ("m", "batch_size", "loss"):
        mine = trainer.m if key == "m" else (trainer.loss.name if key == "loss"
                                             else trainer.batch_size)
        if meta[key] != mine:
            raise CheckpointError(f"the checkpoint has {key}={meta[key]!r} but this run has "
                                  f"{key}={mine!r}; resume with the same data and settings")
    net.set_arrays({k[6:]: a for k, a in arrays.items() if k.startswith("param/")},
                   {k[6:]: a for k, a in arrays.items() if k.startswith("state/")})
    trainer.optimizer.load_state_dict({k[4:]: a for k, a in arrays.items()
                                       if k.startswith("opt/")})
    trainer.optimizer.learning_rate = float(meta["optimizer"]["learning_rate"])
    trainer.l2, trainer.l1 = meta["l2"], meta["l1"]
    set_generator_state(trainer.shuffle_rng, meta["rng"]["shuffle"])
    set_generator_state(trainer.augment_rng, meta["rng"]["augment"])
    for i, state in meta["rng"]["layers"].items():
        set_generator_state(net.layers[int(i)].rng, state)
    trainer.epoch, trainer.step_in_epoch = meta["epoch"], meta["step_in_epoch"]
    trainer.epoch_sums = list(meta["epoch_sums"])
    trainer.perm = arrays.get("perm")
    if trainer.step_in_epoch and trainer.perm is None and trainer.batch_size < trainer.m:
        raise CheckpointError("a mid-epoch checkpoint lacks its permutation: it is corrupt")
    trainer.ewa.load_state_dict(meta["ewa"])
    trainer.history = History.from_dict(meta["history"])
    trainer.stop_training = bool(meta.get("stopped", False))
    saved_cbs = meta.get("callbacks", [])
    for i, cb in enumerate(trainer.callbacks):
        if i < len(saved_cbs) and saved_cbs[i]["type"] == type(cb).__name__:
            prefix = f"cb{i}/"
            cb.load_state_dict(saved_cbs[i], {k[len(prefix):]: a for k, a in arrays.items()
                                              if k.startswith(prefix)})


def _stem(epoch: int, step: int) -> str:
    return f"epoch-{epoch:04d}" + (f"-step-{step:06d}" if step else "")


def save_checkpoint(directory: str | Path, trainer: Trainer) -> Path:
    """Write the trainer's state to directory/epoch-NNNN[-step-SSSSSS].{npz,json}."""
    directory = Path(directory)
    meta, arrays = trainer_state(trainer)
    stem = _stem(trainer.epoch, trainer.step_in_epoch)
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


def load_checkpoint(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(metadata, arrays) of a checkpoint given by its .json or .npz path."""
    path = Path(path)
    meta = load_json(path.with_suffix(".json"))
    arrays = load_npz(path.with_suffix(".npz"))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a deeprecipe checkpoint")
    return meta, arrays


def save_weights(path: str | Path, net: Sequential) -> None:
    """Parameters and BatchNorm state of ``net`` in one .npz."""
    save_npz_atomic(path, {**{f"param/{k}": p for k, p in net.params.items()},
                           **{f"state/{k}": s for k, s in net.state.items()}})


def load_weights(path: str | Path, net: Sequential) -> None:
    """Load arrays written by ``save_weights`` into ``net`` (shapes and names checked)."""
    arrays = load_npz(path)
    net.set_arrays({k[6:]: a for k, a in arrays.items() if k.startswith("param/")},
                   {k[6:]: a for k, a in arrays.items() if k.startswith("state/")})


def prune(directory: str | Path, keep: int) -> None:
    """Delete all but the ``keep`` most advanced checkpoints."""
    for json_path in list_checkpoints(directory)[:-keep]:
        json_path.unlink(missing_ok=True)
        json_path.with_suffix(".npz").unlink(missing_ok=True)
