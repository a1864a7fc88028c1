"""Tests for deeprecipe.data.splits: sizes by the notes' rule, stratification, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeprecipe.data import Split, SplitSizes, split, split_indices, split_sizes
from deeprecipe.errors import DataError, DeepRecipeError, InvalidValueError


@pytest.mark.parametrize("m, expected", [
    (1_000, (600, 200, 200)),
    (100_000, (91_056, 4_472, 4_472)),
    (1_000_000, (980_000, 10_000, 10_000)),
])
def test_split_sizes_follow_the_notes(m, expected):
    sizes = split_sizes(m)
    assert isinstance(sizes, SplitSizes)
    assert tuple(sizes) == expected
    assert sum(sizes) == m


def test_split_sizes_fractions():
    assert [round(v / 1_000, 2) for v in split_sizes(1_000)] == [0.6, 0.2, 0.2]
    train, dev, test = (v / 100_000 for v in split_sizes(100_000))
    assert 0.90 <= train <= 0.96 and dev <= 0.05 and test <= 0.05
    assert [v / 1_000_000 for v in split_sizes(1_000_000)] == [0.98, 0.01, 0.01]


def test_dev_and_test_stop_growing_at_ten_thousand():
    assert split_sizes(50_000_000)[1:] == (10_000, 10_000)
    devs = [split_sizes(m).dev for m in (10_000, 20_000, 100_000, 500_000, 1_000_000)]
    assert devs == sorted(devs)


def test_overrides_and_dev_only():
    assert split_sizes(1_000, dev=0.1, test=0.05) == (850, 100, 50)
    assert split_sizes(1_000, dev=300, test=100) == (600, 300, 100)
    assert split_sizes(1_000, dev_only=True) == (800, 200, 0)
    assert split_sizes(1_000, dev=0.3, dev_only=True) == (700, 300, 0)


@pytest.mark.parametrize("kwargs", [
    {"dev": 0.5, "test": 0.5}, {"dev": 0.7, "test": 0.4}, {"dev": 1.5}, {"dev": 0},
    {"test": -0.1}, {"test": 0.1, "dev_only": True},
])
def test_bad_overrides(kwargs):
    with pytest.raises(InvalidValueError):
        split_sizes(1_000, **kwargs)


def test_too_small():
    with pytest.raises(DataError, match="too small"):
        split_sizes(2)
    with pytest.raises(DataError, match="too small"):
        split_sizes(10, dev=5, test=5)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=10, max_value=10**9), st.booleans())
def test_sizes_sum_to_m_and_are_positive(m, dev_only):
    sizes = split_sizes(m, dev_only=dev_only)
    assert sum(sizes) == m
    assert sizes.train > 0 and sizes.dev > 0 and (sizes.test == 0) == dev_only
    assert sizes.dev <= 10_000


@pytest.mark.parametrize("dev_only", [False, True])
def test_stratified_within_one_example(dev_only):
    rng = np.random.default_rng(0)
    y = rng.choice(5, size=1_237, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    X = rng.normal(size=(len(y), 3))
    s = split(X, y, dev_only=dev_only, random_state=1)
    counts = np.bincount(y, minlength=5)
    parts = [s.y_train, s.y_dev] + ([] if dev_only else [s.y_test])
    for part in parts:
        exact = counts * len(part) / len(y)
        assert np.all(np.abs(np.bincount(part, minlength=5) - exact) < 1.0)
    assert sum(len(p) for p in parts) == len(y)


def test_split_is_a_partition_and_seeded():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 4))
    y = rng.integers(0, 3, 500)
    a = split(X, y, random_state=7)
    b = split(X, y, random_state=7)
    c = split(X, y, random_state=8)
    assert isinstance(a, Split)
    idx = np.concatenate([a.train_index, a.dev_index, a.test_index])
    assert np.array_equal(np.sort(idx), np.arange(500))
    np.testing.assert_array_equal(a.X_train, X[a.train_index])
    np.testing.assert_array_equal(a.y_test, y[a.test_index])
    np.testing.assert_array_equal(a.train_index, b.train_index)
    assert not np.array_equal(a.train_index, c.train_index)


def test_regression_targets_split_at_random():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 2))
    y = rng.normal(size=100)
    s = split(X, y)
    assert not s.stratified and s.sizes == (60, 20, 20)
    s2 = split(X, rng.integers(0, 2, 100), stratify=False)
    assert not s2.stratified


def test_dev_only_summary():
    rng = np.random.default_rng(5)
    s = split(rng.normal(size=(50, 2)), rng.integers(0, 2, 50), dev_only=True)
    assert s.X_test is None and s.y_test is None and s.test_index is None
    summary = s.summary()
    assert summary["dev_only"] is True and summary["test"] == 0
    assert "dev-only" in summary["mode"]
    assert split(np.zeros((10, 1)), np.arange(10) % 2).summary()["mode"] == "train/dev/test"


def test_length_mismatch():
    with pytest.raises(DeepRecipeError, match="same number of samples"):
        split(np.zeros((10, 2)), np.zeros(9))


@pytest.mark.parametrize("stratify", [False, True])
def test_split_indices_are_int32_and_the_same_draws_as_int64(stratify):
    y = np.random.default_rng(0).integers(0, 3, 5_000)
    parts, sizes, _ = split_indices(y, stratify=stratify, random_state=7)
    assert all(p.dtype == np.int32 for p in parts)  # 4 bytes a row below 2**31 rows
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(5_000))
    if not stratify:  # exactly the int64 permutation of before, cut into parts
        order = np.random.default_rng(np.random.SeedSequence(7)).permutation(5_000)
        expected = np.split(order, np.cumsum(sizes)[:-1])
        assert all(np.array_equal(p, e) for p, e in zip(parts, expected, strict=True))


@pytest.mark.parametrize("flag", ["stratify", "dev_only"])
@pytest.mark.parametrize("value", ["no", None, 1])
def test_split_flags_must_be_bools(flag, value):
    X, y = np.zeros((30, 2)), np.arange(30) % 2
    with pytest.raises(DeepRecipeError, match=rf"{flag} must be True or False, got"):
        split(X, y, **{flag: value})
