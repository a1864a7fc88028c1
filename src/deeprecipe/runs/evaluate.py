"""Costs and errors of a trained network on a run's train, dev and test sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deeprecipe.engine.network import Sequential
from deeprecipe.engine.metrics import cost_and_error
from deeprecipe.optimize.rows import prepare_rows
from deeprecipe.runs.prepare import PreparedData, prepare_data
from deeprecipe.runs.rundir import load_run_model, run_config

__all__ = ["evaluate", "evaluate_run", "regression_error", "target_variance"]


def target_variance(y_train: np.ndarray) -> float:
    """The mean variance of the training targets (1 if they are constant): the scale of a
    regression error, so that MSE / variance reads like 1 - R^2."""
    return float(np.var(y_train, axis=0).mean()) or 1.0


def regression_error(y_true, y_pred, scale: float) -> float:
    """min(1, MSE / scale): a regression's error on the [0, 1] scale of human-level error."""
    d = (np.asarray(y_pred, np.float64).reshape(len(y_pred), -1)
         - np.asarray(y_true, np.float64).reshape(len(y_true), -1))
    return min(1.0, float(np.einsum("ij,ij->", d, d) / len(d)) / scale)


def evaluate(net: Sequential, data: PreparedData) -> dict[str, float | None]:
    """Data cost and error on train, dev and test.

    Classification: error = misclassification rate. Regression: error = min(1, MSE / var(y))
    over the training targets' variance (1 - R^2, clipped), so it reads on the same [0, 1]
    scale as human-level error in the diagnosis.
    """
    scale = target_variance(data.y_train) if data.task == "regression" else 1.0
    out: dict[str, float | None] = {}
    for part, X, y in (("train", data.X_train, data.y_train), ("dev", data.X_dev, data.y_dev),
                       ("test", data.X_test, data.y_test)):
        if X is None:
            out[f"{part}_cost"] = out[f"{part}_error"] = None
            continue
        Xp, Yp, loss = prepare_rows(net, X, y, data.loss)  # Rows: read chunk by chunk
        cost, error = cost_and_error(net, Xp, Yp, loss)
        out[f"{part}_cost"] = cost
        out[f"{part}_error"] = min(1.0, error / scale) if data.task == "regression" else error
    return out


def evaluate_run(run_dir: str | Path) -> dict:
    """Errors and costs of the saved model on the run's own train/dev/test split."""
    run_dir = Path(run_dir)
    config = run_config(run_dir)
    net, _, _ = load_run_model(run_dir)
    data = prepare_data(config, check_distribution=False)
    return evaluate(net, data)

