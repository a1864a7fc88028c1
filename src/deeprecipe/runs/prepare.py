"""Data for one run: load, split (sizes fit to m), check dev vs test, standardize on train."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from deeprecipe import data as dd
from deeprecipe.runs.config import Config

__all__ = ["PreparedData", "prepare_data"]


@dataclass
class PreparedData:
    """Split, standardized, flattened float32 data plus what the network needs to know."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    task: str
    classes: np.ndarray | None
    image_shape: tuple | None
    standardizer: dd.Standardizer | None
    split_summary: dict
    distribution: dict | None = None
    feature_names: tuple[str, ...] | None = None  # a CSV's header names of X's columns
    label_name: str | None = None  # and of its label column

    @property
    def n_outputs(self) -> int:
        if self.task == "classification":
            return 1 if len(self.classes) == 2 else len(self.classes)
        return 1 if self.y_train.ndim == 1 else self.y_train.shape[1]

    @property
    def loss(self) -> str:
        if self.task == "regression":
            return "mean_squared_error"
        return "binary_crossentropy" if len(self.classes) == 2 else "categorical_crossentropy"

    @property
    def output(self) -> str:
        return {"mean_squared_error": "linear", "binary_crossentropy": "sigmoid",
                "categorical_crossentropy": "softmax"}[self.loss]


def _load(config: Config) -> dd.Dataset:
    name = config.data.dataset
    if name in dd.DATASETS:
        return dd.load_dataset(name, random_state=config.seed, n_samples=config.data.n_samples)
    ds = dd.load_file(name, label=config.data.label)
    n = config.data.n_samples
    if n is not None and n < len(ds.X):  # a seeded random subset of a file's rows
        rows = np.sort(np.random.default_rng(config.seed).choice(len(ds.X), n, replace=False))
        ds = dataclasses.replace(ds, X=ds.X[rows], y=ds.y[rows])
    return ds


def prepare_data(config: Config, *, check_distribution: bool = True) -> PreparedData:
    """Load, split (sizes fit to m), check dev vs test, standardize with train statistics."""
    ds = _load(config)
    X = ds.X.reshape(len(ds.X), -1).astype(np.float32)
    y, y_test, classes = ds.y, ds.y_test, None
    if ds.task == "classification":  # classes over both parts: a label may be in one only
        labels = ds.y if ds.y_test is None else np.concatenate([ds.y, ds.y_test])
        classes, codes = np.unique(labels, return_inverse=True)
        y, y_test = codes[:len(ds.y)], codes[len(ds.y):]
    split = functools.partial(dd.split, X, y, dev=config.split.dev, test=config.split.test,
                              stratify=config.split.stratify and ds.task == "classification",
                              random_state=config.seed)
    if ds.X_test is None:
        parts = split(dev_only=config.split.dev_only)
        summary = parts.summary()
    elif config.split.dev_only:  # the file's test set serves as the dev set
        parts, summary = _given_dev(X, y, ds.X_test.astype(np.float32), y_test)
    else:  # train/dev from the file's training part, its own test set as the test set
        parts = dataclasses.replace(split(dev_only=True), X_test=ds.X_test.astype(np.float32),
                                    y_test=y_test)
        summary = _summary_with_given_test(parts.summary(), len(ds.X_test))
    distribution = None
    if check_distribution and parts.X_test is not None:
        distribution = dd.same_distribution(parts.X_dev, parts.X_test, cv=3,
                                            random_state=config.seed).to_dict()
    standardizer = None
    X_train, X_dev, X_test = parts.X_train, parts.X_dev, parts.X_test
    if config.split.standardize:
        standardizer = dd.Standardizer().fit(X_train)
        X_train, X_dev = standardizer.transform(X_train), standardizer.transform(X_dev)
        X_test = None if X_test is None else standardizer.transform(X_test)
    return PreparedData(ds.name, X_train, parts.y_train, X_dev, parts.y_dev, X_test,
                        parts.y_test, ds.task, classes, ds.image_shape, standardizer,
                        summary, distribution, ds.feature_names, ds.label_name)


def _given_dev(X, y, X_dev, y_dev) -> tuple[dd.Split, dict]:
    """Dev-only with a file's own test set as the dev set: train on all of its training part
    (the lecture's football setup: 211 points to train on, 200 to compare models)."""
    sizes = dd.SplitSizes(len(X), len(X_dev), 0)
    parts = dd.Split(X, y, X_dev, y_dev, None, None, sizes, True, np.arange(len(X)),
                     np.arange(len(X_dev)), None, False)
    summary = {**parts.summary(),
               "mode": "dev-only: train on the file's training part, the file's test set as "
                       "the dev set (no test set: the dev error is used for model choice and "
                       "is not an unbiased estimate)"}
    return parts, summary


def _summary_with_given_test(summary: dict, n_test: int) -> dict:
    """A dev-only split summary of the training part, completed by the file's test set."""
    sizes = {"train": summary["train"], "dev": summary["dev"], "test": n_test}
    m = sum(sizes.values())
    return {**summary, **sizes, "m": m, "dev_only": False,
            "mode": "train/dev split from the file's training part; test: the file's own "
                    "test set",
            "fractions": {k: round(v / m, 6) for k, v in sizes.items()}}

