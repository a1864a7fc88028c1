"""A Trainer put back at a checkpoint, every field checked before it is taken.

A checkpoint is JSON and arrays that can be edited, truncated or corrupted. Each field is
checked against what this trainer writes (its type, range, keys, the arrays' dtypes and
shapes), so a bad one is one CheckpointError, "the checkpoint's FIELD must be WHAT, got
VALUE" -- never a KeyError or TypeError from deep inside, nor a value that breaks training
epochs later. ``Trainer.resume`` puts the file's name in front of the message.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from deeprecipe.errors import CheckpointError, ConfigError, InvalidTypeError, InvalidValueError
from deeprecipe.optimize import checkpoints
from deeprecipe.optimize.callbacks import EarlyStopping
from deeprecipe.optimize.history import History
from deeprecipe.optimize.schedules import SCHEDULES

if TYPE_CHECKING:
    from deeprecipe.engine.network import Sequential
    from deeprecipe.optimize.trainer import Trainer

__all__ = ["restore"]

_FIELDS = ("epoch", "step_in_epoch", "epoch_sums", "network", "optimizer", "loss", "l2", "l1",
           "batch_size", "m", "rng", "ewa", "history")
_CHECKS = (InvalidValueError, InvalidTypeError, ConfigError)  # a constructor's own checks


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(field: str, expected: str, got: str) -> CheckpointError:
    return CheckpointError(f"the checkpoint's {field} must be {expected}, got {got}")


def _named(prefix: str, exc: Exception) -> CheckpointError:
    """A constructor's message ("beta1 must be ...") as the checkpoint's field's."""
    return CheckpointError(f"the checkpoint's {prefix}{exc}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _names(keys) -> str:
    return ", ".join(repr(k) for k in sorted(map(str, keys)))


def _table(field: str, value, keys=None) -> dict:
    """``value`` if it is a JSON table (with exactly ``keys``, if given)."""
    if isinstance(value, dict) and (keys is None or set(value) == set(keys)):
        return value
    expected = "a table" + ("" if keys is None else f" with keys {_names(keys)}")
    if not isinstance(value, dict):
        raise _bad(field, expected, _short(value))
    missing, extra = set(keys) - set(value), set(value) - set(keys)
    got = " and ".join(([f"no {_names(missing)}"] if missing else [])
                       + ([f"also {_names(extra)}"] if extra else []))
    raise _bad(field, expected, f"one with {got}")


def _real(field: str, value, *, low: float | None = None) -> None:
    if not (_is_real(value) and math.isfinite(value) and (low is None or value >= low)):
        raise _bad(field, "a finite real number" + ("" if low is None else f" >= {low}"),
                   _short(value))


def _like(field: str, template, value) -> None:
    """``value`` has the JSON shape of ``template`` (a callback's state as it writes it)."""
    if isinstance(template, dict):
        _table(field, value, keys=template)
        for key, item in template.items():
            _like(f"{field}.{key}", item, value[key])
        return
    for kind, ok, expected in (
            (bool, lambda v: isinstance(v, bool), "true or false"),
            (int, _is_int, "an integer"),
            (float, lambda v: _is_real(v) and not math.isnan(v), "a real number"),
            (str, lambda v: isinstance(v, str), "a string"),
            (list, lambda v: isinstance(v, list), "a list")):
        if isinstance(template, kind):
            if not ok(value):
                raise _bad(field, expected, _short(value))
            return


def _check_array(field: str, value: np.ndarray, mine: np.ndarray) -> None:
    if value.dtype != mine.dtype or value.shape != mine.shape:
        raise _bad(field, f"{mine.dtype} of shape {mine.shape}",
                   f"{value.dtype} of shape {value.shape}")
    if not np.isfinite(value).all():
        raise _bad(field, "finite", "NaN or inf")


def _check_arrays(trainer: Trainer, arrays: dict[str, np.ndarray], stepping: bool) -> None:
    """The network's arrays (dtype, shape, finite), the optimizer's moments (finite) and
    the permutation of a mid-epoch checkpoint (0..m-1, each once)."""
    for key, mine in trainer.net.arrays().items():
        if key not in arrays:
            raise _bad(f"array {key!r}", f"{mine.dtype} of shape {mine.shape}", "nothing")
        _check_array(f"array {key!r}", arrays[key], mine)
    for key, value in arrays.items():
        if key.startswith("opt/") and value.dtype.kind == "f" and not np.isfinite(value).all():
            raise _bad(f"array {key!r}", "finite", "NaN or inf")
    perm, m = arrays.get("perm"), trainer.m
    if perm is None:
        if stepping:
            raise CheckpointError("a mid-epoch checkpoint lacks its permutation: it is corrupt")
        return
    ok = perm.dtype.kind in "iu" and perm.shape == (m,) and perm.min() >= 0 and perm.max() < m
    if not (ok and (np.bincount(perm.astype(np.int64), minlength=m) == 1).all()):
        raise _bad("array 'perm'", f"a permutation of the rows 0..{m - 1}",
                   f"{perm.dtype} of shape {perm.shape} that is not one")


def _check_network(net: Sequential, cfg) -> None:
    """The form of the network's config and each hyperparameter (e.g. keep_prob) as the layer
    checks it; another structure is ``load_hyperparameters``'s to name."""
    cfg = _table("network", cfg)
    layers = cfg.get("layers")
    if not isinstance(layers, list):
        raise _bad("network.layers", "a list of layer tables", _short(layers))
    for i, saved in enumerate(layers):
        if not (isinstance(saved, dict) and isinstance(saved.get("type"), str)):
            raise _bad(f"network.layers[{i}]", "a table with a string type", _short(saved))
    if not _is_int(cfg.get("input_dim")):
        raise _bad("network.input_dim", "an integer", _short(cfg.get("input_dim")))
    if len(layers) != len(net.layers):
        return
    for i, (layer, saved) in enumerate(zip(net.layers, layers, strict=True)):
        ours = layer.get_config()
        if saved["type"] != ours.pop("type"):
            continue  # another structure: load_hyperparameters names it
        for name in layer.hyperparameters:
            if name not in saved:
                raise _bad(f"network.layers[{i}]", f"a table with its {name}", _short(saved))
            try:  # the layer's own check of the value (ours has every other field)
                type(layer)(**{**ours, name: saved[name]})
            except _CHECKS as exc:
                raise _named(f"network.layers[{i}].", exc) from None


def _check_optimizer(optimizer, cfg) -> None:
    """The same optimizer type, its keys, and each value as its constructor checks it."""
    mine = optimizer.get_config()
    if _table("optimizer", cfg).get("type") != mine["type"]:
        raise _bad("optimizer.type", f"{mine['type']!r}, this run's optimizer (resume with the "
                   "same optimizer)", _short(cfg.get("type")))
    _table("optimizer", cfg, keys=mine)
    try:
        type(optimizer)(**{k: v for k, v in cfg.items() if k != "type"})
    except _CHECKS as exc:
        raise _named("optimizer.", exc) from None
    except TypeError:  # an optimizer whose constructor takes other names: taken as saved
        pass


def _check_schedule(cfg):
    """The saved schedule, built (its fields checked as at construction), or None."""
    if cfg is None:
        return None
    cfg = _table("schedule", cfg)
    by_name = {**SCHEDULES, **{cls.__name__: cls for cls in SCHEDULES.values()}}
    kind = cfg.get("type")
    cls = by_name.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise _bad("schedule.type", f"one of {_names(c.__name__ for c in SCHEDULES.values())}",
                   _short(kind))
    _table("schedule", cfg, keys={"type", *(f.name for f in dataclasses.fields(cls))})
    try:
        return cls(**{k: v for k, v in cfg.items() if k != "type"})
    except _CHECKS as exc:
        raise _named("schedule.", exc) from None
    except (TypeError, ValueError):
        raise _bad("schedule", f"a {cls.__name__} configuration", _short(cfg)) from None


def _check_callbacks(trainer: Trainer, saved, arrays: dict[str, np.ndarray]) -> None:
    """Each saved callback state that will be loaded has the shape this callback writes; the
    best weights early stopping kept are the network's arrays."""
    if not isinstance(saved, list):
        raise _bad("callbacks", "a list", _short(saved))
    for i, state in enumerate(saved):
        if not (isinstance(state, dict) and isinstance(state.get("type"), str)):
            raise _bad(f"callbacks[{i}]", "a table with a string type", _short(state))
    for i, cb in enumerate(trainer.callbacks):
        if i >= len(saved) or saved[i]["type"] != type(cb).__name__:
            continue  # not loaded: the callback starts afresh
        _like(f"callbacks[{i}]", {"type": type(cb).__name__, **cb.state_dict()[0]}, saved[i])
        kept = {k[len(f"cb{i}/"):]: a for k, a in arrays.items() if k.startswith(f"cb{i}/")}
        if isinstance(cb, EarlyStopping) and kept:
            mine = trainer.net.arrays()
            if set(kept) != set(mine):
                raise _bad(f"callbacks[{i}] arrays", f"the network's {sorted(mine)}",
                           _short(sorted(kept)))
            for key, value in kept.items():
                _check_array(f"array 'cb{i}/{key}'", value, mine[key])


def _check(trainer: Trainer, meta: dict, arrays: dict[str, np.ndarray]):
    """Every field, before any is taken; (the schedule, the history) to take."""
    missing = [key for key in _FIELDS if key not in meta]
    if missing:
        raise CheckpointError(f"the checkpoint lacks {', '.join(missing)}: it is incomplete")
    for key in ("epoch", "step_in_epoch"):
        if not (_is_int(meta[key]) and meta[key] >= 0):
            raise _bad(key, "an integer >= 0", _short(meta[key]))
    for key, mine in (("m", trainer.m), ("batch_size", trainer.batch_size),
                      ("loss", trainer.loss.name)):
        if meta[key] != mine:
            raise CheckpointError(f"the checkpoint has {key}={_short(meta[key])} but this run "
                                  f"has {key}={mine!r}; resume with the same data and settings")
    n_batches = -(-trainer.m // trainer.batch_size)
    if meta["step_in_epoch"] >= n_batches:
        raise _bad("step_in_epoch", f"below {n_batches} (the batches of an epoch)",
                   _short(meta["step_in_epoch"]))
    sums = meta["epoch_sums"]
    if not (isinstance(sums, list) and len(sums) == 2):
        raise _bad("epoch_sums", "a list of 2 numbers", _short(sums))
    for i, value in enumerate(sums):
        _real(f"epoch_sums[{i}]", value)
    _check_network(trainer.net, meta["network"])
    _check_arrays(trainer, arrays, meta["step_in_epoch"] > 0 and trainer.batch_size < trainer.m)
    _check_optimizer(trainer.optimizer, meta["optimizer"])
    schedule = _check_schedule(meta.get("schedule"))
    for key in ("l2", "l1"):
        _real(key, meta[key], low=0.0)
    layers = {str(i) for i, layer in enumerate(trainer.net.layers) if layer.rng is not None}
    _table("rng.layers", _table("rng", meta["rng"], ("shuffle", "augment", "layers"))["layers"],
           keys=layers)
    ewa = _table("ewa", meta["ewa"], keys=("t", "v"))
    if not (_is_int(ewa["t"]) and ewa["t"] >= 0):
        raise _bad("ewa.t", "an integer >= 0", _short(ewa["t"]))
    _real("ewa.v", ewa["v"])
    history = History.from_dict(meta["history"], what="the checkpoint's history")
    for i, row in enumerate(history.epochs):
        _real(f"history.epochs[{i}].cost", row.get("cost"))
    _check_callbacks(trainer, meta.get("callbacks", []), arrays)
    if not isinstance(meta.get("stopped", False), bool):
        raise _bad("stopped", "true or false", _short(meta["stopped"]))
    return schedule, history


def restore(trainer: Trainer, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Put ``trainer`` at the position ``meta`` and ``arrays`` (``Trainer.state_dict``) hold;
    CheckpointError naming the first field that does not fit, before any is taken."""
    schedule, history = _check(trainer, meta, arrays)
    net = trainer.net
    net.load_hyperparameters(meta["network"])  # CheckpointError for another structure
    net.load_arrays(arrays)
    trainer.optimizer.load_config(meta["optimizer"])
    trainer.optimizer.load_state_dict({k[4:]: a for k, a in arrays.items()
                                       if k.startswith("opt/")})
    if schedule is not None:
        trainer.schedule = schedule
    trainer.optimizer.learning_rate = float(meta["optimizer"]["learning_rate"])
    trainer.l2, trainer.l1 = meta["l2"], meta["l1"]
    rngs = meta["rng"]  # each state is checked before it is set: a corrupt one is named
    checkpoints.restore_rng("shuffle", trainer.shuffle_rng, rngs["shuffle"])
    checkpoints.restore_rng("augment", trainer.augment_rng, rngs["augment"])
    for i, state in rngs["layers"].items():
        checkpoints.restore_rng(f"layer {i}", net.layers[int(i)].rng, state)
    trainer.epoch, trainer.step_in_epoch = meta["epoch"], meta["step_in_epoch"]
    trainer.epoch_sums = list(meta["epoch_sums"])
    trainer.perm = arrays.get("perm")
    trainer.ewa.load_state_dict(meta["ewa"])
    trainer.history = history
    trainer.stop_training = bool(meta.get("stopped", False))
    saved_cbs = meta.get("callbacks", [])
    for i, cb in enumerate(trainer.callbacks):
        if i < len(saved_cbs) and saved_cbs[i]["type"] == type(cb).__name__:
            prefix = f"cb{i}/"
            cb.load_state_dict(saved_cbs[i], {k[len(prefix):]: a for k, a in arrays.items()
                                              if k.startswith(prefix)})
