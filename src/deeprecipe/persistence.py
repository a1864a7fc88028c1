"""Save and load models without pickle: arrays in ``model.npz``, everything else in ``model.json``.

A model is a built :class:`~deeprecipe.network.Sequential` or a fitted
:class:`~deeprecipe.estimator.DeepClassifier` / :class:`~deeprecipe.estimator.DeepRegressor`;
``load`` returns the same kind of object. The files:

- ``model.npz`` (written first, atomically): ``param/<key>`` and ``state/<key>`` arrays keyed like
  ``net.params`` / ``net.state`` (e.g. ``param/0.W``, ``state/1.running_mean``) and, for an
  estimator, its optimizer state ``optimizer/<key>`` (so ``partial_fit`` continues exactly).
  Read back with ``np.load(..., allow_pickle=False)``: no object arrays, ever.
- ``model.json`` (written last, atomically; it commits the pair): format name and version,
  ``kind``, ``dtype``, the network's ``get_config()``, the array names, the npz's SHA-256, an
  optional ``preprocessing`` dict (e.g. ``Standardizer.to_dict()``), ``metadata``, and for an
  estimator its JSON-able ``get_params()`` and fitted attributes (``classes_``,
  ``loss_curve_``, ...).

Every problem with the files (missing, corrupt, from a newer version, not matching each other or
the network) raises :class:`~deeprecipe.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from deeprecipe._io import load_json, load_npz, save_npz_atomic, write_json_atomic
from deeprecipe._validation import check_path
from deeprecipe._version import __version__
from deeprecipe.data import Standardizer
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import CheckpointError, DeepRecipeError, InvalidTypeError, NotFittedError

__all__ = ["FORMAT", "FORMAT_VERSION", "ESTIMATORS", "jsonable", "register_estimator", "save",
           "load", "load_info", "load_preprocessing", "model_paths"]

FORMAT = "deeprecipe.model"
FORMAT_VERSION = 1
#: The estimator classes a model file may hold, by name; the estimators register themselves
#: (they sit above this module), so persistence never imports them.
ESTIMATORS: dict[str, type] = {}


def register_estimator(cls: type) -> type:
    """Let ``save``/``load`` handle ``cls`` (a class decorator for the estimators).

    ``cls`` provides ``_model_doc() -> (JSON dict, {name: array})`` and the classmethod
    ``_from_model_doc(doc, network, arrays)``: the estimator owns its fitted state; the files
    hold what it hands over."""
    ESTIMATORS[cls.__name__] = cls
    return cls


def model_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(npz, json) paths for a directory (``dir/model.*``) or a base name (``base.*``).

    A path ending in ``.npz`` or ``.json`` names the pair by its base.

    >>> [p.as_posix() for p in model_paths("runs/a/final")]
    ['runs/a/final.npz', 'runs/a/final.json']
    >>> [p.name for p in model_paths("runs/a/final.json")]
    ['final.npz', 'final.json']
    """
    check_path("path", path)
    text = os.fspath(path)  # not via Path: a trailing slash names a new directory
    if text.endswith(("/", os.sep)) or Path(text).is_dir():
        return Path(text) / "model.npz", Path(text) / "model.json"
    for suffix in (".npz", ".json"):
        if text.endswith(suffix):
            text = text[:-len(suffix)]
    return Path(text + ".npz"), Path(text + ".json")


def _network_of(model) -> Sequential:
    if isinstance(model, Sequential):
        if not model.built:
            raise NotFittedError("cannot save a network that is not built; call "
                                 "net.build(n_features) or train it first")
        return model
    if type(model).__name__ in ESTIMATORS:
        if not hasattr(model, "network_"):
            raise NotFittedError(f"this {type(model).__name__} is not fitted yet; call fit() "
                                 "before saving it")
        return model.network_
    raise InvalidTypeError("save() takes a Sequential, a DeepClassifier or a DeepRegressor, got "
                           f"{type(model).__name__}")


def jsonable(value) -> bool:
    """Whether ``value`` can be written as JSON (NaN allowed)."""
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True


def save(model, path: str | os.PathLike, *, preprocessing=None,
         metadata: dict | None = None) -> Path:
    """Write ``model`` to ``model.npz`` + ``model.json`` (no pickle); return the JSON path.

    Parameters
    ----------
    model : Sequential (built), DeepClassifier or DeepRegressor (fitted)
    path : str or PathLike
        A directory (files ``model.npz`` and ``model.json`` in it) or a base name
        (``base.npz`` and ``base.json``); see :func:`model_paths`.
    preprocessing : object with ``to_dict()`` (e.g. a fitted Standardizer), dict or None
        Stored as JSON; read back with :func:`load_preprocessing`.
    metadata : dict, optional
        Extra JSON-able information (data set name, scores...).

    Returns
    -------
    Path of the JSON file.

    Examples
    --------
    >>> import tempfile, deeprecipe as dr
    >>> net = dr.Sequential([dr.layers.Dense(3), dr.layers.Sigmoid()], input_dim=2,
    ...                     random_state=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save(net, d)
    ...     same = load(d)
    >>> bool(np.array_equal(same.params["0.W"], net.params["0.W"]))
    True
    """
    net = _network_of(model)
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidTypeError(f"metadata must be a dict of JSON values, got {metadata!r:.80}")
    arrays = net.arrays()
    estimator = None
    if not isinstance(model, Sequential):
        estimator, opt_arrays = model._model_doc()  # the estimator knows its own state
        arrays.update(opt_arrays)
    if preprocessing is not None and not isinstance(preprocessing, dict):
        if not callable(getattr(preprocessing, "to_dict", None)):
            raise InvalidTypeError("preprocessing must be a dict or have to_dict() (e.g. a "
                                   f"Standardizer), got {type(preprocessing).__name__}")
        preprocessing = preprocessing.to_dict()
    meta = {"deeprecipe_version": __version__,
            "saved_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            **(metadata or {})}
    if not jsonable(preprocessing) or not jsonable(meta):
        raise InvalidTypeError("preprocessing and metadata must be JSON-serializable")
    npz_path, json_path = model_paths(path)
    save_npz_atomic(npz_path, arrays)
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": type(model).__name__,
           "dtype": net.dtype.name, "network": net.get_config(), "arrays": sorted(arrays),
           "npz_file": npz_path.name, "npz_sha256": _sha256(npz_path), "estimator": estimator,
           "preprocessing": preprocessing, "metadata": meta}
    write_json_atomic(json_path, doc)
    return json_path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_info(path: str | os.PathLike) -> dict:
    """The validated contents of ``model.json`` (no arrays are read); CheckpointError."""
    json_path = model_paths(path)[1]
    doc = load_json(json_path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{json_path}: not a deeprecipe model file (expected "
                              f"format {FORMAT!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{json_path}: format_version must be an int >= 1, got "
                              f"{version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{json_path}: written in model format {version} by a newer "
                              f"deeprecipe; this version reads format {FORMAT_VERSION} only")
    checks = {"kind": doc.get("kind") in ("Sequential", *ESTIMATORS),
              "dtype": doc.get("dtype") in ("float32", "float64"),
              "network": isinstance(doc.get("network"), dict),
              "arrays": isinstance(doc.get("arrays"), list),
              "estimator": (doc.get("estimator") is None) == (doc.get("kind") == "Sequential")}
    for key, ok in checks.items():
        if not ok:
            raise CheckpointError(f"{json_path}: invalid {key!r} entry {doc.get(key)!r}")
    return doc


def load_preprocessing(path: str | os.PathLike):
    """The saved preprocessing: a Standardizer if one was saved, else the dict (or None)."""
    pre = load_info(path).get("preprocessing")
    if isinstance(pre, dict) and pre.get("type") == "Standardizer":
        try:
            return Standardizer.from_dict(pre)
        except DeepRecipeError as exc:
            raise CheckpointError(f"{model_paths(path)[1]}: bad preprocessing: {exc}") from None
    return pre


def load(path: str | os.PathLike):
    """Read a model written by :func:`save`: a Sequential, DeepClassifier or DeepRegressor.

    Parameters
    ----------
    path : str or PathLike
        The directory or base name given to :func:`save` (or either file's path).

    Returns
    -------
    The model, with identical weights, running statistics and (estimators) fitted attributes.

    Raises
    ------
    CheckpointError
        A file is missing, corrupt, from a newer format version, or the two files do not
        match each other or the network's configuration.
    """
    doc = load_info(path)
    npz_path, json_path = model_paths(path)
    net = _network_from_doc(doc, json_path)  # its sizes are checked before it is allocated
    expected = {**{f"param/{k}": p.shape for k, p in net.params.items()},
                **{f"state/{k}": s.shape for k, s in net.state.items()}}
    digest = doc.get("npz_sha256")
    if digest is not None and npz_path.is_file() and _sha256(npz_path) != digest:
        raise CheckpointError(f"{npz_path} was not written together with {json_path} (its "
                              "SHA-256 differs); save the model again")
    # the saved arrays are the network's plus an optimizer's moments: a few times its size
    arrays = load_npz(npz_path, expected, max_bytes=4 * net.n_params * 8 + (1 << 20))
    if sorted(arrays) != sorted(doc["arrays"]):
        raise CheckpointError(f"{npz_path}: arrays {sorted(arrays)} do not match those listed "
                              f"in {json_path.name}: {sorted(doc['arrays'])}")
    groups: dict[str, dict[str, np.ndarray]] = {"param": {}, "state": {}, "optimizer": {}}
    for key, a in arrays.items():
        group, _, name = key.partition("/")
        if group not in groups or not name:
            raise CheckpointError(f"{npz_path}: unexpected array {key!r}")
        if group != "optimizer" and (a.dtype != np.dtype(doc["dtype"])
                                     or not np.isfinite(a).all()):
            raise CheckpointError(f"{npz_path}: array {key!r} must be finite {doc['dtype']}, "
                                  f"got {a.dtype}" + ("" if a.dtype.kind != "f" else
                                                      " with NaN/inf values"))
        groups[group][name] = a
    net.set_arrays(groups["param"], groups["state"])  # CheckpointError on a mismatch
    if doc["kind"] == "Sequential":
        return net
    try:
        return ESTIMATORS[doc["kind"]]._from_model_doc(doc["estimator"], net, groups["optimizer"])
    except CheckpointError:
        raise
    except (DeepRecipeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{json_path}: bad {doc['kind']} entry: {exc}") from None


def _network_from_doc(doc: dict, json_path: Path) -> Sequential:
    try:
        net = Sequential.from_config({**doc["network"], "dtype": doc["dtype"]})
    except DeepRecipeError as exc:
        raise CheckpointError(f"{json_path}: bad network configuration: {exc}") from None
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{json_path}: bad network configuration "
                              f"({type(exc).__name__}: {exc})") from None
    if not net.built:
        raise CheckpointError(f"{json_path}: the network configuration has no input_dim")
    return net
