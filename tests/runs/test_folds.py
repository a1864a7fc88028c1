"""k-fold cross-validation: the folds partition train + dev, keep the test set, stratify and
standardize each fold on its own training part."""

from __future__ import annotations

import numpy as np
import pytest

from deeprecipe.errors import ConfigError
from deeprecipe.runs.config import config_from_dict
from deeprecipe.runs.folds import kfold_data, mean_metrics, pooled_data
from deeprecipe.runs.prepare import prepare_data


def _config(**split):
    return config_from_dict({"seed": 3, "data": {"dataset": "digits", "n_samples": 300},
                             "split": split})


def test_the_folds_partition_the_pool_and_keep_the_test_set():
    config = _config(folds=4)
    folds = kfold_data(config)
    whole = prepare_data(config, check_distribution=False)
    assert len(folds) == 4
    n_pool = len(whole.y_train) + len(whole.y_dev)
    assert sum(len(f.y_dev) for f in folds) == n_pool
    assert all(len(f.y_train) + len(f.y_dev) == n_pool for f in folds)
    raw = kfold_data(_config(folds=4, standardize=False))
    pooled_rows = np.concatenate([whole.standardizer.inverse_transform(whole.X_train),
                                  whole.standardizer.inverse_transform(whole.X_dev)])
    dev_rows = np.concatenate([f.X_dev for f in raw])  # each pooled row is dev in one fold
    key = lambda a: sorted(map(tuple, a.round(3)))  # noqa: E731
    assert key(dev_rows) == key(pooled_rows)
    for f in folds:
        assert f.X_test.shape == whole.X_test.shape and np.array_equal(f.y_test, whole.y_test)
        assert np.allclose(f.X_train.mean(axis=0)[f.X_train.std(axis=0) > 0], 0, atol=1e-4)
        counts = np.bincount(f.y_dev, minlength=10) / len(f.y_dev)
        pooled = np.bincount(np.concatenate([whole.y_train, whole.y_dev]), minlength=10) / n_pool
        assert np.abs(counts - pooled).max() < 0.05  # stratified
        assert f.split_summary["folds"] == 4
    dev_sets = [set(map(tuple, f.X_dev[:3].round(4))) for f in folds]
    assert dev_sets[0] != dev_sets[1]


def test_folds_are_seeded_and_checked():
    a, b = kfold_data(_config(folds=3)), kfold_data(_config(folds=3))
    assert all(np.array_equal(x.y_dev, y.y_dev) for x, y in zip(a, b, strict=True))
    with pytest.raises(ConfigError, match="split.folds must be an int >= 2"):
        kfold_data(_config(), k=1)
    with pytest.raises(ConfigError, match="folds"):
        config_from_dict({"split": {"folds": 1}})


def test_mean_metrics():
    assert mean_metrics([{"a": 1.0, "b": None}, {"a": 3.0, "b": 2.0}]) == {"a": 2.0, "b": None}


def test_pooled_data_trains_on_train_and_dev_standardized_on_them():
    config = _config()
    whole = prepare_data(config, check_distribution=False)
    pooled = pooled_data(config)
    n_train, n_dev = len(whole.y_train), len(whole.y_dev)
    assert pooled.X_train.shape == (n_train + n_dev, whole.X_train.shape[1])
    assert np.array_equal(pooled.y_train, np.concatenate([whole.y_train, whole.y_dev]))
    assert np.array_equal(pooled.y_dev, whole.y_dev) and np.array_equal(pooled.y_test,
                                                                        whole.y_test)
    assert np.array_equal(pooled.X_dev, pooled.X_train[n_train:])  # inside the training set
    raw = np.concatenate([whole.standardizer.inverse_transform(whole.X_train),
                          whole.standardizer.inverse_transform(whole.X_dev)])
    assert np.allclose(pooled.standardizer.inverse_transform(pooled.X_train), raw, atol=1e-4)
    assert np.allclose(pooled.X_train.mean(axis=0)[raw.std(axis=0) > 0], 0, atol=1e-4)
    test_raw = whole.standardizer.inverse_transform(whole.X_test[:])
    assert np.allclose(pooled.standardizer.inverse_transform(pooled.X_test), test_raw,
                       atol=1e-4)
    assert pooled.split_summary["train"] == n_train + n_dev
    assert "refit on train + dev" in pooled.split_summary["mode"]
    plain = pooled_data(_config(standardize=False))
    assert plain.standardizer is None and np.allclose(plain.X_train, raw, atol=1e-4)
