"""Hypothesis strategies of hostile arguments, and the oracle the engine's public calls meet:
a correct result or a DeepRecipeError, never a raw NumPy/Python error."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from deeprecipe.errors import DeepRecipeError

DTYPES = (np.float32, np.float64, np.float16, np.int64, np.int8, np.uint8, np.bool_,
          np.complex128, np.dtype("<U2"), np.dtype(object))
REAL_DTYPES = (np.float32, np.float64, np.float16, np.int64, np.int8, np.bool_)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(),
                    st.text(max_size=3), st.just(object()), st.just(np.float64("nan")))


def _elements(dtype: np.dtype):
    if dtype == np.dtype(object):
        return st.one_of(st.none(), st.floats(-5, 5), st.text(max_size=2))
    if dtype.kind == "f":  # NaN and inf included, overflow-free otherwise
        return st.one_of(st.floats(-50, 50, width=min(64, dtype.itemsize * 8)),
                         st.sampled_from([np.nan, np.inf, -np.inf]))
    return None


def arrays(shapes=None, dtypes=DTYPES):
    """Arrays of any dtype in ``dtypes`` (strings and objects included) and of ``shapes``."""
    shapes = shapes if shapes is not None else hnp.array_shapes(min_dims=0, max_dims=3,
                                                                 min_side=0, max_side=4)
    return st.sampled_from(dtypes).flatmap(
        lambda dt: hnp.arrays(np.dtype(dt), shapes, elements=_elements(np.dtype(dt))))


def matrices(rows=None, cols=None, dtypes=REAL_DTYPES):
    """Near-valid 2-D arrays: rows and columns in 0..4 unless given, real dtypes."""
    shapes = st.tuples(rows if rows is not None else st.integers(0, 4),
                       cols if cols is not None else st.integers(0, 4))
    return arrays(shapes, dtypes)


hostile = st.one_of(scalars, arrays(),
                    st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=1)),
                             max_size=4),
                    st.lists(st.lists(st.floats(-5, 5), max_size=3), max_size=3))


def attempt(call: Callable):
    """``call()``, or None if it raised a DeepRecipeError; any other error fails the test."""
    try:
        return call()
    except DeepRecipeError:
        return None
