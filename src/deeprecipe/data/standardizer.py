"""Normalizing inputs: x := (x - mu) / sigma with mu, sigma from the training set only.

The lecture's tip: use the *same* mu and sigma (fitted on train) for the dev and test sets
and for every prediction, never statistics of those sets themselves. The fit is one streaming
pass over chunks of rows (Chan's parallel update of mean and variance), so a memory-mapped
training set is never loaded whole.
"""

from __future__ import annotations

import numbers

import numpy as np

from deeprecipe._validation import check_features
from deeprecipe.errors import DataError, InvalidValueError, NotFittedError

__all__ = ["Standardizer"]

CHUNK_ELEMENTS = 2**20  # per chunk of the streaming fit: 8 MB of float64 whatever n is
_GATHER_ELEMENTS = 2**16  # rows read into the chunk at a time: 256 KB of float32


def _chunk_moments(C64: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(n, mean, M2) of a float64 chunk (n, d): M2 = sum((C - mean)**2, axis=0), computed in
    C64's own memory (it is overwritten: no temporary of the chunk's size)."""
    mean = C64.mean(axis=0)
    dev = np.subtract(C64, mean, out=C64)
    return len(C64), mean, np.multiply(dev, dev, out=dev).sum(axis=0)


def _gather(X: np.ndarray, rows: np.ndarray | None, start: int, out: np.ndarray) -> None:
    """out := X[start:start + len(out)] (or X[rows[...]]) as float64, a block of rows at a
    time, so the rows' own dtype never has a chunk-sized copy beside ``out``."""
    step = max(1, _GATHER_ELEMENTS // max(1, X.shape[1]))
    for a in range(0, len(out), step):
        b = min(len(out), a + step)
        out[a:b] = X[start + a:start + b] if rows is None else X[rows[start + a:start + b]]


def _chan(a: tuple, b: tuple) -> tuple[int, np.ndarray, np.ndarray]:
    """Merge (n, mean, M2) of two parts (Chan et al.): delta = mean_b - mean_a,
    mean = mean_a + delta * n_b / n, M2 = M2_a + M2_b + delta**2 * n_a * n_b / n."""
    (na, ma, m2a), (nb, mb, m2b) = a, b
    n = na + nb
    delta = mb - ma
    return n, ma + delta * (nb / n), m2a + m2b + delta * delta * (na * nb / n)


def _as_float(X, name: str, n_features: int | None = None) -> np.ndarray:
    """X as a finite 2-D float array; floating dtypes are kept, others become float32."""
    arr = np.asarray(X)
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float32
    return check_features(arr, name=name, dtype=dtype, n_features=n_features)


class Standardizer:
    """mu = mean(X_train, axis=0), sigma = std(X_train, axis=0); x := (x - mu) / sigma.

    sigma is the population standard deviation (1/m, as in the lecture). A feature that is
    constant on the training set gets sigma = 1, so it is only centred (no division by
    zero). Float inputs keep their dtype (float32 stays float32); integer inputs become
    float32.

    ``image_shape=(H, W)`` or ``(H, W, C)`` normalizes images globally (one mu, sigma over
    all pixels) or per channel C, not per pixel: a near-constant border pixel is not blown
    up. mean_ and std_ still hold one value per feature (the pixel's channel's).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,), float64
    std_ : ndarray of shape (n_features,), float64 (1.0 for constant features)
    n_features_in_ : int

    Examples
    --------
    >>> X_train = np.array([[1.0, 5.0], [3.0, 5.0]])
    >>> s = Standardizer().fit(X_train)
    >>> s.mean_.tolist(), s.std_.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    >>> s.transform(np.array([[4.0, 6.0]])).tolist()
    [[2.0, 1.0]]
    """

    def __init__(self, image_shape: tuple[int, ...] | None = None) -> None:
        if image_shape is not None and not (
                isinstance(image_shape, (tuple, list)) and image_shape
                and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
                        for s in image_shape)):
            raise InvalidValueError("image_shape must be None or a tuple of positive ints "
                                    f"such as (28, 28) or (32, 32, 3), got {image_shape!r}")
        self.image_shape = None if image_shape is None else tuple(image_shape)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.n_features_in_: int | None = None

    def fit(self, X, *, rows: np.ndarray | None = None,
            chunk_rows: int | None = None) -> Standardizer:
        """Learn mu = mean(X[rows], axis=0), sigma = std(X[rows], axis=0) in one streaming pass.

        X (m, n) may be a memory map: it is read ``chunk_rows`` rows at a time (each chunk's
        mean and M2 in float64, merged with Chan's update), so memory stays one float64 chunk
        of chunk_rows x n, reused (default: 2**20 / n rows, 8 MB). ``rows``: the training
        rows of X (sorted indices, read in order); None = all of X. One chunk is exactly the
        two-pass formula.
        """
        X = _as_float(X, "X") if rows is None else X
        if rows is not None and (X.ndim != 2 or len(rows) == 0):
            raise DataError(f"X must be 2-D with at least one training row, got shape "
                            f"{X.shape} and {len(rows)} rows")
        m = len(X) if rows is None else len(rows)
        chunk_rows = chunk_rows or max(1, CHUNK_ELEMENTS // max(1, X.shape[1]))
        acc, lo, hi = None, None, None
        buffer = np.empty((min(m, chunk_rows), X.shape[1]), dtype=np.float64)  # reused
        for start in range(0, m, chunk_rows):
            C = buffer[:min(chunk_rows, m - start)]
            _gather(X, rows, start, C)
            c_lo, c_hi = C.min(axis=0), C.max(axis=0)
            with np.errstate(over="ignore", invalid="ignore"):  # overflow: a DataError below
                part = _chunk_moments(C)
                acc = part if acc is None else _chan(acc, part)
            lo = c_lo if lo is None else np.minimum(lo, c_lo)
            hi = c_hi if hi is None else np.maximum(hi, c_hi)
        n, mean, M2 = acc
        if not (np.isfinite(mean).all() and np.isfinite(M2).all()):
            if np.isfinite(lo).all() and np.isfinite(hi).all():
                raise DataError(f"X has values too large to standardize (largest magnitude "
                                f"{max(np.abs(lo).max(), np.abs(hi).max()):g}: their squares "
                                "overflow float64); rescale them first")
            raise DataError("X contains NaN or inf values in its training rows; clean or "
                            "impute them first")
        if self.image_shape is not None:
            mean, std = self._per_channel(n, mean, M2)
        else:
            std = np.sqrt(M2 / n)
            std[(lo == hi) | (std == 0)] = 1.0  # a constant feature is only centred
        self.mean_, self.std_, self.n_features_in_ = mean, std, X.shape[1]
        return self

    def _per_channel(self, n: int, mean: np.ndarray, M2: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
        """mu, sigma of each channel, all its pixels pooled from the per-feature moments:
        mu_c = mean_f(mean_f), var_c = (sum_f M2_f + n sum_f (mean_f - mu_c)^2) / (n |F_c|),
        repeated for each of its features (features are (H, W, C) flattened, C last)."""
        if int(np.prod(self.image_shape)) != len(mean):
            raise DataError(f"image_shape {self.image_shape} does not match the "
                            f"{len(mean)} features of X")
        channels = self.image_shape[-1] if len(self.image_shape) == 3 else 1
        means, M2s = mean.reshape(-1, channels), M2.reshape(-1, channels)
        mu = means.mean(axis=0)
        var = (M2s.sum(axis=0) + n * ((means - mu) ** 2).sum(axis=0)) / (n * len(means))
        std = np.sqrt(var)
        std[std == 0] = 1.0
        return np.tile(mu, len(means)), np.tile(std, len(means))

    def _check(self, X, name: str) -> np.ndarray:
        if self.mean_ is None:
            raise NotFittedError("this Standardizer is not fitted yet; call fit(X_train) "
                                 "first (fit on the training set only)")
        arr = np.asarray(X)
        if arr.ndim == 2 and arr.shape[1] != self.n_features_in_:
            raise DataError(f"{name} has {arr.shape[1]} features, but the Standardizer was "
                            f"fitted on {self.n_features_in_}")
        return _as_float(arr, name, self.n_features_in_)

    def transform(self, X) -> np.ndarray:
        """x := (x - mu) / sigma with the training-set mu and sigma; same dtype as X."""
        X = self._check(X, "X")
        return ((X - self.mean_.astype(X.dtype)) / self.std_.astype(X.dtype)).astype(
            X.dtype, copy=False)

    def fit_transform(self, X) -> np.ndarray:
        """fit(X) then transform(X); use on the training set only."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """x = z * sigma + mu; undoes transform()."""
        Z = self._check(Z, "Z")
        return (Z * self.std_.astype(Z.dtype) + self.mean_.astype(Z.dtype)).astype(
            Z.dtype, copy=False)

    def to_dict(self) -> dict:
        """{"type", "mean", "std"} with plain lists: JSON-ready, or np.asarray() for .npz."""
        if self.mean_ is None:
            return {"type": "Standardizer", "mean": None, "std": None}
        return {"type": "Standardizer", "mean": self.mean_.tolist(),
                "std": self.std_.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> Standardizer:
        """Rebuild a Standardizer from to_dict() output (lists or arrays)."""
        if not isinstance(data, dict) or "mean" not in data or "std" not in data:
            raise DataError("Standardizer.from_dict needs a dict with 'mean' and 'std', got "
                            f"{type(data).__name__}")
        obj = cls()
        if data["mean"] is None:
            return obj
        try:
            mean = np.asarray(data["mean"], dtype=np.float64).reshape(-1)
            std = np.asarray(data["std"], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise DataError("Standardizer.from_dict: 'mean' and 'std' must be lists of "
                            f"numbers, got {data['mean']!r:.60} and {data['std']!r:.60}") from None
        if mean.shape != std.shape or not (np.isfinite(mean).all() and np.isfinite(std).all()
                                           and (std > 0).all()):
            raise DataError("Standardizer.from_dict: 'mean' and 'std' must be finite, of "
                            "equal length, with std > 0")
        obj.mean_, obj.std_, obj.n_features_in_ = mean, std, len(mean)
        return obj

    def __repr__(self) -> str:
        state = "unfitted" if self.mean_ is None else f"n_features={self.n_features_in_}"
        return f"Standardizer({state})"
