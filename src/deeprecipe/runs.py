"""Working with finished run directories: evaluate and predict with their saved model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from deeprecipe.config import load_config
from deeprecipe.errors import DataError, DeepRecipeError

__all__ = ["load_run_model", "evaluate_run", "predict_file"]


def load_run_model(run_dir: str | Path):
    """(network, standardizer or None, metadata) of the model saved in ``run_dir``."""
    from deeprecipe.persistence import load, load_info, load_preprocessing

    run_dir = Path(run_dir)
    base = run_dir / "model" if (run_dir / "model.json").exists() else run_dir
    net = load(base)
    if not hasattr(net, "predict_proba") or not hasattr(net, "check_input"):
        raise DeepRecipeError(f"{run_dir} holds an estimator, not a run's network model")
    pre = load_preprocessing(base)
    return net, (pre if hasattr(pre, "transform") else None), load_info(base).get("metadata") or {}


def evaluate_run(run_dir: str | Path) -> dict:
    """Errors and costs of the saved model on the run's own train/dev/test split."""
    from deeprecipe.pipeline import evaluate, prepare_data

    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").exists():
        raise DeepRecipeError(f"{run_dir} is not a run directory (no config.toml)")
    config = load_config(run_dir / "config.toml")
    data = prepare_data(config, check_distribution=False)
    net, _, _ = load_run_model(run_dir)
    return evaluate(net, data)


def _read_inputs(path: Path) -> np.ndarray:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            key = "X" if "X" in f.files else f.files[0]
            return f[key]
    if path.suffix == ".csv":
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
        try:
            float(rows[0][0])
        except (ValueError, IndexError):
            rows = rows[1:]  # a header row
        try:
            return np.array(rows, dtype=np.float32)
        except ValueError:
            raise DataError(f"{path}: every value must be numeric") from None
    raise DataError(f"{path}: unsupported input format {path.suffix!r}; use .npy, .npz or .csv")


def predict_file(run_dir: str | Path, input_path: str | Path, *, proba: bool = False,
                 output: str | Path | None = None) -> np.ndarray:
    """Predictions of a run's model for the rows of ``input_path`` (standardized as in training).

    Labels are mapped back to the original classes; ``proba`` gives the output activations.
    """
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
        if output.suffix == ".npy":
            np.save(output, preds, allow_pickle=False)
        else:
            np.savetxt(output, preds.reshape(len(preds), -1), fmt="%g", delimiter=",")
    return preds
