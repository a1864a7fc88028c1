"""Train/dev/test splits sized to the data, as the lecture teaches.

Small data (m up to 10,000): the classic 60/20/20. Big data: dev and test only have to be
big enough to tell models apart, so they shrink as a fraction of m and stop growing at
10,000 examples each (1,000,000 examples -> 98/1/1).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from deeprecipe._random import as_seed_sequence, index_dtype, permutation
from deeprecipe._typing import RandomState
from deeprecipe._validation import check_bool
from deeprecipe.data.datasets import encode_labels
from deeprecipe.errors import DataError, InvalidTypeError, InvalidValueError

__all__ = ["SplitSizes", "Split", "split_sizes", "split", "split_indices"]

_SMALL_M = 10_000  # up to here: 20% dev, 20% test
_CAP = 10_000  # dev/test never need more than this many examples each by default
_GROWTH = math.sqrt(5.0)  # per decade of m beyond _SMALL_M: 2,000 -> 4,472 -> 10,000


class SplitSizes(NamedTuple):
    """Counts (train, dev, test) summing to m; test == 0 in dev-only mode."""

    train: int
    dev: int
    test: int


def _default_holdout(m: int) -> int:
    """holdout = 0.2*m if m <= 10,000 else min(10,000, 2,000 * sqrt(5)**log10(m/10,000))."""
    if m <= _SMALL_M:
        return max(1, round(0.2 * m))
    return min(_CAP, round(0.2 * _SMALL_M * _GROWTH ** math.log10(m / _SMALL_M)))


def _count(name: str, value, m: int) -> int:
    """A fraction in (0, 1) of m (at least 1) or an int count >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{name} must be a fraction in (0, 1) or an int count, "
                               f"got {value!r}")
    if isinstance(value, numbers.Integral):
        if value < 1:
            raise InvalidValueError(f"{name} must be a count >= 1 or a fraction in (0, 1), "
                                    f"got {value!r}")
        return int(value)
    if not 0.0 < value < 1.0:
        raise InvalidValueError(f"{name} must be a fraction in (0, 1) or an int count, "
                                f"got {value!r}")
    return max(1, round(value * m))


def split_sizes(m: int, *, dev: float | int | None = None, test: float | int | None = None,
                dev_only: bool = False) -> SplitSizes:
    """dev = test = 0.2*m for m <= 10,000, then 2,000 * sqrt(5)**log10(m/10,000), capped at 10,000.

    Every tenfold increase of m beyond 10,000 multiplies the dev (and test) size by
    sqrt(5) ~ 2.24, so the curve is continuous at 10,000 and reaches the lecture's 10,000
    examples (1%) at m = 1,000,000; beyond that dev and test stay at 10,000 each.

    Parameters
    ----------
    m : int
        Number of examples (at least 3, or 2 in dev-only mode).
    dev, test : float or int, optional
        Override: a fraction in (0, 1) of m or an int count.
    dev_only : bool
        No test set (test = 0): the dev set is then used for model choice and its error
        is no longer an unbiased estimate.

    Returns
    -------
    SplitSizes
        ``(train, dev, test)`` summing to m.

    Raises
    ------
    DataError
        If m is too small for the requested split.
    InvalidValueError
        If fractions sum to 1 or more, or a value is out of range.

    Examples
    --------
    >>> for m in (10, 1_000, 10_000, 100_000, 1_000_000, 10_000_000):
    ...     s = split_sizes(m)
    ...     print(f"{m:>10,} {s.train:>9,} {s.dev:>6,} {s.test:>6,}  {100 * s.train / m:.1f}%")
            10         6      2      2  60.0%
         1,000       600    200    200  60.0%
        10,000     6,000  2,000  2,000  60.0%
       100,000    91,056  4,472  4,472  91.1%
     1,000,000   980,000 10,000 10,000  98.0%
    10,000,000 9,980,000 10,000 10,000  99.8%
    >>> split_sizes(1_000, dev=0.1, test=50)
    SplitSizes(train=850, dev=100, test=50)
    >>> split_sizes(1_000, dev_only=True)
    SplitSizes(train=800, dev=200, test=0)
    """
    if isinstance(m, bool) or not isinstance(m, numbers.Integral):
        raise InvalidTypeError(f"m must be an int number of examples, got {m!r}")
    m = int(m)
    dev_only = check_bool("dev_only", dev_only)
    fractions = [v for v in (dev, test) if isinstance(v, float)]
    if sum(fractions) >= 1.0:
        raise InvalidValueError(f"dev and test fractions must sum to less than 1, got "
                                f"dev={dev!r}, test={test!r}")
    if dev_only and test is not None:
        raise InvalidValueError(f"dev_only=True means no test set; got test={test!r}")
    needed = 2 if dev_only else 3
    if m < needed:
        raise DataError(f"m={m} examples is too small to split into "
                        f"{'train/dev' if dev_only else 'train/dev/test'}; need at least "
                        f"{needed}")
    n_dev = _default_holdout(m) if dev is None else _count("dev", dev, m)
    n_test = 0 if dev_only else (_default_holdout(m) if test is None else
                                 _count("test", test, m))
    n_train = m - n_dev - n_test
    if n_train < 1:
        raise DataError(f"m={m} examples is too small for dev={n_dev} and test={n_test}: "
                        "no examples left to train on")
    return SplitSizes(n_train, n_dev, n_test)


@dataclass
class Split:
    """Train/dev/test arrays (X_test/y_test are None in dev-only mode) and the sizes."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    sizes: SplitSizes
    dev_only: bool
    train_index: np.ndarray
    dev_index: np.ndarray
    test_index: np.ndarray | None
    stratified: bool

    def summary(self) -> dict:
        """Sizes, fractions and mode as a JSON-ready dict for reports."""
        m = sum(self.sizes)
        out = {
            "mode": ("dev-only (no test set: the dev error is used for model choice and is "
                     "not an unbiased estimate)" if self.dev_only else "train/dev/test"),
            "dev_only": self.dev_only,
            "m": m,
            "train": self.sizes.train,
            "dev": self.sizes.dev,
            "test": self.sizes.test,
            "fractions": {k: round(v / m, 6) for k, v in self.sizes._asdict().items()},
            "stratified": self.stratified,
        }
        return out


def _labels(y: np.ndarray) -> np.ndarray | None:
    """Integer class codes if y holds discrete labels, else None (continuous target)."""
    flat = y.reshape(len(y), -1)
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(flat)) or not np.all(flat == np.round(flat)):
            return None
    elif not (np.issubdtype(y.dtype, np.integer) or y.dtype == bool or y.dtype.kind in "US"):
        return None
    if y.ndim == 1:  # one label per row: no row-wise unique (a sort of m rows as records)
        return encode_labels(y)[1]
    return np.unique(flat, axis=0, return_inverse=True)[1].reshape(-1)


def _round_table(counts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Integer table A (classes x parts): rows sum to counts, columns to sizes, |A - T| < 1.

    T = outer(counts, sizes) / m. Floors plus a unit-capacity max flow for the remainders
    (a matrix with integer margins always has such a rounding).
    """
    from scipy.sparse import csr_matrix  # heavy: loaded on use
    from scipy.sparse.csgraph import maximum_flow  # heavy: loaded on use

    T = np.outer(counts, sizes) / counts.sum()
    A = np.floor(T + 1e-9).astype(np.int64)
    row_need = counts - A.sum(axis=1)
    col_need = sizes - A.sum(axis=0)
    if not row_need.any():
        return A
    k, p = A.shape
    src, sink = 0, k + p + 1
    rows, cols, caps = [], [], []
    for c in np.flatnonzero(row_need):
        rows.append(src), cols.append(1 + c), caps.append(int(row_need[c]))
        for j in range(p):
            if T[c, j] - A[c, j] > 1e-9:
                rows.append(1 + c), cols.append(1 + k + j), caps.append(1)
    for j in np.flatnonzero(col_need):
        rows.append(1 + k + j), cols.append(sink), caps.append(int(col_need[j]))
    graph = csr_matrix((np.array(caps, dtype=np.int32), (rows, cols)), shape=(sink + 1,) * 2)
    flow = maximum_flow(graph, src, sink).flow.toarray()
    return A + np.maximum(flow[1:k + 1, k + 1:k + 1 + p], 0)


def split(X, y, *, dev: float | int | None = None, test: float | int | None = None,
          dev_only: bool = False, stratify: bool = True,
          random_state: RandomState = 0) -> Split:
    """Shuffle and cut (X, y) into train/dev/test of sizes split_sizes(m, ...).

    With ``stratify=True`` and class labels in y (integers, booleans, strings or
    integral floats), every part holds each class in the proportion of the whole data
    set, within one example. Continuous (regression) targets are split at random.

    Parameters
    ----------
    X : array of shape (m, ...)
        Samples as rows.
    y : array of shape (m,) or (m, k)
        Labels or targets.
    dev, test, dev_only :
        As in :func:`split_sizes`.
    stratify : bool
        Keep class proportions equal across parts (classification labels only).
    random_state : None, int, SeedSequence or Generator
        Seed of the shuffle.

    Returns
    -------
    Split

    Raises
    ------
    DataError
        If X and y differ in length or m is too small.

    Examples
    --------
    >>> X = np.arange(20.0).reshape(10, 2); y = np.array([0] * 5 + [1] * 5)
    >>> s = split(X, y, random_state=0)
    >>> s.sizes, np.bincount(s.y_dev).tolist()
    (SplitSizes(train=6, dev=2, test=2), [1, 1])
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise DataError("X and y must be arrays with samples as rows")
    if len(X) != len(y):
        raise DataError(f"X and y must have the same number of samples, got {len(X)} and "
                        f"{len(y)}")
    parts, sizes, stratified = split_indices(y, dev=dev, test=test, dev_only=dev_only,
                                             stratify=stratify, random_state=random_state)
    test_index = None if dev_only else parts[2]
    return Split(
        X_train=X[parts[0]], y_train=y[parts[0]], X_dev=X[parts[1]], y_dev=y[parts[1]],
        X_test=None if dev_only else X[test_index], y_test=None if dev_only else y[test_index],
        sizes=sizes, dev_only=dev_only, train_index=parts[0], dev_index=parts[1],
        test_index=test_index, stratified=stratified)


def split_indices(y, *, dev: float | int | None = None, test: float | int | None = None,
                  dev_only: bool = False, stratify: bool = True,
                  random_state: RandomState = 0) -> tuple[list[np.ndarray], SplitSizes, bool]:
    """([train, dev(, test)] index arrays, sizes, stratified): ``split`` without copying X.

    The same shuffle as :func:`split` (X[parts[0]] is its X_train); for data too large to
    copy, such as a memory-mapped file, whose parts are then read through these indices.
    The indices are int32 below 2**31 rows (4 bytes a row; the same draws as int64).
    """
    y = np.asarray(y)
    stratify = check_bool("stratify", stratify)
    sizes = split_sizes(len(y), dev=dev, test=test, dev_only=dev_only)
    rng = np.random.default_rng(as_seed_sequence(random_state))
    part_sizes = np.array(sizes[:2] if dev_only else sizes, dtype=np.int64)
    codes = _labels(y) if stratify else None
    stratified = codes is not None
    if codes is None:
        order = permutation(rng, len(y))  # int32 below 2**31 rows: 4 bytes a row
        parts = np.split(order, np.cumsum(part_sizes)[:-1])
    else:
        counts = np.bincount(codes)
        table = _round_table(counts, part_sizes)
        pieces = [[] for _ in part_sizes]
        for c in range(len(counts)):
            members = np.flatnonzero(codes == c).astype(index_dtype(len(y)), copy=False)
            rng.shuffle(members)  # = rng.permutation(members), without its copy
            for j, chunk in enumerate(np.split(members, np.cumsum(table[c])[:-1])):
                pieces[j].append(chunk)
        del codes
        parts = []
        for j in range(len(pieces)):  # one part's pieces freed as it is joined
            parts.append(np.concatenate(pieces[j]))
            pieces[j] = None
            rng.shuffle(parts[-1])
    return parts, sizes, stratified
