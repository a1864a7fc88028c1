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
from deeprecipe.optimize.rows import Rows
from deeprecipe.runs.rundir import load_run_model

__all__ = ["predict_file"]


def _load_array(path: Path, key: str | None = None) -> np.ndarray:
    try:  # an .npy file is memory-mapped: read chunk by chunk below
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
_CHUNK_ROWS = 65_536  # rows predicted at a time


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
    net.check_input(X[:1] if X.ndim == 2 else X)  # dtype, shape: a DataError naming them
    stats = {} if standardizer is None else {"mean": standardizer.mean_,
                                             "std": standardizer.std_}
    rows = Rows(X, None, **stats, dtype=net.dtype)
    preds = None
    for start in range(0, len(rows), _CHUNK_ROWS):  # a mapped file is never read whole
        Xc = net.check_input(rows[start:start + _CHUNK_ROWS])
        part = net.predict_proba(Xc) if proba else net.predict(Xc)
        if preds is None:
            preds = np.empty((len(rows), *part.shape[1:]), part.dtype)
        preds[start:start + len(part)] = part
    if not proba and meta.get("classes") is not None:
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

