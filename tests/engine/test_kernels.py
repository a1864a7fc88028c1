"""The fused kernels: cached on disk when possible, compiled in memory otherwise."""

from __future__ import annotations

import numpy as np
from numba.core import caching

from deeprecipe.engine import _kernels


def _add_one_(a):
    for i in range(a.size):
        a[i] += 1


def test_kernels_are_cached_on_disk():
    assert type(_kernels.adam_._cache).__name__ == "FunctionCache"


def test_without_a_writable_cache_directory_kernels_compile_in_memory(monkeypatch):
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])  # no directory will do
    kernel = _kernels._jit(_add_one_)
    a = np.zeros(3, np.float32)
    kernel(a)
    np.testing.assert_array_equal(a, [1, 1, 1])
    assert type(kernel._cache).__name__ == "NullCache"


def test_relu_backward_zeroes_where_the_output_is_not_positive():
    dA = np.array([1.0, -2.0, 3.0, 4.0], np.float32)
    _kernels.relu_backward_(dA, np.array([0.5, 0.0, -0.0, 2.0], np.float32))
    np.testing.assert_array_equal(dA, [1.0, 0.0, 0.0, 4.0])
