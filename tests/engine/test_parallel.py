"""Kernels split over two threads: each element once, the same bits, errors raised."""

from __future__ import annotations

import numpy as np
import pytest

from deeprecipe.engine import _kernels, _parallel


def _arrays(sizes, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [tuple(rng.normal(size=n).astype(dtype) for _ in range(4)) for n in sizes]


@pytest.mark.parametrize("sizes", [(401_408, 512, 262_144, 512, 5120, 10), (70_000,), (3, 5)])
def test_split_work_covers_every_element_once_in_balanced_parts(sizes):
    arrays = _arrays(sizes)
    parts = _parallel.split_work(arrays, 2)
    total = sum(sizes)
    assert len(parts) == (1 if total < _parallel.MIN_SPLIT else 2)
    seen = {id(a[0]): np.zeros(len(a[0]), int) for a in arrays}
    bases = {id(a[0]): a[0] for a in arrays}
    for part in parts:
        for work in part:
            base = work[0].base if work[0].base is not None else work[0]
            start = (work[0].__array_interface__["data"][0]
                     - base.__array_interface__["data"][0]) // base.itemsize
            seen[id(base)][start:start + len(work[0])] += 1
            assert all(len(x) == len(work[0]) for x in work)
    assert all((count == 1).all() for count in seen.values()) and len(bases) == len(seen)
    if len(parts) == 2:
        n0, n1 = (sum(len(w[0]) for w in part) for part in parts)
        assert abs(n0 - n1) <= 64


def test_run_split_gives_the_same_bits_as_one_call():
    one, two = _arrays((401_408, 512, 262_144)), _arrays((401_408, 512, 262_144))
    f = np.float32
    scalars = [f(0.9), f(0.1), f(0.999), f(0.001), f(1e-3), f(1e-8)]
    for _ in range(3):
        for a in one:
            _kernels.adam_(*a, *scalars)
        _parallel.run_split(_kernels.adam_, _parallel.split_work(two, 2), scalars)
    for a, b in zip(one, two, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_an_error_on_the_helper_thread_is_raised_by_the_caller():
    def kernel(x, _scalar):
        if x[0] < 0:
            raise ValueError("negative")

    first, second = [(np.ones(4),)], [(-np.ones(4),)]
    with pytest.raises(ValueError, match="negative"):
        _parallel.run_split(kernel, [first, second], [0.0])
    _parallel.run_split(kernel, [first, first], [0.0])  # the helper still works afterwards


def test_one_thread_unless_the_environment_asks_for_two(monkeypatch):
    monkeypatch.delenv("DEEPRECIPE_NUM_THREADS", raising=False)
    assert _parallel.split_threads() == 1
    monkeypatch.setenv("DEEPRECIPE_NUM_THREADS", "1")
    assert _parallel.split_threads() == 1
