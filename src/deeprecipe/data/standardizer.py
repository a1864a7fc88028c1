"""Normalizing inputs: x := (x - mu) / sigma with mu, sigma from the training set only.

The lecture's tip: use the *same* mu and sigma (fitted on train) for the dev and test sets
and for every prediction, never statistics of those sets themselves.
"""

from __future__ import annotations

import numpy as np

from deeprecipe._validation import check_features
from deeprecipe.errors import DataError, NotFittedError

__all__ = ["Standardizer"]


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
        self.image_shape = None if image_shape is None else tuple(image_shape)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.n_features_in_: int | None = None

    def fit(self, X) -> Standardizer:
        """Learn mu = mean(X, axis=0) and sigma = std(X, axis=0) from the training set X."""
        X = _as_float(X, "X")
        X64 = X.astype(np.float64, copy=False)
        if self.image_shape is not None:
            mean, std = self._per_channel(X64)
        else:
            mean, std = X64.mean(axis=0), X64.std(axis=0)
            std[(np.ptp(X, axis=0) == 0) | (std == 0)] = 1.0
        self.mean_, self.std_, self.n_features_in_ = mean, std, X.shape[1]
        return self

    def _per_channel(self, X64: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """mu, sigma of each channel (all pixels of it), repeated for each of its features."""
        if int(np.prod(self.image_shape)) != X64.shape[1]:
            raise DataError(f"image_shape {self.image_shape} does not match the "
                            f"{X64.shape[1]} features of X")
        channels = self.image_shape[-1] if len(self.image_shape) == 3 else 1
        pixels = X64.reshape(len(X64), -1, channels)
        mean, std = pixels.mean(axis=(0, 1)), pixels.std(axis=(0, 1))
        std[std == 0] = 1.0
        reps = X64.shape[1] // channels
        return np.tile(mean, reps), np.tile(std, reps)

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
        mean = np.asarray(data["mean"], dtype=np.float64).reshape(-1)
        std = np.asarray(data["std"], dtype=np.float64).reshape(-1)
        if mean.shape != std.shape or not (np.isfinite(mean).all() and np.isfinite(std).all()
                                           and (std > 0).all()):
            raise DataError("Standardizer.from_dict: 'mean' and 'std' must be finite, of "
                            "equal length, with std > 0")
        obj.mean_, obj.std_, obj.n_features_in_ = mean, std, len(mean)
        return obj

    def __repr__(self) -> str:
        state = "unfitted" if self.mean_ is None else f"n_features={self.n_features_in_}"
        return f"Standardizer({state})"
