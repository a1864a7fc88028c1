"""Tests for deeprecipe.optimize.rows: data read through an index, standardized per batch."""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe.errors import DataError
from deeprecipe.optimize.rows import Rows, prepare_rows


@pytest.fixture
def mapped(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(5_000, 6)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    return np.load(tmp_path / "X.npy", mmap_mode="r"), X


def _stats(X, index):
    return X[index].astype(np.float64).mean(0), X[index].astype(np.float64).std(0)


def test_take_batch_reads_sorted_rows_standardized_with_their_labels(mapped):
    base, X = mapped
    index = np.arange(0, 5_000, 3)
    mu, sigma = _stats(X, index)
    rows = Rows(base, index, mean=mu, std=sigma)
    y = np.arange(len(index)) * 10
    xb, yb = np.empty((64, 6), np.float32), np.empty(64, y.dtype)
    positions = np.array([40, 3, 900, 17])
    Xb, Yb = rows.take_batch(positions, y, xb, yb)
    order = np.sort(positions)
    assert np.shares_memory(Xb, xb) and np.shares_memory(Yb, yb)
    expected = (X[index[order]] - mu.astype(np.float32)) / sigma.astype(np.float32)
    assert np.array_equal(Xb, expected)  # the same float32 arithmetic as transform()
    assert np.array_equal(Yb, y[order])
    assert np.array_equal(rows[order], expected) and rows.mapped


def test_a_batch_step_allocates_nothing(tmp_path):
    np.save(tmp_path / "wide.npy", np.ones((5_000, 64), np.float32))
    base = np.load(tmp_path / "wide.npy", mmap_mode="r")
    rows = Rows(base, np.arange(1, 5_000, 2), mean=np.zeros(64), std=np.ones(64))
    y = np.zeros(len(rows), np.intp)
    xb, yb = np.empty((512, 64), np.float32), np.empty(512, np.intp)
    perm = np.random.default_rng(0).permutation(len(rows))
    rows.take_batch(perm[:512], y, xb, yb)  # warm-up: the index buffers are made once
    tracemalloc.start()
    try:
        for s in range(1, 4):
            rows.take_batch(perm[s * 512:(s + 1) * 512], y, xb, yb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # a batch's X is 128 KiB; what may remain is NumPy's fixed 8,192-element iterator buffer
    # of the broadcast (x - mu) / sigma (32 KiB) and small objects, as in test_performance
    assert peak < 48 * 1024


def test_a_mapped_rows_pickles_as_its_file_name(mapped):
    base, X = mapped
    rows = Rows(base, np.arange(100, 4_000), mean=np.ones(6), std=np.full(6, 2.0))
    blob = pickle.dumps(rows)
    assert len(blob) < 0.5 * X.nbytes  # the index travels, the data does not
    again = pickle.loads(blob)
    assert again.mapped and np.array_equal(again[:50], rows[:50])
    in_memory = Rows(X, None)
    assert np.array_equal(pickle.loads(pickle.dumps(in_memory))[:], X)


def test_integer_pixels_are_converted_batch_by_batch():
    pixels = np.arange(40, dtype=np.uint8).reshape(10, 4)
    rows = Rows(pixels, np.array([2, 5]), mean=np.full(4, 10.0), std=np.full(4, 2.0))
    assert rows[:].dtype == np.float32
    assert np.array_equal(rows[:], (pixels[[2, 5]].astype(np.float32) - 10) / 2)


def test_full_batch_training_through_rows_equals_training_on_the_array():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    index = np.sort(rng.choice(300, 200, replace=False))
    mu, sigma = _stats(X, index)
    Z = ((X[index] - mu.astype(np.float32)) / sigma.astype(np.float32))
    nets = []
    for data in (Rows(X, index, mean=mu, std=sigma), Z):
        net = dr.Sequential([dr.layers.Dense(8), dr.layers.ReLU(), dr.layers.Dense(2),
                             dr.layers.Softmax()], random_state=0)
        dr.train(net, data, y[index], batch_size=None, epochs=5, random_state=0)
        nets.append(net)
    for key, W in nets[0].params.items():
        assert np.array_equal(W, nets[1].params[key]), key


def test_prepare_rows_checks_lengths_and_features():
    net = dr.Sequential([dr.layers.Dense(2), dr.layers.Softmax()], input_dim=3, random_state=0)
    rows = Rows(np.zeros((10, 3), np.float32))
    X, Y, _ = prepare_rows(net, rows, np.zeros(10, int), "categorical_crossentropy")
    assert X is rows and Y.shape == (10,)
    with pytest.raises(DataError, match="10 samples but y has 9"):
        prepare_rows(net, rows, np.zeros(9, int), "categorical_crossentropy")
    with pytest.raises(DataError, match="4 features, expected 3"):
        prepare_rows(net, Rows(np.zeros((10, 4), np.float32)), np.zeros(10, int),
                     "categorical_crossentropy")
