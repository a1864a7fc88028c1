"""Embedded data sets (no network): scikit-learn's and generated ones, seeded.

``digits`` (scikit-learn's 8x8 handwritten digits), ``moons``, ``circles``, ``blobs``
(scikit-learn generators, seeded, with noise) and ``flower`` (the planar two-class "flower" of
the deeplearning.ai course, generated with NumPy).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deeprecipe._random import as_seed_sequence
from deeprecipe._typing import RandomState
from deeprecipe._io import check_size
from deeprecipe._validation import check_int
from deeprecipe.data.datasets import Dataset
from deeprecipe.errors import DataError

__all__ = ["DATASETS", "load_dataset"]


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _make(name, X, y, n_classes, description, image_shape=None) -> Dataset:
    return Dataset(X=np.ascontiguousarray(X, dtype=np.float32),
                   y=np.asarray(y, dtype=np.int64), task="classification",
                   n_classes=n_classes, image_shape=image_shape, name=name,
                   description=description)


def _digits(rng: np.random.Generator, n: int | None) -> Dataset:
    from sklearn.datasets import load_digits  # heavy: loaded on use

    d = load_digits()
    X, y = d.data, d.target
    if n is not None:
        if n > len(X):
            raise DataError(f"digits has {len(X)} samples, n_samples={n} asked for more")
        idx = np.sort(rng.choice(len(X), n, replace=False))
        X, y = X[idx], y[idx]
    return _make("digits", X, y, 10, "8x8 handwritten digits 0-9 (scikit-learn), pixel "
                 "values 0..16; flattened rows, image_shape (8, 8)", (8, 8))


def _moons(rng: np.random.Generator, n: int | None) -> Dataset:
    from sklearn.datasets import make_moons  # heavy: loaded on use

    X, y = make_moons(n_samples=n or 500, noise=0.2, random_state=_seed(rng))
    return _make("moons", X, y, 2, "two interleaving half circles, Gaussian noise 0.2")


def _circles(rng: np.random.Generator, n: int | None) -> Dataset:
    from sklearn.datasets import make_circles  # heavy: loaded on use

    X, y = make_circles(n_samples=n or 500, noise=0.1, factor=0.5, random_state=_seed(rng))
    return _make("circles", X, y, 2, "a small circle inside a big one, noise 0.1")


def _blobs(rng: np.random.Generator, n: int | None) -> Dataset:
    from sklearn.datasets import make_blobs  # heavy: loaded on use

    X, y = make_blobs(n_samples=n or 500, centers=3, n_features=2, cluster_std=1.0,
                      random_state=_seed(rng))
    return _make("blobs", X, y, 3, "three isotropic Gaussian blobs in 2-D, std 1.0")


def _flower(rng: np.random.Generator, n: int | None) -> Dataset:
    """r = 4 sin(4t) + noise, (x1, x2) = (r sin t, r cos t); class j: t in [3.12j, 3.12(j+1)]."""
    m = n or 400
    sizes = (m // 2, m - m // 2)
    X, y = [], []
    for j, size in enumerate(sizes):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, size) + rng.normal(0.0, 0.2, size)
        r = 4.0 * np.sin(4.0 * t) + rng.normal(0.0, 0.2, size)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(size, j))
    return _make("flower", np.concatenate(X), np.concatenate(y), 2,
                 "planar 'flower' of the deeplearning.ai course: 8 petals, 2 classes")


DATASETS: dict[str, Callable[[np.random.Generator, int | None], Dataset]] = {
    "digits": _digits, "moons": _moons, "circles": _circles, "blobs": _blobs,
    "flower": _flower,
}


def load_dataset(name: str, *, random_state: RandomState = 0,
                 n_samples: int | None = None) -> Dataset:
    """Dataset ``name`` from DATASETS, generated or loaded offline with ``random_state``.

    Parameters
    ----------
    name : {"digits", "moons", "circles", "blobs", "flower"}
    random_state : None, int, SeedSequence or Generator
        Seed of the generator (and of the subsample for ``digits``).
    n_samples : int, optional
        Number of samples (generators' default 500, flower 400, digits all 1,797).

    Raises
    ------
    DataError
        For an unknown name (the message lists the known ones).

    Examples
    --------
    >>> d = load_dataset("digits")
    >>> d.X.shape, d.image_shape, d.n_classes
    ((1797, 64), (8, 8), 10)
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known data sets: "
                        f"{', '.join(sorted(DATASETS))}")
    if n_samples is not None:
        n_samples = check_int("n_samples", n_samples, low=2)
        # generated in float64 with up to 64 features: refused before a huge allocation
        check_size(f"{name} with n_samples={n_samples}", (n_samples, 64), 8, error=DataError)
    rng = np.random.default_rng(as_seed_sequence(random_state))
    return DATASETS[name](rng, n_samples)
