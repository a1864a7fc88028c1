"""Data seen through an index: X[index], standardized as it is read, never copied whole.

``Rows(base, index, mean=mu, std=sigma)`` stands for ``(base[index] - mu) / sigma``. ``base`` is
an in-memory array, a memory map of a file (``np.load(path, mmap_mode="r")``) or ``Shards``, the
maps of a folder of .npy shards read as one array (anything with ``shape``, ``dtype``,
``take(rows, axis=0, out=..., mode=...)`` and row indexing); ``index`` holds sorted row numbers
(a split's train, dev or test part; int32 below 2**31 rows). The trainer gathers each
mini-batch by sorted row numbers into its preallocated buffer (``take_batch``) and
standardizes that buffer in place, so training holds O(batch x n_features) of X whatever m
is; slicing (``rows[a:b]``) and row arrays (``rows[[3, 1]]``) give standardized copies of just
those rows, which is how evaluation runs in chunks.
"""

from __future__ import annotations

import numpy as np

from deeprecipe.engine.losses import Loss, get_loss
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import DataError

__all__ = ["Rows", "prepare_rows"]


class Rows:
    """(base[index] - mean) / std of shape (len(index), n_features), read row block by block.

    Parameters
    ----------
    base : array of shape (m, n_features), in memory or memory-mapped, or ``Shards`` of
        maps; any real dtype.
    index : sorted int array of shape (k,) (None: all m rows).
    mean, std : arrays of shape (n_features,) (None: no standardization).
    dtype : the dtype rows come out in (float32 by default, the network's).
    """

    ndim = 2

    def __init__(self, base: np.ndarray, index: np.ndarray | None = None, *,
                 mean: np.ndarray | None = None, std: np.ndarray | None = None,
                 dtype=np.float32) -> None:
        if base.ndim != 2:
            raise DataError(f"Rows needs a 2-D array (samples as rows), got shape {base.shape}")
        self.base = base
        self.index = None if index is None else np.asarray(index)  # int32 or int64, kept
        if self.index is not None and self.index.dtype.kind != "i":
            self.index = self.index.astype(np.intp)
        self.dtype = np.dtype(dtype)
        self.mu = None if mean is None else np.asarray(mean, dtype=self.dtype)
        self.sigma = None if std is None else np.asarray(std, dtype=self.dtype)
        self._at = np.empty(0, dtype=np.intp)  # sorted positions of the batch being gathered
        self._rows = np.empty(0, dtype=self._index_dtype)  # their row numbers in base

    def __len__(self) -> int:
        return len(self.base) if self.index is None else len(self.index)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), self.base.shape[1]

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def _index_dtype(self) -> np.dtype:
        """The dtype of row numbers: the index's (int32 below 2**31 rows), else intp."""
        return np.dtype(np.intp) if self.index is None else self.index.dtype

    @property
    def mapped(self) -> bool:
        """True if base is a memory map of a file (or ``Shards`` of maps)."""
        if not isinstance(self.base, np.ndarray):
            return bool(getattr(self.base, "mapped", False))
        return isinstance(self.base, np.memmap) or isinstance(self.base.base, np.memmap)

    def astype(self, dtype) -> Rows:
        """The same rows coming out in ``dtype`` (no data copied)."""
        return Rows(self.base, self.index, mean=self.mu, std=self.sigma, dtype=dtype)

    def _standardize_(self, out: np.ndarray) -> np.ndarray:
        """out := (out - mean) / std in place."""
        if self.mu is not None:
            np.subtract(out, self.mu, out=out)
            np.divide(out, self.sigma, out=out)
        return out

    def _read(self, rows: np.ndarray | None, out: np.ndarray) -> np.ndarray:
        """out := standardized base[rows] (None: all of base; sorted rows read a map in order)."""
        if rows is None:
            out[...] = self.base
        elif self.base.dtype == self.dtype:  # Shards: one np.take per shard touched
            np.take(self.base, rows, axis=0, out=out, mode="clip")  # clip: out unbuffered
        else:  # e.g. uint8 pixels: converted batch by batch
            out[...] = self.base[rows]
        return self._standardize_(out)

    def __getitem__(self, key) -> np.ndarray:
        """Standardized copy of the rows at ``key`` (a slice or an int array of positions)."""
        positions = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key)
        rows = positions if self.index is None else self.index[positions]
        return self._read(rows, np.empty((len(rows), self.shape[1]), self.dtype))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """All rows, standardized, as one array (the copy Rows otherwise avoids)."""
        out = self[:]
        return out if dtype is None else out.astype(dtype, copy=False)

    def take_batch(self, positions: np.ndarray | None, Y: np.ndarray, x_out: np.ndarray,
                   y_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(X, Y) of the mini-batch at ``positions`` (None: all rows in order), sorted by row.

        X rows go into ``x_out[:k]``, standardized in place, and the matching Y rows into
        ``y_out[:k]``; the sort and the gathers reuse buffers (no allocation per step).
        """
        if positions is None:  # the full batch
            return self._read(self.index, x_out[:len(self)]), Y
        k = len(positions)
        if len(self._at) < k:
            self._at, self._rows = np.empty(k, np.intp), np.empty(k, self._index_dtype)
        at = self._at[:k]
        at[:] = positions
        at.sort()
        rows = at if self.index is None else np.take(self.index, at, out=self._rows[:k],
                                                     mode="clip")
        return self._read(rows, x_out[:k]), np.take(Y, at, axis=0, out=y_out[:k], mode="clip")

    def __reduce__(self):
        """A memory map travels as its file name, to be mapped again (never as its data);
        ``Shards`` as their file names (their own ``__reduce__``).

        base must then be a whole map (as ``np.load(path, mmap_mode="r")`` gives it,
        reshaped at most)."""
        if self.mapped and isinstance(self.base, np.memmap) and self.base.filename:
            return (_remap, (self.base.filename, self.base.offset, self.base.dtype.str,
                             self.base.shape, self.index, self.mu, self.sigma, self.dtype.str))
        base = np.asarray(self.base) if isinstance(self.base, np.ndarray) else self.base
        return (_rebuild, (base, self.index, self.mu, self.sigma, self.dtype.str))

    def __repr__(self) -> str:
        kind = "memory-mapped" if self.mapped else "in-memory"
        return f"Rows({len(self)} of {len(self.base)} {kind} rows x {self.shape[1]})"


def _remap(filename, offset, dtype, shape, index, mean, std, out_dtype) -> Rows:
    base = np.memmap(filename, dtype=np.dtype(dtype), mode="r", offset=offset,
                     shape=tuple(shape))
    return Rows(base, index, mean=mean, std=std, dtype=out_dtype)


def _rebuild(base, index, mean, std, out_dtype) -> Rows:
    return Rows(base, index, mean=mean, std=std, dtype=out_dtype)


def prepare_rows(net: Sequential, X, y, loss: str | Loss) -> tuple:
    """``net.prepare(X, y, loss)``, except that Rows stay Rows (checked by shape, not read:
    their file was checked when it was loaded); returns (X, Y, loss)."""
    if not isinstance(X, Rows):
        return net.prepare(X, y, loss)
    loss = get_loss(loss)
    net.prepare(X[:1], np.asarray(y)[:1], loss)  # the network, the loss, one row: fail early
    Y = loss.prepare_targets(y, net.output_dim, net.dtype)
    if len(Y) != len(X):
        raise DataError(f"X has {len(X)} samples but y has {len(Y)}")
    return (X if X.dtype == net.dtype else X.astype(net.dtype)), Y, loss
