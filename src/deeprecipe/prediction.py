"""Predicting with a finished run as a deployment does: columns by name, answers with names.

A CSV is matched by its header against the columns the run was trained on (in any order; the
training label column is dropped, an ``id_column`` is carried through). Arrays (.npy/.npz) are
taken as they are: (m, n_features) numbers, or images that flatten to n_features. The result is
a table: the prediction column named after the training label (else "prediction"), or with
``proba`` one column per class. Every problem with the input is a one-line DeepRecipeError.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeprecipe._io import (
    check_npy,
    check_npz,
    check_regular_file,
    write_bytes_atomic,
    write_text_atomic,
)
from deeprecipe.data.csvfile import first_row, is_number, read_cells, to_numbers
from deeprecipe.errors import DataError, InvalidValueError
from deeprecipe.optimize.rows import Rows
from deeprecipe.runs.rundir import load_run_model

__all__ = ["OUTPUT_FORMATS", "Predictions", "check_output", "predict_table", "predict_file",
           "read_inputs", "write_predictions"]

#: Prediction files: .csv and .txt hold the table (header row, comma-separated), .npy the values.
OUTPUT_FORMATS = (".csv", ".txt", ".npy")


@dataclass(frozen=True)
class Predictions:
    """A table of predictions: ``values`` (m,) or (m, k) under ``columns``, optional ids.

    Attributes
    ----------
    columns : tuple of str, one name per column of ``values``
    values : ndarray of shape (m,) (labels, one target) or (m, k) (probabilities, targets)
    ids : ndarray of str, shape (m,), or None; the input's ``id_name`` column
    id_name : str or None
    """

    columns: tuple[str, ...]
    values: np.ndarray
    ids: np.ndarray | None = None
    id_name: str | None = None

    def to_csv(self) -> str:
        """The table as CSV text: a header row, then one row per sample (ids first).

        >>> print(Predictions(("species",), np.array(["cat", "dog"]), np.array(["7", "9"]),
        ...                   "id").to_csv(), end="")
        id,species
        7,cat
        9,dog
        """
        values = self.values.reshape(len(self.values), -1)
        cells = (np.char.mod("%.9g", values) if values.dtype.kind == "f"
                 else values.astype(str))
        if self.ids is not None:
            cells = np.column_stack([self.ids.astype(str), cells])
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(((self.id_name,) if self.ids is not None else ()) + self.columns)
        writer.writerows(cells.tolist())
        return buf.getvalue()


def _load_array(path: Path) -> np.ndarray:
    # headers first: a huge claimed shape or an over-large archive is refused before loading
    if path.suffix.lower() == ".npz":
        check_npz(path, error=DataError)
    else:
        check_npy(path, DataError)
    try:  # an .npy file is memory-mapped: predicted chunk by chunk
        loaded = np.load(path, allow_pickle=False,
                         mmap_mode="r" if path.suffix.lower() == ".npy" else None)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable array file without pickle ({exc})") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded as f:
        if not f.files:
            raise DataError(f"{path}: the archive holds no arrays")
        name = "X" if "X" in f.files else f.files[0]
        try:
            return f[name]
        except ValueError as exc:
            raise DataError(f"{path}: cannot read array {name!r} without pickle ({exc})") from None


def _check_features(path: Path, X: np.ndarray, n_features: int) -> np.ndarray:
    """X as finite float32 (m, n_features): images are flattened; else DataError."""
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or X.dtype.kind == "c":
        raise DataError(f"{path}: values must be real numbers, got dtype {X.dtype}")
    if X.ndim < 2:
        raise DataError(f"{path}: expected samples as rows, shape (m, {n_features}), got "
                        f"shape {X.shape}")
    if X.size == 0:
        raise DataError(f"{path}: no rows of values")
    X = X.reshape(len(X), -1)
    if X.shape[1] != n_features:
        raise DataError(f"{path}: has {X.shape[1]} features, expected {n_features}")
    if isinstance(X, np.memmap):  # read, converted and checked chunk by chunk when predicting
        return X
    with np.errstate(over="ignore"):
        X = np.ascontiguousarray(X, dtype=np.float32)
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise DataError(f"{path}: NaN or inf in {int(bad.sum())} row(s), first at row "
                        f"{int(np.argmax(bad))}; clean or impute them first")
    return X


def _csv_columns(path: Path, header: list[str] | None, n_cols: int,
                 feature_names: list[str] | None, label: str | None,
                 id_column: str | None) -> tuple[list[int], int | None]:
    """(indices of the feature columns in training order, index of the id column)."""
    if header is None:
        if id_column is not None:
            raise DataError(f"{path}: --id-column {id_column!r} needs a header row naming the "
                            "columns")
        return list(range(n_cols)), None
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise DataError(f"{path}: column {twice[0]!r} appears more than once in the header")
    if id_column is not None and id_column not in header:
        raise DataError(f"{path}: --id-column {id_column!r} not found; columns are: "
                        f"{', '.join(header)}")
    id_index = None if id_column is None else header.index(id_column)
    if feature_names is None:  # trained on arrays: the other columns, in their order
        return [j for j in range(n_cols) if j != id_index], id_index
    missing = [f for f in feature_names if f not in header]
    if missing:
        raise DataError(f"{path}: missing feature column(s) {', '.join(map(repr, missing))}; "
                        f"the model was trained on: {', '.join(feature_names)}")
    known = {*feature_names, label, id_column}
    extra = [h for h in header if h not in known]
    if extra:
        raise DataError(f"{path}: unexpected column(s) {', '.join(map(repr, extra))}; the model "
                        f"was trained on: {', '.join(feature_names)} (pass --id-column NAME to "
                        "carry a column through)")
    return [header.index(f) for f in feature_names], id_index


def _read_csv(path: Path, n_features: int, feature_names: list[str] | None,
              label: str | None, id_column: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    first = first_row(path)
    if first is None:
        raise DataError(f"{path}: no rows of values")
    known = set(feature_names or ()) | {label, id_column}
    has_header = not all(map(is_number, first)) or (feature_names is not None
                                                    and set(first) <= known)
    header = first if has_header else None
    cells = read_cells(path, skip_rows=int(has_header),
                       n_columns=None if header is None else len(header))
    features, id_index = _csv_columns(path, header, cells.shape[1], feature_names, label,
                                      id_column)
    X = to_numbers(path, cells[:, features],
                   None if header is None else [header[j] for j in features],
                   first_line=1 + int(has_header))
    ids = None if id_index is None else cells[:, id_index]
    return _check_features(path, X, n_features), ids


def read_inputs(path: str | Path, n_features: int, *, feature_names: list[str] | None = None,
                label: str | None = None, id_column: str | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """(X float32 (m, n_features) in training column order, ids or None) from a file.

    A .csv with a header is matched by name against ``feature_names`` (the training header
    without ``label``, which is dropped when present); without a header, or for a model trained
    on arrays, its columns are taken in order. .npy/.npz (key "X" or the first array) must be
    numeric, finite and (m, n_features) or image-shaped. DataError names the file and problem.
    """
    path = Path(path)
    check_regular_file(path, DataError)
    if not path.is_file():
        raise DataError(f"{path}: " + ("is a directory, expected a file" if path.is_dir()
                                       else "file not found"))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, n_features, feature_names, label, id_column)
    if suffix in (".npy", ".npz"):
        if id_column is not None:
            raise DataError(f"{path}: --id-column needs a .csv input with a header row")
        return _check_features(path, _load_array(path), n_features), None
    raise DataError(f"{path}: unsupported input format {path.suffix!r}; use .npy, .npz or .csv")


def predict_table(run_dir: str | Path, input_path: str | Path, *, proba: bool = False,
                  id_column: str | None = None) -> Predictions:
    """Predictions of a run's model for the rows of ``input_path``, standardized as in training.

    Labels are the training classes (text names too); ``proba`` gives P(class) per class
    column (a single sigmoid unit p as [1 - p, p]); a regression gives the targets.

    Returns
    -------
    Predictions
        values (m,) labels, (m, n_classes) probabilities or (m, n_outputs) targets, under
        columns named after the training label column ("prediction" if unknown) or the
        classes; ids from ``id_column``.
    """
    net, standardizer, meta = load_run_model(run_dir)
    classes = meta.get("classes")
    if proba and meta.get("task", "classification") != "classification":
        raise InvalidValueError(f"--proba needs a classification model; {run_dir} holds a "
                                f"{meta.get('task')} model")
    X, ids = read_inputs(input_path, net.input_dim, feature_names=meta.get("feature_names"),
                         label=meta.get("label"), id_column=id_column)
    name = meta.get("label") or "prediction"
    if proba:
        values = _predict_chunks(input_path, net, X, standardizer, proba=True)
        if values.shape[1] == 1 and type(net.layers[-1]).__name__ == "Sigmoid":
            values = np.column_stack([1 - values[:, 0], values[:, 0]])
        names = classes if classes is not None else range(values.shape[1])
        columns = tuple(str(c) for c in names)
    else:
        values = _predict_chunks(input_path, net, X, standardizer, proba=False)
        if classes is not None:
            values = np.asarray(classes)[values]
        width = 1 if values.ndim == 1 else values.shape[1]
        columns = (name,) if width == 1 else tuple(f"{name}_{j}" for j in range(width))
    return Predictions(columns, values, ids, id_column)


def _predict_chunks(path, net, X: np.ndarray, standardizer, *, proba: bool) -> np.ndarray:
    """net's outputs (or labels) for X, standardized and predicted _CHUNK_ROWS rows at a time
    (a memory-mapped file is never read whole); DataError for NaN/inf rows."""
    stats = {} if standardizer is None else {"mean": standardizer.mean_,
                                             "std": standardizer.std_}
    rows = Rows(X, None, **stats, dtype=net.dtype)
    out = None
    for start in range(0, len(rows), _CHUNK_ROWS):
        chunk = rows[start:start + _CHUNK_ROWS]
        bad = ~np.isfinite(chunk).all(axis=1)
        if bad.any():
            raise DataError(f"{path}: NaN or inf in {int(bad.sum())} row(s), first at row "
                            f"{start + int(np.argmax(bad))}; clean or impute them first")
        chunk = net.check_input(chunk)
        part = net.predict_proba(chunk) if proba else net.predict(chunk)
        if out is None:
            out = np.empty((len(rows), *part.shape[1:]), part.dtype)
        out[start:start + len(part)] = part
    return out


def write_predictions(predictions: Predictions, path: str | Path) -> None:
    """.csv/.txt: the table (header, ids); .npy: the values only (text as fixed-width unicode)."""
    path = Path(path)
    check_output(path, predictions.id_name)
    if path.suffix.lower() == ".npy":  # text labels are a fixed-width unicode array: no pickle
        buf = io.BytesIO()
        np.save(buf, predictions.values, allow_pickle=False)
        write_bytes_atomic(path, buf.getvalue())
    else:
        write_text_atomic(path, predictions.to_csv())


def check_output(output: str | Path | None, id_column: str | None = None) -> None:
    """DataError for an output file predictions cannot be written to (before predicting)."""
    if output is None:
        return
    suffix = Path(output).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise DataError(f"{output}: unsupported output format {Path(output).suffix!r}; use "
                        f"{', '.join(OUTPUT_FORMATS)}")
    if suffix == ".npy" and id_column is not None:
        raise DataError(f"{output}: --id-column needs a .csv or .txt output (.npy holds the "
                        "predictions only)")


_CHUNK_ROWS = 65_536  # rows predicted at a time


def predict_file(run_dir: str | Path, input_path: str | Path, *, proba: bool = False,
                 output: str | Path | None = None, id_column: str | None = None) -> np.ndarray:
    """``predict_table(...).values``, also written to ``output`` (.csv, .txt or .npy) if given.

    Returns
    -------
    ndarray of shape (m,) (labels, as the training classes) or (m, k) (probabilities, targets)
    """
    check_output(output, id_column)
    predictions = predict_table(run_dir, input_path, proba=proba, id_column=id_column)
    if output is not None:
        write_predictions(predictions, output)
    return predictions.values
