"""k-fold cross-validation for the recipe's decisions on small data.

``recipe(..., folds=k)``, ``deeprecipe recipe --folds k``: the training and dev sets are pooled
(m examples) and cut into k folds (``runs.folds.kfold_data``); each fold is the dev set of one
fresh network trained on the other k - 1. The cross-validated error counts every
pooled example once, so its noise is sqrt(p (1 - p) / m), not sqrt(p (1 - p) / n_dev).
"""

from __future__ import annotations

from deeprecipe.errors import InvalidValueError
from deeprecipe.runs.build import fit
from deeprecipe.runs.config import Config
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.folds import kfold_data
from deeprecipe.runs.prepare import PreparedData

__all__ = ["cross_validated_error"]


def cross_validated_error(config: Config, data: PreparedData, folds: int) -> tuple[float, int]:
    """(error over the pooled train + dev examples, each predicted by the network that did
    not train on it; m, the number of examples it counts). The folds are ``runs.folds``'s
    (stratified, seeded, each standardized on its own training part); ``data`` is the run's
    prepared data, whose train + dev rows the folds pool."""
    wrong, m = 0.0, 0
    for fold in kfold_data(config, folds):
        net, _ = fit(config, fold)
        wrong += evaluate(net, fold)["dev_error"] * len(fold.y_dev)
        m += len(fold.y_dev)
    if m != len(data.y_train) + len(data.y_dev):
        raise InvalidValueError("the folds must pool the run's train and dev rows")
    return wrong / m, m
