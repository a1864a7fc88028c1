"""k-fold cross-validation for the recipe's decisions on small data.

NOTE for the merge with #14 (tuning as a workflow): #14 adds ``[split] folds = k`` and the
fold machinery in runs/; this is the recipe's minimal version (``recipe(..., folds=k)``,
``deeprecipe recipe --folds k``). Keep one of the two.

The training and dev sets are pooled (m examples) and cut into k seeded folds; each fold is the
dev set of one fresh network trained on the other k - 1. The cross-validated error counts every
pooled example once, so its noise is sqrt(p (1 - p) / m), not sqrt(p (1 - p) / n_dev).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from deeprecipe.errors import InvalidValueError
from deeprecipe.runs.build import fit
from deeprecipe.runs.config import Config
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.prepare import PreparedData

__all__ = ["cross_validated_error"]


def cross_validated_error(config: Config, data: PreparedData, folds: int) -> tuple[float, int]:
    """(error over the pooled train + dev examples, each predicted by the network that did
    not train on it; m, the number of examples it counts)."""
    X = np.concatenate([data.X_train, data.X_dev])
    y = np.concatenate([data.y_train, data.y_dev])
    if not 2 <= folds <= len(X) // 2:
        raise InvalidValueError(f"folds must be between 2 and {len(X) // 2} for {len(X)} "
                                f"examples, got {folds}")
    parts = np.array_split(np.random.default_rng(config.seed).permutation(len(X)), folds)
    wrong = 0.0
    for k, dev in enumerate(parts):
        train = np.sort(np.concatenate([p for j, p in enumerate(parts) if j != k]))
        fold = dataclasses.replace(data, X_train=X[train], y_train=y[train], X_dev=X[dev],
                                   y_dev=y[dev], X_test=None, y_test=None)
        net, _ = fit(config, fold)
        wrong += evaluate(net, fold)["dev_error"] * len(dev)
    return wrong / len(X), len(X)
