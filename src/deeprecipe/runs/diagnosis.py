"""Bias and variance from train/dev errors, and the basic recipe's next step.

Human-level error stands in for Bayes (optimal) error:
avoidable_bias = train_error - human_error and variance = dev_error - train_error.
The recipe: while the bias is high, fix it (bigger network, train longer, better
optimizer); once the training set is fitted well, fix high variance (more data,
regularization). Both readings assume train and dev come from the same distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from deeprecipe._random import as_seed_sequence
from deeprecipe._typing import RandomState
from deeprecipe._validation import check_in_range
from deeprecipe.errors import DataError, InvalidTypeError, InvalidValueError
from deeprecipe.optimize.rows import Rows

__all__ = ["Diagnosis", "diagnose", "LearningCurve", "learning_curve", "error_rate",
           "BIAS_STEPS", "VARIANCE_STEPS"]

BIAS_STEPS = ("bigger network (more hidden units/layers)", "train longer",
              "better optimizer (Adam)", "architecture search")
VARIANCE_STEPS = ("more data", "regularization (L2, dropout, data augmentation)",
                  "architecture search")
_VERDICTS = {(False, False): "ok", (True, False): "high_bias",
             (False, True): "high_variance", (True, True): "high_bias_and_variance"}


@dataclass(frozen=True)
class Diagnosis:
    """avoidable_bias = train - human, variance = dev - train, the verdict and next steps."""

    train_error: float
    dev_error: float
    human_error: float
    test_error: float | None
    avoidable_bias: float
    variance: float
    verdict: str
    next_steps: tuple[str, ...]
    dev_test_gap: float | None
    notes: tuple[str, ...]

    def summary(self) -> str:
        """One paragraph: the verdict, the numbers behind it and the next step."""
        head = {"ok": "Neither high bias nor high variance",
                "high_bias": "High bias (underfitting)",
                "high_variance": "High variance (overfitting)",
                "high_bias_and_variance": "High bias and high variance"}[self.verdict]
        text = (f"{head}: train error {self.train_error:.1%} vs human-level "
                f"{self.human_error:.1%} (avoidable bias {self.avoidable_bias:.1%}), dev error "
                f"{self.dev_error:.1%} (variance {self.variance:.1%}).")
        if self.next_steps:
            text += " Next: " + "; ".join(self.next_steps) + "."
        if self.notes:
            text += " " + " ".join(self.notes)
        return text

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples become lists)."""
        d = asdict(self)
        d["next_steps"], d["notes"] = list(self.next_steps), list(self.notes)
        return d


def _error(name: str, value) -> float:
    return float(check_in_range(name, value, low=0.0, high=1.0))


def diagnose(*, train_error: float, dev_error: float, human_error: float = 0.0,
             test_error: float | None = None, bias_tolerance: float = 0.02,
             variance_tolerance: float = 0.02) -> Diagnosis:
    """high_bias: train - human > bias_tolerance; high_variance: dev - train > variance_tolerance.

    Errors are fractions in [0, 1]. The default tolerances (2 percentage points) read the
    lecture's cases as it does; the bias steps come first when both problems show, since
    the recipe fixes bias before variance. With ``test_error``, a test error more than
    ``variance_tolerance`` above the dev error warns of overfitting to the dev set.

    Examples
    --------
    >>> diagnose(train_error=0.01, dev_error=0.11).verdict
    'high_variance'
    >>> diagnose(train_error=0.15, dev_error=0.16).verdict
    'high_bias'
    >>> diagnose(train_error=0.15, dev_error=0.30).verdict
    'high_bias_and_variance'
    >>> diagnose(train_error=0.005, dev_error=0.01).verdict
    'ok'
    >>> diagnose(train_error=0.15, dev_error=0.16, human_error=0.15).verdict
    'ok'
    """
    train = _error("train_error", train_error)
    dev = _error("dev_error", dev_error)
    human = _error("human_error", human_error)
    test = None if test_error is None else _error("test_error", test_error)
    bias_tol = float(check_in_range("bias_tolerance", bias_tolerance, low=0.0, high=1.0))
    var_tol = float(check_in_range("variance_tolerance", variance_tolerance, low=0.0,
                                   high=1.0))
    avoidable_bias, variance = train - human, dev - train
    high_bias, high_variance = avoidable_bias > bias_tol, variance > var_tol
    steps: list[str] = []
    if high_bias:
        steps += BIAS_STEPS
    if high_variance:
        steps += [s for s in VARIANCE_STEPS if s not in steps]
    notes: list[str] = []
    if train < human:
        notes.append("Train error is below human-level error: human-level error "
                     "overestimates Bayes error here, or the model fits noise in the "
                     "training set.")
    if variance < -var_tol:
        notes.append("Dev error is well below train error: check that train and dev come "
                     "from the same distribution.")
    gap = None if test is None else test - dev
    if gap is not None and gap > var_tol:
        notes.append(f"Test error exceeds dev error by {gap:.1%}: the model may be "
                     "overfitting to the dev set; get a bigger dev set.")
    return Diagnosis(train_error=train, dev_error=dev, human_error=human, test_error=test,
                     avoidable_bias=avoidable_bias, variance=variance,
                     verdict=_VERDICTS[(high_bias, high_variance)], next_steps=tuple(steps),
                     dev_test_gap=gap, notes=tuple(notes))


def error_rate(y_true, y_pred) -> float:
    """mean(y_pred != y_true); 2-D scores or one-hot rows are compared by argmax.

    >>> error_rate([0, 1, 1, 0], [0, 1, 0, 0])
    0.25
    """
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim == 2 and t.shape[1] > 1:
        t = t.argmax(axis=1)
    if p.ndim == 2 and p.shape[1] > 1:
        p = p.argmax(axis=1)
    if t.ndim == 0 or p.ndim == 0 or len(t) != len(p):
        raise DataError(f"y_true and y_pred must have the same number of samples, got "
                        f"shapes {np.shape(y_true)} and {np.shape(y_pred)}")
    if len(t) == 0:
        raise DataError("error_rate needs at least one sample")
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    if t.shape[1] != p.shape[1]:
        raise DataError(f"y_true and y_pred shapes differ: {np.shape(y_true)} vs "
                        f"{np.shape(y_pred)}")
    return float(np.mean(np.any(t != p, axis=1)))


@dataclass(frozen=True)
class LearningCurve:
    """Train and dev error after training on the first ``sizes[k]`` training examples."""

    sizes: tuple[int, ...]
    train_errors: tuple[float, ...]
    dev_errors: tuple[float, ...]

    def to_dict(self) -> dict:
        """JSON-ready dict of lists."""
        return {k: list(v) for k, v in asdict(self).items()}


def learning_curve(make_and_fit: Callable, X_train, y_train, X_dev, y_dev, *,
                   sizes=(0.1, 0.25, 0.5, 1.0), error: Callable = error_rate,
                   random_state: RandomState = 0) -> LearningCurve:
    """train/dev error of make_and_fit(X_train[:n], y_train[:n]) for each n in sizes.

    The training rows are shuffled once, so the subsets are nested. A dev error that
    keeps falling as n grows says more data will help (variance); curves that meet at a
    high error say it will not (bias).

    Parameters
    ----------
    make_and_fit : callable
        ``make_and_fit(X, y) -> predict`` trains a fresh model and returns a function
        mapping X to predictions.
    sizes : sequence of float in (0, 1] or int counts
    error : callable
        ``error(y_true, y_pred) -> float``; error_rate by default.

    Examples
    --------
    >>> X = np.arange(40.0).reshape(-1, 1); y = (X[:, 0] > 19).astype(int)
    >>> def fit(X, y):
    ...     cut = X[y == 1].min() if (y == 1).any() else np.inf
    ...     return lambda Z: (Z[:, 0] >= cut).astype(int)
    >>> learning_curve(fit, X, y, X, y, sizes=(1.0,)).dev_errors
    (0.0,)
    """
    if not callable(make_and_fit):
        raise InvalidTypeError(f"make_and_fit must be callable, got "
                               f"{type(make_and_fit).__name__}")
    if not isinstance(X_train, Rows):  # Rows (a mapped file) give copies of X_train[idx] only
        X_train = np.asarray(X_train)
    y_train = np.asarray(y_train)
    if len(X_train) != len(y_train) or len(X_dev) != len(y_dev):
        raise DataError("X and y must have the same number of samples (train and dev)")
    m = len(X_train)
    counts = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)):
            raise InvalidTypeError(f"sizes must be fractions in (0, 1] or int counts, got "
                                   f"{s!r}")
        n = int(s) if isinstance(s, (int, np.integer)) else int(round(
            check_in_range("size", float(s), low=0.0, high=1.0, closed="right") * m))
        if not 1 <= n <= m:
            raise InvalidValueError(f"each size must give between 1 and {m} examples, got "
                                    f"{s!r}")
        counts.append(n)
    order = np.random.default_rng(as_seed_sequence(random_state)).permutation(m)
    train_errors, dev_errors = [], []
    for n in counts:
        idx = order[:n]
        predict = make_and_fit(X_train[idx], y_train[idx])
        train_errors.append(float(error(y_train[idx], predict(X_train[idx]))))
        dev_errors.append(float(error(y_dev, predict(X_dev))))
    return LearningCurve(tuple(counts), tuple(train_errors), tuple(dev_errors))
