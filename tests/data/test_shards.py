"""Tests for deeprecipe.data.shards: a folder of .npy shards is mapped and read as one array."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from deeprecipe.data import load_file
from deeprecipe.data.mapped import check_finite
from deeprecipe.data.shards import Shards, open_shards
from deeprecipe.errors import DataError
from deeprecipe.optimize.rows import Rows

CUTS = (0, 100, 103, 103, 250)  # an empty shard and a 3-row one between the others


@pytest.fixture
def shards(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(250, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    for i, (a, b) in enumerate(zip(CUTS[:-1], CUTS[1:], strict=True)):
        np.save(tmp_path / f"X_{i * 5}.npy", X[a:b])  # X_10 after X_5: numeric order
        np.save(tmp_path / f"y_{i * 5}.npy", y[a:b])
    return tmp_path, X, y


def test_a_folder_of_shards_is_mapped_not_joined(shards):
    folder, X, y = shards
    ds = load_file(folder)
    assert isinstance(ds.X, Shards) and ds.X.mapped and len(ds.X.maps) == 4
    assert all(isinstance(a, np.memmap) for a in ds.X.maps)
    assert ds.X.shape == X.shape and np.array_equal(np.asarray(ds.X), X)
    assert np.array_equal(ds.y, y) and "memory-mapped" in ds.description
    assert not list(folder.glob("X.npy"))  # nothing written


def test_rows_are_gathered_across_shards_in_any_order(shards):
    folder, X, _ = shards
    S = load_file(folder).X
    rng = np.random.default_rng(1)
    sorted_rows = np.sort(rng.choice(250, 120, replace=False)).astype(np.int32)
    shuffled = rng.permutation(250)[:77]
    assert np.array_equal(S[sorted_rows], X[sorted_rows])
    assert np.array_equal(S[shuffled], X[shuffled])
    assert np.array_equal(S[95:110], X[95:110]) and np.array_equal(S[-1], X[-1])
    out = np.full((120, 4), np.nan, np.float32)  # one np.take per shard into this buffer
    assert np.take(S, sorted_rows, axis=0, out=out, mode="clip") is out
    assert np.array_equal(out, X[sorted_rows])
    with pytest.raises(IndexError):
        S[[0, 250]]


def test_rows_of_shards_batch_and_pickle_as_file_names(shards):
    folder, X, _ = shards
    index = np.arange(3, 250, 2, dtype=np.int32)
    rows = Rows(load_file(folder).X, index, mean=np.ones(4), std=np.full(4, 2.0))
    assert rows.mapped
    expected = (X[index] - 1) / 2
    xb, yb = np.empty((8, 4), np.float32), np.empty(8)
    Xb, _ = rows.take_batch(np.array([60, 2, 49, 50]), np.arange(len(index), dtype=float),
                            xb, yb)
    assert np.array_equal(Xb, expected[[2, 49, 50, 60]])
    blob = pickle.dumps(rows)
    assert len(blob) < X.nbytes // 2  # the shards travel as their file names
    again = pickle.loads(blob)
    assert again.mapped and np.array_equal(again[:], rows[:])


def test_train_and_test_shards_and_bad_rows_across_shards(tmp_path, shards):
    folder, X, y = shards
    (tmp_path / "tt").mkdir()
    for name, A in (("X_train_0", X[:200]), ("y_train_0", y[:200]), ("X_test_0", X[200:]),
                    ("y_test_0", y[200:])):
        np.save(tmp_path / "tt" / f"{name}.npy", A)
    ds = load_file(tmp_path / "tt")
    assert isinstance(ds.X, Shards) and np.array_equal(np.asarray(ds.X_test), X[200:])
    bad = X.copy()
    bad[101, 2] = np.nan
    np.save(folder / "X_5.npy", bad[100:103])
    with pytest.raises(DataError, match="first at row 101"):
        load_file(folder)
    check_finite(folder, Shards([X[:100], X[100:]]))


def test_shards_must_match_beyond_their_rows(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 2), np.float32))
    np.save(tmp_path / "b.npy", np.zeros((3, 3), np.float32))
    with pytest.raises(DataError, match="differ in rows only"):
        open_shards([tmp_path / "a.npy", tmp_path / "b.npy"])
    np.save(tmp_path / "X_0.npy", np.zeros((3, 2), np.float32))
    with pytest.raises(DataError, match="none of y"):
        load_file(tmp_path)
