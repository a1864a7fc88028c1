"""Embedded data sets (no network) and loading the user's own files.

Embedded: ``digits`` (scikit-learn's 8x8 handwritten digits), ``moons``, ``circles``,
``blobs`` (scikit-learn generators, seeded, with noise) and ``flower`` (the planar
two-class "flower" of the deeplearning.ai course, generated with NumPy).
Files: ``.npz`` (keys X, y or X_train, y_train, ...), ``.npy`` pairs and ``.csv`` with a
header row and a named label column. X comes back as float32 with samples as rows.
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeprecipe._io import check_npy, check_npz, check_size
from deeprecipe._random import as_seed_sequence
from deeprecipe._typing import RandomState
from deeprecipe._validation import check_int
from deeprecipe.data.csvfile import first_row, read_cells, to_numbers
from deeprecipe.errors import DataError

__all__ = ["Dataset", "DATASETS", "load_dataset", "load_file"]


@dataclass
class Dataset:
    """Features X (m, n) float32, targets y (m,), and what they are.

    ``X_test``/``y_test``: a test set the file brought along (an .npz with X_train, y_train,
    X_test, y_test); the run then uses it as its test set and splits train/dev from X, y.
    ``feature_names``/``label_name``: a CSV's header names of the columns of X and of y.
    """

    X: np.ndarray
    y: np.ndarray
    task: str  # "classification" or "regression"
    n_classes: int | None
    image_shape: tuple[int, ...] | None
    name: str
    description: str
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    feature_names: tuple[str, ...] | None = None
    label_name: str | None = None

    def __len__(self) -> int:
        return len(self.X)


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _make(name, X, y, n_classes, description, image_shape=None) -> Dataset:
    return Dataset(X=np.ascontiguousarray(X, dtype=np.float32),
                   y=np.asarray(y, dtype=np.int64), task="classification",
                   n_classes=n_classes, image_shape=image_shape, name=name,
                   description=description)


def _digits(rng: np.random.Generator, n: int | None) -> Dataset:
    from sklearn.datasets import load_digits  # heavy: loaded on use

    d = load_digits()
    X, y = d.data, d.target
    if n is not None:
        if n > len(X):
            raise DataError(f"digits has {len(X)} samples, n_samples={n} asked for more")
        idx = np.sort(rng.choice(len(X), n, replace=False))
        X, y = X[idx], y[idx]
    return _make("digits", X, y, 10, "8x8 handwritten digits 0-9 (scikit-learn), pixel "
                 "values 0..16; flattened rows, image_shape (8, 8)", (8, 8))


def _moons(rng: np.random.Generator, n: int | None) -> Dataset:
    from sklearn.datasets import make_moons  # heavy: loaded on use

    X, y = make_moons(n_samples=n or 500, noise=0.2, random_state=_seed(rng))
    return _make("moons", X, y, 2, "two interleaving half circles, Gaussian noise 0.2")


def _circles(rng: np.random.Generator, n: int | None) -> Dataset:
    from sklearn.datasets import make_circles  # heavy: loaded on use

    X, y = make_circles(n_samples=n or 500, noise=0.1, factor=0.5, random_state=_seed(rng))
    return _make("circles", X, y, 2, "a small circle inside a big one, noise 0.1")


def _blobs(rng: np.random.Generator, n: int | None) -> Dataset:
    from sklearn.datasets import make_blobs  # heavy: loaded on use

    X, y = make_blobs(n_samples=n or 500, centers=3, n_features=2, cluster_std=1.0,
                      random_state=_seed(rng))
    return _make("blobs", X, y, 3, "three isotropic Gaussian blobs in 2-D, std 1.0")


def _flower(rng: np.random.Generator, n: int | None) -> Dataset:
    """r = 4 sin(4t) + noise, (x1, x2) = (r sin t, r cos t); class j: t in [3.12j, 3.12(j+1)]."""
    m = n or 400
    sizes = (m // 2, m - m // 2)
    X, y = [], []
    for j, size in enumerate(sizes):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, size) + rng.normal(0.0, 0.2, size)
        r = 4.0 * np.sin(4.0 * t) + rng.normal(0.0, 0.2, size)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(size, j))
    return _make("flower", np.concatenate(X), np.concatenate(y), 2,
                 "planar 'flower' of the deeplearning.ai course: 8 petals, 2 classes")


DATASETS: dict[str, Callable[[np.random.Generator, int | None], Dataset]] = {
    "digits": _digits, "moons": _moons, "circles": _circles, "blobs": _blobs,
    "flower": _flower,
}


def load_dataset(name: str, *, random_state: RandomState = 0,
                 n_samples: int | None = None) -> Dataset:
    """Dataset ``name`` from DATASETS, generated or loaded offline with ``random_state``.

    Parameters
    ----------
    name : {"digits", "moons", "circles", "blobs", "flower"}
    random_state : None, int, SeedSequence or Generator
        Seed of the generator (and of the subsample for ``digits``).
    n_samples : int, optional
        Number of samples (generators' default 500, flower 400, digits all 1,797).

    Raises
    ------
    DataError
        For an unknown name (the message lists the known ones).

    Examples
    --------
    >>> d = load_dataset("digits")
    >>> d.X.shape, d.image_shape, d.n_classes
    ((1797, 64), (8, 8), 10)
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known data sets: "
                        f"{', '.join(sorted(DATASETS))}")
    if n_samples is not None:
        n_samples = check_int("n_samples", n_samples, low=2)
        # generated in float64 with up to 64 features: refused before a huge allocation
        check_size(f"{name} with n_samples={n_samples}", (n_samples, 64), 8, error=DataError)
    rng = np.random.default_rng(as_seed_sequence(random_state))
    return DATASETS[name](rng, n_samples)


def _finish(path: Path, X: np.ndarray, y: np.ndarray, description: str) -> Dataset:
    """Validate X and y read from ``path`` and wrap them in a Dataset.

    Integral targets make a classification task, text targets (class names) too, any other
    numbers a regression.
    """
    if X.dtype == object or y.dtype == object:
        raise DataError(f"{path}: arrays must be numeric, not Python objects")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or X.dtype.kind == "c":
        raise DataError(f"{path}: X must be real numbers, got dtype {X.dtype}")
    if y.dtype.kind == "c":
        raise DataError(f"{path}: y must be real numbers or text class names, got dtype "
                        f"{y.dtype}")
    named = y.dtype.kind in "US"
    if not (named or np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise DataError(f"{path}: y must be numeric or text class names, got dtype {y.dtype}")
    if X.ndim < 2:
        raise DataError(f"{path}: X must have samples as rows (2-D or image-shaped), got "
                        f"shape {X.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{path}: y must be 1-D with one target per sample, got shape "
                        f"{y.shape}")
    if len(X) != len(y):
        raise DataError(f"{path}: X has {len(X)} samples but y has {len(y)}")
    if len(X) == 0:
        raise DataError(f"{path}: no samples")
    if X[0].size == 0:
        raise DataError(f"{path}: X has no feature columns (shape {X.shape}); expected at "
                        "least one")
    image_shape = tuple(int(s) for s in X.shape[1:]) if X.ndim > 2 else None
    X = X.reshape(len(X), -1).astype(np.float32)
    bad_x = ~np.isfinite(X).all(axis=1)
    if bad_x.any():
        raise DataError(f"{path}: X contains NaN or inf in {int(bad_x.sum())} sample(s), first "
                        f"at row {int(np.argmax(bad_x))}; clean or impute them first")
    if named:
        y = y.astype(str)
        if np.any(y == ""):
            raise DataError(f"{path}: y has {int(np.sum(y == ''))} empty label(s)")
    else:
        yf = y.astype(np.float64)
        if not np.isfinite(yf).all():
            raise DataError(f"{path}: y contains NaN or inf values")
        if not np.all(yf == np.round(yf)):
            return Dataset(X=X, y=yf, task="regression", n_classes=None,
                           image_shape=image_shape, name=path.stem, description=description)
        if np.abs(yf).max() >= 2**53:  # beyond float64's exact integers: not a class label
            raise DataError(f"{path}: y holds a class label of magnitude {np.abs(yf).max():.3g}; "
                            "expected integer labels below 2**53 (or text class names)")
        y = y.astype(np.int64)
    classes = np.unique(y)
    if len(classes) < 2:
        raise DataError(f"{path}: y has a single class ({classes[0].item()}); classification "
                        "needs at least two")
    return Dataset(X=X, y=y, task="classification", n_classes=int(len(classes)),
                   image_shape=image_shape, name=path.stem, description=description)


def _load_npz(path: Path, part: str) -> Dataset:
    # headers only: a zip bomb (too large, or X and y of other lengths) is refused before
    # anything is inflated
    headers = check_npz(path, error=DataError)
    for x_key, (shape, _) in headers.items():
        y_key = "y" + x_key[1:]
        if x_key.startswith("X") and y_key in headers and headers[y_key][0][:1] != shape[:1]:
            raise DataError(f"{path}: {x_key} has {shape[0] if shape else 0} samples but "
                            f"{y_key} has {(headers[y_key][0] or (0,))[0]}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    with archive as d:
        keys = list(d.keys())

        def read(xk: str, yk: str) -> Dataset:
            try:
                X, y = d[xk], d[yk]
            except ValueError as exc:
                raise DataError(f"{path}: cannot read arrays without pickle: {exc}") from None
            return _finish(path, X, y, f"{xk}, {yk} from {path.name}")

        if "X" in keys and "y" in keys:
            return read("X", "y")
        if f"X_{part}" in keys and f"y_{part}" in keys:
            ds = read(f"X_{part}", f"y_{part}")
            if part == "train" and "X_test" in keys and "y_test" in keys:
                return _with_test_part(path, ds, read("X_test", "y_test"))
            return ds
    raise DataError(f"{path}: expected keys 'X' and 'y' or 'X_{part}' and 'y_{part}'; the "
                    f"file has {', '.join(keys) or 'no arrays'}")


def _with_test_part(path: Path, train: Dataset, test: Dataset) -> Dataset:
    """The training part, carrying the file's own test part along (same features and task)."""
    if test.X.shape[1] != train.X.shape[1] or test.image_shape != train.image_shape:
        raise DataError(f"{path}: X_test has {test.X.shape[1]} features, X_train "
                        f"{train.X.shape[1]}")
    if train.task == "classification" and (test.task != "classification"
                                           or test.y.dtype.kind != train.y.dtype.kind):
        raise DataError(f"{path}: y_train holds class labels, y_test other values")
    task, y = train.task, train.y
    y_test = test.y if task == "classification" else test.y.astype(np.float64)
    n_classes = (len(np.unique(np.concatenate([y, y_test]))) if task == "classification"
                 else None)
    return Dataset(X=train.X, y=y, task=task, n_classes=n_classes,
                   image_shape=train.image_shape, name=train.name,
                   description=(f"{train.description} ({len(train.X)} rows) with its own test "
                                f"set X_test, y_test ({len(test.X)} rows)"),
                   X_test=test.X, y_test=y_test)


def _load_npy(path: Path, y_path: Path | None) -> Dataset:
    if y_path is None:
        if not path.name.startswith("X"):
            raise DataError(f"{path}: pass y='path/to/y.npy' (the labels file is found "
                            "automatically only for X*.npy -> y*.npy)")
        y_path = path.with_name("y" + path.name[1:])
    if not y_path.exists():
        raise DataError(f"{path}: labels file {y_path} not found; pass y='path/to/y.npy'")
    check_npy(path, DataError)  # headers only: a huge claimed shape is refused before loading
    check_npy(y_path, DataError)
    try:
        X = np.load(path, allow_pickle=False)
        y = np.load(y_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read .npy without pickle: {exc}") from None
    return _finish(path, X, y, f"{path.name} with labels {y_path.name}")


def _load_csv(path: Path, label: str | None) -> Dataset:
    """Header row, numeric features, a label column that is numeric or text (class names).

    Parsed by NumPy's C reader (``data.csvfile``: no Python loop over rows; its size checked
    first); blank lines are skipped.
    """
    header = first_row(path)
    if not header:
        raise DataError(f"{path}: the file is empty (expected a header row)")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise DataError(f"{path}: the header names column(s) {', '.join(map(repr, twice))} more "
                        "than once; expected unique column names")
    if label is None or label not in header:
        what = "no label column given (pass label=...)" if label is None else \
            f"label column {label!r} not found"
        raise DataError(f"{path}: {what}; columns are: {', '.join(header)}")
    j = header.index(label)
    names = header[:j] + header[j + 1:]
    if not names:
        raise DataError(f"{path}: no feature columns besides the label {label!r}; expected at "
                        "least one")
    with open(path, "rb") as fh:  # rows, counted in C, to check the size before parsing
        rows = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    check_size(f"{path}: {rows} rows x {len(header)} columns", (rows, len(header)), 8,
               error=DataError)
    cells = read_cells(path, skip_rows=1, n_columns=len(header))
    X = to_numbers(path, np.delete(cells, j, axis=1), names, first_line=2)
    try:
        y = cells[:, j].astype(np.float64)
    except ValueError:
        y = cells[:, j]  # text labels: class names
    ds = _finish(path, X, y, f"{path.name}, label column {label!r}")
    return dataclasses.replace(ds, feature_names=tuple(names), label_name=label)


def load_file(path, *, label: str | None = None, y=None, part: str = "train") -> Dataset:
    """Dataset read from a user's .npz, .npy or .csv file (never unpickles).

    Parameters
    ----------
    path : str or Path
        ``.npz`` with keys ``X``, ``y`` or ``X_<part>``, ``y_<part>`` (reading the "train"
        part of a file that also has ``X_test``, ``y_test`` brings those along as the
        Dataset's ``X_test``, ``y_test``: the run's test set);
        ``.npy`` with features (labels in ``y`` or in the sibling file whose name swaps
        the leading ``X`` for ``y``: ``X_train.npy`` -> ``y_train.npy``);
        ``.csv`` with a header row, numeric features and the label column named by
        ``label``: numbers, or text class names ("cat", "dog"; predictions come back as
        those names).
    label : str, optional
        Label column of a CSV file (required for CSV).
    y : str or Path, optional
        Labels file for ``.npy`` features.
    part : str
        Which pair of an npz to read when it has no plain ``X``/``y``: "train", "test", ...

    Returns
    -------
    Dataset
        Image-shaped X (m, H, W[, C]) is flattened and its shape kept in ``image_shape``.
        Integral targets make a classification task, others regression.

    Raises
    ------
    DataError
        One line naming the file and the problem: missing file or label column, X/y
        length mismatch, NaN/inf, a single class, non-numeric values.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a directory; expected a .npz, .npy or .csv file")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path, part)
    if suffix == ".npy":
        return _load_npy(path, None if y is None else Path(y))
    if suffix == ".csv":
        return _load_csv(path, label)
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .npz, .npy or .csv")
