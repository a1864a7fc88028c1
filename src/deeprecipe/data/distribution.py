"""Do two sets come from the same distribution? A classifier two-sample test.

The lecture's rule: dev and test must come from the same distribution (cat photos from
web pages vs blurrier phone photos from users). Label the rows of A as 0 and of B as 1
and train a classifier to tell them apart. If it cannot (cross-validated ROC AUC near
0.5), the sets look alike; if it can, they differ.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from deeprecipe._random import as_seed_sequence
from deeprecipe._typing import RandomState
from deeprecipe._validation import check_in_range, check_int
from deeprecipe.errors import DataError

__all__ = ["DistributionCheck", "same_distribution"]


@dataclass(frozen=True)
class DistributionCheck:
    """Cross-validated ROC AUC of an A-vs-B classifier and the verdict it implies."""

    auc: float
    auc_std: float
    verdict: str  # "same" or "different"
    message: str
    n_a: int
    n_b: int

    @property
    def same(self) -> bool:
        """True if the verdict is "same"."""
        return self.verdict == "same"

    def to_dict(self) -> dict:
        """JSON-ready dict of the fields."""
        return asdict(self)


def _rows(X, name: str) -> np.ndarray:
    arr = np.asarray(X)
    if arr.ndim < 2 or arr.shape[0] < 2:
        raise DataError(f"{name} must hold at least 2 samples as rows, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise DataError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.reshape(len(arr), -1).astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise DataError(f"{name} contains NaN or inf values")
    return arr


def same_distribution(A, B, *, cv: int = 5, threshold: float = 0.6, z: float = 3.0,
                      max_samples: int | None = 2000,
                      random_state: RandomState = 0) -> DistributionCheck:
    """verdict = "different" if auc >= threshold and auc - 0.5 > z * auc_std / sqrt(cv).

    A gradient-boosted tree classifier (scikit-learn's HistGradientBoostingClassifier,
    30 shallow trees) learns to tell rows of A (label 0) from rows of B (label 1);
    ``auc`` is its mean ROC AUC over ``cv`` stratified folds and ``auc_std`` the standard
    deviation across folds. Trees see per-pixel thresholds, so they catch blur (fewer
    saturated pixels, more grey ones) and darkening, which a linear model misses.

    Two conditions make the verdict "different", so that it is both real and relevant:
    the AUC is significantly above chance (z standard errors, se = auc_std / sqrt(cv))
    and at least ``threshold`` (0.6: a classifier right 60% of the time when ranking one
    A row against one B row). Sample sets of the same distribution give AUC ~ 0.5.

    Parameters
    ----------
    A, B : arrays of shape (m_a, ...) and (m_b, ...)
        Samples as rows (images may keep their (H, W[, C]) shape); same features.
    cv : int
        Number of cross-validation folds (>= 2).
    threshold : float
        Smallest AUC in (0.5, 1) called "different".
    z : float
        Required significance, in standard errors above 0.5.
    max_samples : int or None
        Rows drawn at random from each set (keeps the test fast); None uses all.
    random_state : None, int, SeedSequence or Generator

    Returns
    -------
    DistributionCheck

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> same_distribution(rng.normal(size=(300, 3)), rng.normal(size=(300, 3))).verdict
    'same'
    >>> same_distribution(rng.normal(size=(300, 3)), rng.normal(1.0, size=(300, 3))).verdict
    'different'
    """
    from sklearn.ensemble import HistGradientBoostingClassifier  # heavy: loaded on use
    from sklearn.model_selection import StratifiedKFold, cross_val_score  # heavy: loaded on use

    cv = check_int("cv", cv, low=2)
    threshold = check_in_range("threshold", threshold, low=0.5, high=1.0, closed="neither")
    z = check_in_range("z", z, low=0.0)
    A, B = _rows(A, "A"), _rows(B, "B")
    if A.shape[1] != B.shape[1]:
        raise DataError(f"A and B must have the same number of features, got {A.shape[1]} "
                        f"and {B.shape[1]}")
    ss = as_seed_sequence(random_state)
    rng = np.random.default_rng(ss)
    if max_samples is not None:
        max_samples = check_int("max_samples", max_samples, low=cv)
        if len(A) > max_samples:
            A = A[rng.choice(len(A), max_samples, replace=False)]
        if len(B) > max_samples:
            B = B[rng.choice(len(B), max_samples, replace=False)]
    if min(len(A), len(B)) < cv:
        raise DataError(f"A and B need at least cv={cv} samples each, got {len(A)} and "
                        f"{len(B)}")
    X = np.concatenate([A, B])
    t = np.r_[np.zeros(len(A), dtype=np.int64), np.ones(len(B), dtype=np.int64)]
    seed = int(ss.generate_state(1)[0])
    model = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=8, max_bins=32,
                                           learning_rate=0.2, early_stopping=False,
                                           random_state=seed)
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    scores = cross_val_score(model, X, t, cv=folds, scoring="roc_auc")
    auc, auc_std = float(scores.mean()), float(scores.std())
    se = auc_std / math.sqrt(cv)
    different = auc >= threshold and (auc - 0.5) > z * se
    if different:
        message = (f"A and B look like different distributions: a classifier tells them "
                   f"apart with ROC AUC {auc:.3f} +/- {auc_std:.3f} (>= {threshold}). "
                   "Make sure dev and test come from the same distribution.")
    else:
        message = (f"A and B look like the same distribution: a classifier separates them "
                   f"with ROC AUC {auc:.3f} +/- {auc_std:.3f} (chance is 0.5).")
    return DistributionCheck(auc=auc, auc_std=auc_std,
                             verdict="different" if different else "same", message=message,
                             n_a=len(A), n_b=len(B))
