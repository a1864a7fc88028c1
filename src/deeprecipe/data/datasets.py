"""A data set, and loading the user's own files (the embedded sets are in ``embedded``).

Files: ``.npz`` (keys X, y or X_train, y_train, ...), ``.npy`` pairs and ``.csv`` with a
header row and a named label column. X comes back as float32 with samples as rows, except
from a ``.npy`` file: that is memory-mapped (``mmap_mode="r"``) and keeps its dtype, so a file
larger than memory is read page by page and never copied (``deeprecipe convert`` turns an
``.npz``, which cannot be mapped, into such files); a folder of ``.npy`` shards is mapped
shard by shard and read as one array (``Shards``), never joined.
"""

from __future__ import annotations

import contextlib
import dataclasses
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeprecipe._io import check_npy, check_npz, check_regular_file, check_size
from deeprecipe.data._csv_numbers import read_numeric_csv
from deeprecipe.data.csvfile import first_row, read_cells, to_numbers
from deeprecipe.data.mapped import (check_finite, mapped_pairs, npz_as_float32, npz_nbytes,
                                    shard_pairs)
from deeprecipe.data.shards import open_shards
from deeprecipe.errors import DataError

__all__ = ["Dataset", "load_file", "encode_labels"]

_NPZ_IN_MEMORY = 2 * 2**30  # an .npz inflating to more is refused: convert it to .npy files


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
    X = X.reshape(len(X), -1)  # a view of a memory map stays a map, in the file's dtype
    if isinstance(X, np.ndarray) and not isinstance(X, np.memmap):  # not a map, nor Shards
        X = X.astype(np.float32, copy=False)
    check_finite(path, X)
    if named:
        y = y.astype(str)
        if np.any(y == ""):
            raise DataError(f"{path}: y has {int(np.sum(y == ''))} empty label(s)")
    elif y.dtype.kind in "iub":  # class labels, read into memory (8 bytes per row)
        if len(y) and max(abs(int(y.min())), abs(int(y.max()))) >= 2**53:
            raise DataError(f"{path}: y holds a class label of magnitude "
                            f"{max(abs(int(y.min())), abs(int(y.max()))):.3g}; expected "
                            "integer labels below 2**53 (or text class names)")
        y = np.array(y, dtype=np.int64)
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
    classes = encode_labels(y)[0]
    if len(classes) < 2:
        raise DataError(f"{path}: y has a single class ({classes[0].item()}); classification "
                        "needs at least two")
    return Dataset(X=X, y=y, task="classification", n_classes=int(len(classes)),
                   image_shape=image_shape, name=path.stem, description=description)


def encode_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classes, codes) with labels == classes[codes]: np.unique(labels, return_inverse=True),
    by a lookup table for integer labels of a small range (no sort of an m-sized copy)."""
    if labels.dtype.kind in "iu" and len(labels):
        lo, hi = int(labels.min()), int(labels.max())
        if hi - lo < 2**20:
            shifted = labels.astype(np.intp, copy=False)  # int8 - (-128) must not wrap
            shifted = shifted - lo if lo else shifted
            present = np.bincount(shifted, minlength=hi - lo + 1) > 0
            if present.all():  # labels are lo..hi: the codes are labels - lo (no copy if lo=0)
                return np.arange(lo, hi + 1), shifted.astype(np.intp, copy=False)
            return np.flatnonzero(present) + lo, (np.cumsum(present) - 1)[shifted]
    classes, codes = np.unique(labels, return_inverse=True)
    return classes, codes.reshape(-1)


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
        inflated = npz_nbytes(path)
        if inflated > _NPZ_IN_MEMORY:
            raise DataError(f"{path}: a compressed .npz cannot be memory-mapped and its arrays "
                            f"take {inflated / 2**30:.1f} GiB in memory; run 'deeprecipe convert "
                            f"{path} DIR/' once and use DIR (mappable .npy files) instead")
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({exc})") from None
    with archive as d:
        keys = list(d.keys())

        def read(xk: str, yk: str) -> Dataset:
            try:  # X straight into float32, a block at a time
                X = npz_as_float32(path, xk)
                X, y = (d[xk] if X is None else X), d[yk]
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
        X = np.load(path, mmap_mode="r", allow_pickle=False)
        y = np.load(y_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot map .npy without pickle: {exc}") from None
    if not X.flags.c_contiguous:  # a Fortran-order file: its rows are not contiguous
        X = np.ascontiguousarray(X)
    return _finish(path, X, y, f"{path.name} with labels {y_path.name} (memory-mapped)")


def _load_shards(folder: Path, X_paths: list[Path], y_paths: list[Path]) -> Dataset:
    """X: the shards memory-mapped, one after the other (``Shards``); y: read into memory."""
    for p in (*X_paths, *y_paths):
        check_npy(p, DataError)  # headers only: a huge claimed shape is refused before mapping
    X = open_shards(X_paths)
    ys = [np.load(p, mmap_mode="r", allow_pickle=False) for p in y_paths]
    if len({(a.shape[1:], a.dtype) for a in ys}) > 1:
        raise DataError(f"{folder}: the shards {y_paths[0].name} ... {y_paths[-1].name} differ "
                        "in shape or dtype beyond their rows")
    y = np.concatenate(ys) if len(ys) > 1 else ys[0]
    return _finish(folder, X, y, f"{len(X_paths)} shards {X_paths[0].name} ... "
                   f"{X_paths[-1].name} with labels {y_paths[0].name} ... (memory-mapped)")


def _load_folder(folder: Path) -> Dataset:
    """X.npy, y.npy (+ X_test.npy, y_test.npy) as convert writes them, else shards."""
    for path in folder.glob("*.npy"):  # before any is_file(): a FIFO or a device is named
        check_regular_file(path, DataError)
    joined = any((folder / f"{name}.npy").is_file() for name in ("X", "X_train"))
    shards = None if joined else shard_pairs(folder)
    if shards is None:
        (X_path, y_path), test = mapped_pairs(folder)
        ds = _load_npy(X_path, y_path)
        return ds if test is None else _with_test_part(folder, ds, _load_npy(*test))
    (X_paths, y_paths), test = shards
    ds = _load_shards(folder, X_paths, y_paths)
    return ds if test is None else _with_test_part(folder, ds, _load_shards(folder, *test))


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
    fast = read_numeric_csv(path, len(header), j)
    if fast is not None:  # float32 features straight from the file: no table of text
        X, y = fast
        with contextlib.suppress(ValueError):
            y = y.astype(np.float64)
    else:
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
        those names); a folder with ``X.npy``, ``y.npy`` (or ``X_train.npy`` ...
        ``y_test.npy``), as ``deeprecipe convert`` writes, or a folder of shards
        ``X_000.npy``, ``X_001.npy``, ... with ``y_000.npy``, ... (or ``X_train_000.npy``
        ... ``y_test_000.npy``), each mapped and read as one array in numeric order
        (``data.shards.Shards``). ``.npy`` files are memory-mapped.
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
        return _load_folder(path)
    check_regular_file(path, DataError)
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
