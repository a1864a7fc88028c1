"""k-fold cross-validation for the recipe's decisions on small data.

``recipe(..., folds=k)``, ``deeprecipe recipe --folds k``: the training and dev sets are pooled
(m examples) and cut into k folds (``runs.folds.kfold_data``); each fold is the dev set of one
fresh network trained on the other k - 1. The cross-validated error counts every
pooled example once, so its noise is sqrt(p (1 - p) / m), not sqrt(p (1 - p) / n_dev).

``folds="auto"`` (the default) uses AUTO_FOLDS folds when the dev set has fewer than
AUTO_MAX_DEV examples (and train + dev at most AUTO_MAX_POOLED): there the dev set's noise
(0.74 points at 2% error on 359 digits) hides the changes the recipe tries, while k more
trainings of a model on a few thousand rows are cheap. ``folds=1`` judges on the dev set
alone.

Once the folds have judged the configs, the final model is the accepted config refit on the
pooled train + dev sets (``refit_pooled``, scikit-learn's ``refit=True``): a fifth more data,
and no early stopping on a dev set of a few dozen examples.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from deeprecipe.basic_recipe.budget import StopAtDeadline
from deeprecipe.errors import InvalidValueError
from deeprecipe.runs.build import fit
from deeprecipe.runs.config import Config
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.folds import kfold_data, pooled_data
from deeprecipe.runs.prepare import PreparedData

__all__ = ["cross_validated_error", "refit_pooled", "as_trained", "check_folds",
           "resolve_folds", "AUTO_FOLDS", "AUTO_MAX_DEV"]

AUTO_FOLDS = 5       # folds of "auto"
AUTO_MAX_DEV = 1000  # dev examples below which "auto" cross-validates
AUTO_MAX_POOLED = 20_000  # train + dev examples above which "auto" never does (k trainings)


def check_folds(folds) -> int | str | None:
    """"auto", None (off), or an int k >= 1 (1: off); InvalidValueError otherwise."""
    if folds is None or folds == "auto":
        return folds
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or folds < 1:
        raise InvalidValueError(f"folds must be 'auto', 1 (judge on the dev set) or an int "
                                f">= 2 (k-fold cross-validation), got {folds!r}")
    return int(folds)


def resolve_folds(folds: int | str | None, data: PreparedData) -> tuple[int | None, str]:
    """(k or None, why): what ``check_folds``'s value means for ``data``.

    "auto": AUTO_FOLDS when the dev set has fewer than AUTO_MAX_DEV examples, train + dev
    at most AUTO_MAX_POOLED (a small dev set cut from big data is the user's choice) and
    every class has at least AUTO_FOLDS of the pooled train + dev examples (stratified folds
    need one per fold); else None. 1 and None: None."""
    n_dev = len(data.y_dev)
    if folds == "auto":
        if n_dev >= AUTO_MAX_DEV or n_dev + len(data.y_train) > AUTO_MAX_POOLED:
            return None, ""
        if data.task == "classification":
            pooled = np.concatenate([np.asarray(data.y_train), np.asarray(data.y_dev)])
            if int(np.bincount(pooled).min()) < AUTO_FOLDS:
                return None, ""
        return AUTO_FOLDS, (f"changes judged by {AUTO_FOLDS}-fold cross-validation over the "
                            f"pooled train + dev sets (automatic: the dev set has {n_dev} "
                            f"examples, fewer than {AUTO_MAX_DEV:,}; --folds 1 turns it off)")
    if folds is None or folds == 1:
        return None, ""
    return folds, f"changes judged by {folds}-fold cross-validation over the pooled train + " \
        "dev sets"


def cross_validated_error(config: Config, data: PreparedData, folds: int, *,
                          deadline: float | None = None
                          ) -> tuple[float, int, frozenset[int] | None]:
    """(error over the pooled train + dev examples, each predicted by the network that did
    not train on it; m, the number of examples it counts; for classification the examples it
    got wrong, else None). The folds are ``runs.folds``'s (stratified, seeded, each
    standardized on its own training part); ``data`` is the run's prepared data, whose train +
    dev rows the folds pool. An example is its position in the folds' dev rows taken in fold
    order: the folds depend on the seed and the data alone, so two configs of one run are
    compared example by example (``readings.beats_paired``). ``deadline`` (a perf_counter
    time): each fold's training stops at the first epoch past it."""
    stop = () if deadline is None else (StopAtDeadline(deadline),)
    wrong, m = 0.0, 0
    missed: set[int] | None = set() if data.task == "classification" else None
    for fold in kfold_data(config, folds):
        net, _ = fit(config, fold, callbacks=stop)
        wrong += evaluate(net, fold)["dev_error"] * len(fold.y_dev)
        if missed is not None:
            predicted = np.asarray(net.predict(fold.X_dev)).reshape(len(fold.y_dev))
            missed.update((m + np.flatnonzero(predicted != fold.y_dev)).tolist())
        m += len(fold.y_dev)
    if m != len(data.y_train) + len(data.y_dev):
        raise InvalidValueError("the folds must pool the run's train and dev rows")
    return wrong / m, m, None if missed is None else frozenset(missed)


def as_trained(config: Config, trainer) -> Config:
    """``config`` as its round trained it: a round cut by the budget ran ``trainer.epoch``
    epochs, and its folds and its refit train as many."""
    if not any(e["kind"] == "budget" for e in trainer.history.events):
        return config
    return dataclasses.replace(config, training=dataclasses.replace(
        config.training, epochs=max(1, trainer.epoch)))


def refit_pooled(config: Config) -> tuple[object, object, PreparedData, dict]:
    """(network, trainer, data, metrics) of ``config`` trained for its epochs on the pooled
    train + dev rows (``runs.folds.pooled_data``), without early stopping: the dev rows are
    inside its training set, so its test error is the one estimate it has."""
    cfg = dataclasses.replace(config, training=dataclasses.replace(
        config.training, early_stopping=False))
    data = pooled_data(cfg)
    net, trainer = fit(cfg, data)
    return net, trainer, data, evaluate(net, data)
