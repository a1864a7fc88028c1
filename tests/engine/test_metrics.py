"""cost_and_error: the cost and error in chunks, and its arguments checked at the boundary."""

from __future__ import annotations

import numpy as np
import pytest
from _hostile import attempt, hostile, matrices, scalars
from hypothesis import given, settings
from hypothesis import strategies as st

import deeprecipe as dr
from deeprecipe.engine.losses import get_loss
from deeprecipe.engine.metrics import cost_and_error

L = dr.layers
CCE = get_loss("categorical_crossentropy")


def _net() -> dr.Sequential:
    return dr.Sequential([L.Dense(4), L.ReLU(), L.Dense(3), L.Softmax()], input_dim=2,
                         random_state=0)


def _data(m: int = 10):
    rng = np.random.default_rng(0)
    return rng.normal(size=(m, 2)).astype(np.float32), rng.integers(0, 3, m)


def test_chunks_give_the_cost_and_error_of_one_pass():
    net, (X, y) = _net(), _data(10)
    cost, error = cost_and_error(net, X, y, CCE)
    assert (cost, error) == pytest.approx(cost_and_error(net, X, y, CCE, chunk=3))
    assert cost == pytest.approx(net.cost(X, y, loss=CCE).data)
    assert error == np.mean(net.predict(X) != y)


@pytest.mark.parametrize("args, message", [
    ((None, "X", "y", CCE), "net must be a deeprecipe Sequential"),
    (("net", "x", "y", CCE), "X must be real numeric"),
    (("net", "X", np.array([0, 1, 2, 7, 0, 1, 2, 0, 1, 2]), CCE), r"labels must be in \[0, 2\]"),
    (("net", "X", "y", "categorical_crossentropy", 0), "chunk must be >= 1, got 0"),
    (("net", "X[:0]", "y[:0]", CCE), r"X must have shape \(m, 2\) with m >= 1"),
    (("net", "X", "y[:4]", CCE), "X has 10 samples but Y has 4"),
])
def test_bad_arguments_are_deeprecipe_errors(args, message):
    net, (X, y) = _net(), _data(10)
    values = {"net": net, "X": X, "y": y, "X[:0]": X[:0], "y[:0]": y[:0], "y[:4]": y[:4]}
    args = [values.get(a, a) if isinstance(a, str) else a for a in args]
    with pytest.raises(dr.DeepRecipeError, match=message):
        cost_and_error(*args)


@settings(max_examples=150)
@given(X=st.one_of(hostile, matrices(cols=st.just(2)), matrices(rows=st.just(5),
                                                                 cols=st.just(2))),
       Y=st.one_of(hostile, st.lists(st.integers(-1, 3), min_size=5, max_size=5).map(np.array),
                   matrices(rows=st.just(5), cols=st.sampled_from([1, 3]))),
       loss=st.one_of(st.just(CCE), st.just("categorical_crossentropy"), hostile),
       chunk=st.one_of(st.integers(1, 3), scalars))
def test_cost_and_error_give_the_values_or_a_deeprecipe_error(X, Y, loss, chunk):
    net = _net()
    result = attempt(lambda: cost_and_error(net, X, Y, loss, chunk))
    if result is None:
        return
    cost, error = result
    assert 0.0 <= error <= 1.0
    np.testing.assert_allclose(cost, cost_and_error(net, np.asarray(X, np.float32), Y, CCE)[0],
                               rtol=1e-5)
