"""Data for one run: load, split (sizes fit to m), check dev vs test, standardize on train."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from deeprecipe import data as dd
from deeprecipe.data.datasets import encode_labels
from deeprecipe.optimize.rows import Rows
from deeprecipe.runs.config import Config

__all__ = ["PreparedData", "prepare_data"]

_CHECK_SAMPLES = 2000  # rows of dev and of test the same-distribution check looks at
_CHECK_FOLDS = 3  # its cross-validation folds: fewer dev or test rows leave it "not checked"


@dataclass
class PreparedData:
    """Split, standardized, flattened float32 data plus what the network needs to know.

    X_train, X_dev, X_test are ``Rows``: views of the loaded (possibly memory-mapped) X
    through sorted index arrays, standardized as they are read; ``X_dev[:]`` is a copy.
    """

    name: str
    X_train: Rows
    y_train: np.ndarray
    X_dev: Rows
    y_dev: np.ndarray
    X_test: Rows | None
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
    """Load, split (sizes fit to m), check dev vs test, standardize with train statistics.

    Nothing is copied: X stays as loaded (a memory map for a .npy file), train/dev/test are
    sorted index arrays into it, the Standardizer is fit in one streaming pass over the
    training rows, and each part is a ``Rows`` that standardizes the rows it reads, batch by
    batch in training and chunk by chunk in evaluation.
    """
    ds = _load(config)
    X = ds.X.reshape(len(ds.X), -1)
    y, y_test, classes = ds.y, ds.y_test, None
    if ds.task == "classification":  # classes over both parts: a label may be in one only
        labels = ds.y if ds.y_test is None else np.concatenate([ds.y, ds.y_test])
        classes, codes = encode_labels(labels)
        y, y_test = codes[:len(ds.y)], codes[len(ds.y):]
    split = functools.partial(dd.split_indices, y, dev=config.split.dev, test=config.split.test,
                              stratify=config.split.stratify and ds.task == "classification",
                              random_state=config.seed)
    X_test = None if ds.X_test is None else ds.X_test.reshape(len(ds.X_test), -1)
    if ds.X_test is None:
        index, sizes, stratified = split(dev_only=config.split.dev_only)
        summary = dd.Split(*[None] * 6, sizes, config.split.dev_only, *[None] * 3,
                           stratified).summary()
    elif config.split.dev_only:  # the file's test set serves as the dev set
        index, summary = [np.arange(len(X)), None], _given_dev(len(X), len(X_test))
    else:  # train/dev from the file's training part, its own test set as the test set
        index, sizes, stratified = split(dev_only=True)
        summary = _summary_with_given_test(
            dd.Split(*[None] * 6, sizes, True, *[None] * 3, stratified).summary(), len(X_test))
    for part in index:
        if part is not None:
            part.sort()  # rows read in file order
    standardizer = None
    if config.split.standardize:  # images: per channel or globally, not per pixel
        standardizer = dd.Standardizer(image_shape=ds.image_shape).fit(X, rows=index[0])
    parts = _rows(X, y, X_test, y_test, index, standardizer)
    distribution = None
    if check_distribution and parts[4] is not None:
        distribution = _distribution(parts[2], parts[4], config.seed)
    return PreparedData(ds.name, *parts, ds.task, classes, ds.image_shape, standardizer,
                        summary, distribution, ds.feature_names, ds.label_name)


def _rows(X, y, X_file_test, y_file_test, index, standardizer) -> list:
    """[X_train, y_train, X_dev, y_dev, X_test, y_test]: Rows of X through each index (the
    file's own test set in the dev or test place when it brought one)."""
    stats = ({} if standardizer is None else
             {"mean": standardizer.mean_, "std": standardizer.std_})
    out = []
    for part in index:
        out += [None, None] if part is None else [Rows(X, part, **stats), y[part]]
    if X_file_test is not None:  # dev-only: as the dev set; else: as the test set
        out[2 if index[1] is None else 4:] = [Rows(X_file_test, None, **stats), y_file_test]
    return out + [None] * (6 - len(out))


def _distribution(X_dev: Rows, X_test: Rows, seed: int) -> dict:
    """Same-distribution check of dev vs test on at most _CHECK_SAMPLES random rows of each."""
    if min(len(X_dev), len(X_test)) < _CHECK_FOLDS:
        return {"verdict": "not checked", "auc": None, "auc_std": None,
                "n_a": len(X_dev), "n_b": len(X_test),
                "message": f"not checked: the check needs at least {_CHECK_FOLDS} dev and "
                           f"{_CHECK_FOLDS} test rows, got {len(X_dev)} and {len(X_test)}"}
    rng = np.random.default_rng(seed)
    sample = [np.sort(rng.choice(len(A), min(len(A), _CHECK_SAMPLES), replace=False))
              for A in (X_dev, X_test)]
    check = dd.same_distribution(X_dev[sample[0]], X_test[sample[1]], cv=_CHECK_FOLDS,
                                 max_samples=_CHECK_SAMPLES, random_state=seed).to_dict()
    n_dev, n_test = len(sample[0]), len(sample[1])
    check["sample"] = (f"checked on all {n_dev:,} dev and {n_test:,} test rows"
                       if (n_dev, n_test) == (len(X_dev), len(X_test)) else
                       f"checked on a random subsample of {n_dev:,} of {len(X_dev):,} dev and "
                       f"{n_test:,} of {len(X_test):,} test rows")
    check["message"] = f"{check['message']} ({check['sample']})"
    return check


def _given_dev(m: int, m_dev: int) -> dict:
    """Dev-only with a file's own test set as the dev set: train on all of its training part
    (the lecture's football setup: 211 points to train on, 200 to compare models)."""
    sizes = dd.SplitSizes(m, m_dev, 0)
    parts = dd.Split(*[None] * 6, sizes, True, *[None] * 3, False)
    summary = {**parts.summary(),
               "mode": "dev-only: train on the file's training part, the file's test set as "
                       "the dev set (no test set: the dev error is used for model choice and "
                       "is not an unbiased estimate)"}
    return summary


def _summary_with_given_test(summary: dict, n_test: int) -> dict:
    """A dev-only split summary of the training part, completed by the file's test set."""
    sizes = {"train": summary["train"], "dev": summary["dev"], "test": n_test}
    m = sum(sizes.values())
    return {**summary, **sizes, "m": m, "dev_only": False,
            "mode": "train/dev split from the file's training part; test: the file's own "
                    "test set",
            "fractions": {k: round(v / m, 6) for k, v in sizes.items()}}

