"""k-fold cross-validation for small data: ``[split] folds = k``.

The test set is held out as usual; the training and dev parts are pooled and cut into k
folds (stratified for classification, seeded by ``config.seed``). Fold i trains on the other
k - 1 folds and is judged on fold i, with a Standardizer fit on its own training part. A
model's cross-validated dev error is the mean over the folds; its noise is that of a dev set of
the pooled size, sqrt(p (1 - p) / n_pool).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from deeprecipe import data as dd
from deeprecipe.errors import ConfigError
from deeprecipe.runs.config import Config
from deeprecipe.runs.prepare import PreparedData, prepare_data

__all__ = ["kfold_data", "mean_metrics", "pooled_data"]


def _pooled(config: Config) -> tuple[PreparedData, np.ndarray, np.ndarray]:
    """(the run's data unstandardized, its train + dev rows pooled X, y): small data, in
    memory."""
    raw_split = dataclasses.replace(config.split, standardize=False)
    base = prepare_data(dataclasses.replace(config, split=raw_split), check_distribution=False)
    X = np.concatenate([base.X_train[:], base.X_dev[:]])
    return base, X, np.concatenate([base.y_train, base.y_dev])


def _standardized(config: Config, X_train: np.ndarray, others: list) -> tuple:
    """(Standardizer fit on X_train or None, X_train and ``others`` transformed by it)."""
    if not config.split.standardize:
        return None, X_train, others
    standardizer = dd.Standardizer().fit(X_train)
    return standardizer, standardizer.transform(X_train), [
        None if X is None else standardizer.transform(X) for X in others]


def pooled_data(config: Config) -> PreparedData:
    """The run's train + dev rows as one training set (a Standardizer fit on them), for a
    final model refit once cross-validation has judged its config. Its dev set is the run's
    dev rows, now inside the training set: it monitors training, it estimates nothing."""
    base, X, y = _pooled(config)
    standardizer, X, (X_dev, X_test) = _standardized(config, X, [X[len(base.y_train):],
                                                                 base.X_test])
    summary = {**base.split_summary, "train": len(X), "dev": len(base.y_dev),
               "mode": f"refit on train + dev ({len(X)} examples; the dev rows are inside "
                       "the training set)"}
    return dataclasses.replace(base, X_train=X, y_train=y, X_dev=X_dev, X_test=X_test,
                               standardizer=standardizer, split_summary=summary)


def kfold_data(config: Config, k: int | None = None) -> list[PreparedData]:
    """k PreparedData, one per fold: train = the other folds, dev = this fold, test as usual.

    ``k`` defaults to ``config.split.folds``. Every fold's X is standardized with its own
    training statistics (when ``[split] standardize``), so no fold sees its dev rows' mean.

    Raises
    ------
    ConfigError
        k < 2, or a class with fewer than k examples (stratified folds need one per fold).
    """
    from sklearn.model_selection import KFold, StratifiedKFold  # heavy: only folds need it

    k = config.split.folds if k is None else k
    if k is None or isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ConfigError(f"split.folds must be an int >= 2, got {k!r}")
    base, X, y = _pooled(config)
    if base.task == "classification":
        smallest = int(np.bincount(y).min())
        if smallest < k:
            raise ConfigError(f"split.folds = {k} needs at least {k} examples of every class; "
                              f"the rarest has {smallest}")
        cut = StratifiedKFold(k, shuffle=True, random_state=config.seed).split(X, y)
    else:
        cut = KFold(k, shuffle=True, random_state=config.seed).split(X)
    folds = []
    for i, (train, dev) in enumerate(cut):
        standardizer, X_train, (X_dev, X_test) = _standardized(config, X[train],
                                                               [X[dev], base.X_test])
        summary = {**base.split_summary, "train": len(train), "dev": len(dev),
                   "mode": f"fold {i + 1} of {k} (cross-validation over {len(X)} examples)",
                   "fold": i + 1, "folds": k}
        folds.append(dataclasses.replace(base, X_train=X_train, y_train=y[train], X_dev=X_dev,
                                         y_dev=y[dev], X_test=X_test, standardizer=standardizer,
                                         split_summary=summary))
    return folds


def mean_metrics(per_fold: list[dict]) -> dict:
    """The mean of every numeric entry over the folds (None where a fold has None).

    >>> mean_metrics([{"dev_error": 0.1, "test_error": None}, {"dev_error": 0.3,
    ...                                                       "test_error": None}])
    {'dev_error': 0.2, 'test_error': None}
    """
    keys = dict.fromkeys(k for m in per_fold for k in m)
    out = {}
    for key in keys:
        values = [m.get(key) for m in per_fold]
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        out[key] = float(np.mean(values)) if ok and values else None
    return out
