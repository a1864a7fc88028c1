"""Rows of several memory-mapped ``.npy`` shards, read as one array without joining them.

A folder of shards (``X_000.npy``, ``X_001.npy``, ...) is the rows of each shard in numeric
order. ``Shards`` maps every file (``mmap_mode="r"``) and answers what ``Rows``, the
Standardizer and the checks ask of an array: ``shape``, ``dtype``, slices and arrays of row
numbers (copies of just those rows) and ``take(rows, out=...)``, which gathers sorted global
row numbers into a preallocated buffer with one ``np.take`` per shard it touches. Nothing of
X is held in memory but the rows asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deeprecipe.errors import DataError

__all__ = ["Shards", "open_shards"]


class Shards:
    """The rows of ``maps`` (arrays equal but in length, usually memory maps), end to end.

    Parameters
    ----------
    maps : list of arrays of shape (m_s, ...), all with the same trailing shape and dtype.
    paths : the .npy files the maps were opened from (``open_shards``), if any: a Shards
        pickles as these names, to be mapped again.

    Examples
    --------
    >>> s = Shards([np.arange(6.0).reshape(3, 2), np.arange(6.0, 10.0).reshape(2, 2)])
    >>> s.shape, s[2:4].tolist(), s[[4, 0]].tolist()
    ((5, 2), [[4.0, 5.0], [6.0, 7.0]], [[8.0, 9.0], [0.0, 1.0]])
    """

    def __init__(self, maps: list[np.ndarray], paths: list | None = None) -> None:
        if not maps:
            raise DataError("Shards needs at least one array")
        first = maps[0]
        for a in maps[1:]:
            if a.shape[1:] != first.shape[1:] or a.dtype != first.dtype:
                raise DataError(f"shards must differ in rows only: shape {a.shape} {a.dtype} "
                                f"does not match the first shard's {first.shape} {first.dtype}")
        self.maps = list(maps)
        self.paths = None if paths is None else [str(p) for p in paths]
        self.starts = np.cumsum([0] + [len(a) for a in maps])  # shard s: starts[s]:starts[s+1]
        self.dtype = first.dtype
        self.shape = (int(self.starts[-1]), *first.shape[1:])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    @property
    def mapped(self) -> bool:
        """True if every shard is a memory map of a file."""
        return all(isinstance(a, np.memmap) for a in self.maps)

    def __len__(self) -> int:
        return self.shape[0]

    def reshape(self, m: int, n: int) -> Shards:
        """Each shard reshaped to (m_s, n): only ``reshape(len(self), -1)`` (rows flattened)."""
        if m != len(self) or n != -1:
            raise ValueError(f"Shards can only flatten rows: reshape({len(self)}, -1), got "
                             f"reshape({m}, {n})")
        return Shards([a.reshape(len(a), int(np.prod(a.shape[1:]))) for a in self.maps],
                      self.paths)

    def take(self, rows, axis: int = 0, out: np.ndarray | None = None,
             mode: str = "raise") -> np.ndarray:
        """out := the rows ``rows`` (global row numbers), as ``np.take(X, rows, axis=0)``.

        Sorted rows are cut where the shards meet (a binary search) and each piece is one
        ``np.take`` into its slice of ``out``; unsorted rows are gathered sorted and put back
        in their order. ``mode`` as in ``np.take`` ("clip" for sorted in-range rows).
        """
        if axis != 0:
            raise ValueError(f"Shards.take reads rows only (axis=0), got axis={axis}")
        rows = np.asarray(rows)
        if out is None:
            out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"row numbers must be in [0, {len(self)}), got "
                             f"{rows.min()}..{rows.max()}")
        if len(rows) > 1 and not np.all(rows[1:] >= rows[:-1]):
            order = np.argsort(rows, kind="stable")
            out[order] = self.take(rows[order])
            return out
        cuts = np.searchsorted(rows, self.starts)
        for s, a in enumerate(self.maps):
            lo, hi = cuts[s], cuts[s + 1]
            if lo == hi:
                continue
            local = rows[lo:hi] - self.starts[s]
            if out.dtype == self.dtype:
                np.take(a, local, axis=0, out=out[lo:hi], mode=mode)
            else:
                out[lo:hi] = a[local]
        return out

    def __getitem__(self, key) -> np.ndarray:
        """A copy of the rows at ``key``: an int, a slice (step 1) or an array of row numbers."""
        if isinstance(key, (int, np.integer)):
            return self.take(np.array([key % len(self) if key < 0 else key]))[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                return self.take(np.arange(start, stop, step))
            return self.take(np.arange(start, max(start, stop)))
        key = np.asarray(key)
        if key.dtype == bool:
            key = np.flatnonzero(key)
        return self.take(key)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """All rows as one in-memory array (the copy Shards otherwise avoids)."""
        out = np.concatenate(self.maps) if len(self.maps) > 1 else np.array(self.maps[0])
        return out if dtype is None else out.astype(dtype, copy=False)

    def __reduce__(self):
        """Shards of files travel as their file names, to be mapped again."""
        if self.mapped and self.paths is not None:
            return (_reopen, (self.paths, self.shape[1:]))
        return (Shards, ([np.asarray(a) for a in self.maps],))

    def __repr__(self) -> str:
        return f"Shards({len(self.maps)} shards, shape {self.shape}, {self.dtype})"


def open_shards(paths) -> Shards:
    """Shards of the .npy files ``paths``, each memory-mapped (``mmap_mode="r"``)."""
    maps = []
    for path in map(Path, paths):
        try:
            a = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot map .npy without pickle: {exc}") from None
        if a.ndim == 0:
            raise DataError(f"{path}: a shard must have samples as rows, got a scalar")
        if not a.flags.c_contiguous:  # a Fortran-order file: its rows are not contiguous
            a = np.ascontiguousarray(a)
        maps.append(a)
    try:
        return Shards(maps, paths)
    except DataError as exc:
        raise DataError(f"{paths[0]} ...: {exc}") from None


def _reopen(paths, row_shape: tuple) -> Shards:
    """open_shards(paths) with each shard's rows in ``row_shape`` (as it was pickled)."""
    return Shards([a.reshape(len(a), *row_shape) for a in open_shards(paths).maps], paths)
