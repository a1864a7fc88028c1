"""Input checks that fail early with messages naming the problem and what was expected."""

from __future__ import annotations

import numbers
import os
from collections.abc import Hashable
from pathlib import Path

import numpy as np

from deeprecipe.errors import ConfigError, DataError, InvalidTypeError, InvalidValueError


def check_in_range(name: str, value, *, low=None, high=None, closed: str = "both"):
    """Return ``value`` if low <= value <= high (ends per ``closed``), else InvalidValueError.

    >>> check_in_range("keep_prob", 0.5, low=0.0, high=1.0, closed="right")
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{name} must be a real number, got {value!r}")
    left = closed in ("both", "left")
    right = closed in ("both", "right")
    # a Python int of any size is finite (np.isfinite rejects ints beyond int64)
    finite = isinstance(value, numbers.Integral) or bool(np.isfinite(value))
    ok = finite and (
        (low is None or (value >= low if left else value > low))
        and (high is None or (value <= high if right else value < high)))
    if not ok:
        if low is None and high is None:
            expected = "a finite number"
        elif high is None:
            expected = f"{'>=' if left else '>'} {low}"
        elif low is None:
            expected = f"{'<=' if right else '<'} {high}"
        else:
            expected = f"in {'[' if left else '('}{low}, {high}{']' if right else ')'}"
        raise InvalidValueError(f"{name} must be {expected}, got {value!r}")
    return value


def check_keep_prob(name: str, value) -> float:
    """``value`` if it is a keep probability in [float32 tiny, 1]: smaller ones become 0 in
    float32, and A * D / keep_prob would divide by zero.

    >>> check_keep_prob("keep_prob", 0.8)
    0.8
    """
    value = check_in_range(name, value, low=0.0, high=1.0, closed="right")
    tiny = float(np.finfo(np.float32).tiny)
    if value < tiny:
        raise InvalidValueError(f"{name} must be in (0.0, 1.0] and at least {tiny:.3g} "
                                f"(smaller ones become 0 in float32), got {value!r}")
    return value


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int if it is an integer within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidTypeError(f"{name} must be an integer, got {value!r}")
    return int(check_in_range(name, int(value), low=low, high=high))


def check_bool(name: str, value) -> bool:
    """``value`` if it is True or False (a NumPy bool too); else InvalidTypeError, since a
    string such as "no" would silently count as True.

    >>> check_bool("stratify", False)
    False
    """
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidTypeError(f"{name} must be True or False, got {value!r:.80}")
    return bool(value)


def check_workers(name: str, value) -> int:
    """``value`` if it is a number of worker processes in [1, 4 per CPU]: a pool forks them
    all at once, and more than that only wait for a CPU.

    >>> check_workers("workers", 2)
    2
    """
    value = check_int(name, value)
    most = 4 * (os.cpu_count() or 1)
    if not 1 <= value <= most:
        raise InvalidValueError(f"{name} must be in [1, {most}] (4 per CPU: more processes "
                                f"only wait for one), got {value}")
    return value


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, Hashable) or value not in choices:  # an array compares per item
        allowed = ", ".join(repr(c) for c in choices)
        raise InvalidValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_float_dtype(name: str, dtype) -> np.dtype:
    """``dtype`` as np.float32 or np.float64; InvalidValueError for anything else.

    >>> check_float_dtype("dtype", "float32")
    dtype('float32')
    """
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except (TypeError, ValueError):  # np.dtype("bogus")
        dt = None
    if dt not in (np.float32, np.float64):
        raise InvalidValueError(f"{name} must be float32 or float64, got {dt or dtype!r}")
    return dt


def check_dict(name: str, value, kind: str = "of arrays", error: type = InvalidTypeError
               ) -> dict:
    """``value`` if it is a dict; else ``error`` saying ``name`` must be a dict ``kind``."""
    if not isinstance(value, dict):
        raise error(f"{name} must be a dict {kind}, got {value!r:.80}")
    return value


def as_real_array(x, name: str) -> np.ndarray:
    """``x`` as an ndarray of real numbers (or booleans); else DataError naming ``name``."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype == object or np.issubdtype(arr.dtype, np.complexfloating) or not (
            np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DataError(f"{name} must be real numeric, got an array of dtype {arr.dtype}")
    return arr


_FLOATS = frozenset({np.dtype(np.float32), np.dtype(np.float64)})


def as_float_array(x, name: str, *, dtype=np.float64, ndim: int | None = None) -> np.ndarray:
    """``x`` as a real array of ``ndim`` dimensions (any if None): float32 and float64 arrays
    are kept, other real or boolean ones converted to ``dtype``; else DataError naming ``name``.

    >>> as_float_array([[1, 2]], "X", ndim=2).dtype
    dtype('float64')
    """
    # an ndarray of float32/float64 (most calls) skips the slower general checks
    arr = x if type(x) is np.ndarray and x.dtype in _FLOATS else as_real_array(x, name)
    if ndim is not None and arr.ndim != ndim:
        rows = " (samples as rows)" if ndim == 2 else ""
        raise DataError(f"{name} must be {ndim}-D{rows}, got shape {arr.shape}")
    if arr.dtype not in _FLOATS:
        with np.errstate(over="ignore"):
            arr = arr.astype(dtype)
    return arr


def registered_class(what: str, cfg, registry: dict) -> tuple[type, dict]:
    """(class, keyword arguments) of a ``get_config()`` dict whose "type" is a class name or a
    registry name; ConfigError / InvalidValueError otherwise."""
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ConfigError(f"a {what} config must be a dict with a 'type' key, got {cfg!r}")
    kwargs = dict(cfg)
    kind = kwargs.pop("type")
    by_class = {cls.__name__: cls for cls in registry.values()}
    cls = by_class.get(kind) or registry.get(kind)
    if cls is None:
        allowed = ", ".join(repr(n) for n in (*registry, *by_class))
        raise InvalidValueError(f"{what} type must be one of {allowed}, got {kind!r}")
    return cls, kwargs


def check_features(X, *, name: str = "X", dtype=np.float32, n_features: int | None = None,
                   ndim: int = 2) -> np.ndarray:
    """X as a finite float array of shape (m, n_features) in ``dtype``; else DataError."""
    arr = as_real_array(X, name)
    if arr.ndim != ndim:
        raise DataError(f"{name} must be {ndim}-D (samples as rows), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"{name} has no samples (shape {arr.shape})")
    if n_features is not None and arr.shape[1] != n_features:
        raise DataError(f"{name} has {arr.shape[1]} features, expected {n_features}")
    with np.errstate(over="ignore"):  # values beyond the dtype's range become inf: caught below
        arr = np.ascontiguousarray(arr, dtype=dtype)
    # NaN and inf propagate through a sum, which needs no array as large as X; in the array's
    # own dtype it is twice as fast as in float64 (a sum that merely overflows is rechecked)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = bool(np.isfinite(arr.sum()))
    if not finite and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=tuple(range(1, arr.ndim))).sum())
        raise DataError(f"{name} contains NaN or inf values in {bad} sample(s); clean or "
                        "impute them first")
    return arr


def check_path(name: str, value) -> Path:
    """``value`` as a Path if it is a non-empty str or an os.PathLike; else InvalidTypeError
    (or InvalidValueError for ""), instead of pathlib's TypeError.

    >>> check_path("out", "runs/a").as_posix()
    'runs/a'
    """
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidTypeError(f"{name} must be a path (a str or os.PathLike), got {value!r:.80}")
    if value == "":
        raise InvalidValueError(f"{name} must not be empty (use '.' for this folder)")
    return Path(value)


def check_name(what: str, value) -> str:
    """``value`` if it is one safe path component: not empty, not ``.``/``..``, no path
    separator, no control character, at most 100 characters.

    >>> check_name("name", "run-1")
    'run-1'
    """
    if not isinstance(value, str):
        raise InvalidTypeError(f"{what} must be a string, got {value!r}")
    bad = (not value.strip() or value in (".", "..") or len(value) > 100
           or any(c in value for c in "/\\:") or any(ord(c) < 32 or ord(c) == 127
                                                     for c in value))
    if bad:
        raise InvalidValueError(f"{what} must be one folder name (not empty, not '.' or '..', "
                                "no '/', '\\', ':' or control characters, at most 100 "
                                f"characters), got {value!r}; use --out to choose another "
                                "place")
    return value
