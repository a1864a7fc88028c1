"""Predict with a run's saved model on the rows of a file (standardized as in training)."""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from pathlib import Path

import numpy as np

from deeprecipe._io import write_bytes_atomic, write_text_atomic
from deeprecipe.errors import DataError
from deeprecipe.runs.rundir import load_run_model

__all__ = ["predict_file"]


def _load_array(path: Path, key: str | None = None) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
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


def _read_inputs(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        return _load_array(path)
    if suffix == ".csv":  # numbers only, an optional header row; NumPy's C reader parses it
        with path.open(newline="", encoding="utf-8") as fh:
            first = next((r for r in csv.reader(fh) if any(cell.strip() for cell in r)), None)
        if first is None:
            raise DataError(f"{path}: no rows of values")
        try:
            [float(cell) for cell in first]
            header_rows = 0
        except ValueError:
            header_rows = 1
        try:
            with warnings.catch_warnings():  # blank lines are skipped; no rows is reported below
                warnings.filterwarnings("ignore", "(loadtxt: i|I)nput (line .* )?contained no "
                                        "data")
                X = np.loadtxt(path, dtype=np.float32, delimiter=",", skiprows=header_rows,
                               ndmin=2, comments=None, encoding="utf-8")
        except ValueError as exc:
            problem = ("rows have different numbers of values" if "number of columns" in
                       str(exc) else "every value must be numeric")
            raise DataError(f"{path}: {problem} ({str(exc).split(';')[0]})") from None
        if X.size == 0:
            raise DataError(f"{path}: no rows of values")
        return X
    raise DataError(f"{path}: unsupported input format {path.suffix!r}; use .npy, .npz or .csv")


_OUTPUTS = (".csv", ".txt", ".npy")


def predict_file(run_dir: str | Path, input_path: str | Path, *, proba: bool = False,
                 output: str | Path | None = None) -> np.ndarray:
    """Predictions of a run's model for the rows of ``input_path`` (standardized as in training).

    Labels are mapped back to the original classes; ``proba`` gives the output activations.
    ``output`` (.csv, .txt or .npy) also writes them there.
    """
    if output is not None and Path(output).suffix.lower() not in _OUTPUTS:
        raise DataError(f"{output}: unsupported output format {Path(output).suffix!r}; use "
                        f"{', '.join(_OUTPUTS)}")
    net, standardizer, meta = load_run_model(run_dir)
    X = _read_inputs(Path(input_path))
    X = X.reshape(len(X), -1) if X.ndim > 2 else X
    X = net.check_input(X)
    if standardizer is not None:
        X = standardizer.transform(X)
    if proba:
        preds = net.predict_proba(X)
    else:
        preds = net.predict(X)
        if meta.get("classes") is not None:
            preds = np.asarray(meta["classes"])[preds]
    if output is not None:
        output = Path(output)
        if output.suffix.lower() == ".npy":
            buf = io.BytesIO()
            np.save(buf, preds, allow_pickle=False)
            write_bytes_atomic(output, buf.getvalue())
        else:
            buf = io.StringIO()
            np.savetxt(buf, preds.reshape(len(preds), -1), delimiter=",",
                       fmt="%s" if preds.dtype.kind in "US" else "%g")
            write_text_atomic(output, buf.getvalue())
    return preds

