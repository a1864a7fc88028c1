"""Exponentially weighted averages: the lecture's numbers, ewa vs the recurrence, state, errors."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deeprecipe.errors import CheckpointError, InvalidTypeError, InvalidValueError
from deeprecipe.optimize.averages import ExponentialAverage, ema_, ewa


def _recurrence(values, beta):
    out, v = [], 0.0
    for theta in values:
        v = beta * v + (1 - beta) * theta  # V_t = beta V_{t-1} + (1 - beta) theta_t
        out.append(v)
    return np.array(out)


def test_lecture_bias_correction_example():
    theta1, theta2 = 40.0, 49.0
    avg = ExponentialAverage(beta=0.98, bias_correction=False)
    avg.update(theta1)
    v2 = avg.update(theta2)
    np.testing.assert_allclose(v2, 0.0196 * theta1 + 0.02 * theta2, rtol=1e-12)
    corrected = ExponentialAverage(beta=0.98)
    corrected.update(theta1)
    np.testing.assert_allclose(corrected.update(theta2),
                               (0.0196 * theta1 + 0.02 * theta2) / 0.0396, rtol=1e-12)
    assert theta1 < corrected.value < theta2  # a true weighted mean
    assert corrected.t == 2


@pytest.mark.parametrize(("beta", "window"), [(0.9, 10.0), (0.98, 50.0), (0.5, 2.0)])
def test_window_is_one_over_one_minus_beta(beta, window):
    assert ExponentialAverage(beta).window == pytest.approx(window, rel=1e-12)


def test_value_before_first_update():
    assert math.isnan(ExponentialAverage(0.9).value)
    assert ExponentialAverage(0.9, bias_correction=False).value == 0.0


def test_ema_in_place_uses_scratch_only():
    rng = np.random.default_rng(0)
    avg, x, scratch = rng.normal(size=5), rng.normal(size=5), np.empty(5)
    expected = 0.9 * avg + 0.1 * x
    ident = id(avg)
    ema_(avg, x, 0.9, out=scratch)
    assert id(avg) == ident
    np.testing.assert_allclose(avg, expected, rtol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 5e-324, 1e-30, 1e-4, 0.5, 0.9, 0.98, 0.999])
@pytest.mark.parametrize("bias_correction", [False, True])
def test_ewa_matches_recurrence_and_class(beta, bias_correction):
    rng = np.random.default_rng(1)
    values = rng.normal(loc=2.0, size=3000)  # longer than one internal block for small beta
    expected = _recurrence(values, beta)
    if bias_correction:
        expected = expected / (1 - beta ** np.arange(1, values.size + 1))
    got = ewa(values, beta, bias_correction)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    avg = ExponentialAverage(beta, bias_correction)
    np.testing.assert_allclose([avg.update(v) for v in values[:50]], got[:50], rtol=1e-12)


def test_ewa_smooths_noisy_cost_curve():
    rng = np.random.default_rng(2)
    trend = np.exp(-np.linspace(0, 3, 500))
    noisy = trend + rng.normal(scale=0.1, size=500)
    smooth = ewa(noisy, beta=0.9)
    assert np.std(smooth[50:] - trend[50:]) < 0.5 * np.std(noisy[50:] - trend[50:])


def test_ewa_empty_and_shape():
    assert ewa([]).shape == (0,)
    assert ewa([1.0, 2.0], beta=0.0).tolist() == [1.0, 2.0]
    with pytest.raises(InvalidValueError, match=re.escape("values must be a 1-D series, got "
                                                          "shape (2, 2)")):
        ewa(np.ones((2, 2)))


@given(c=st.floats(-1e6, 1e6, allow_nan=False), beta=st.floats(0.0, 0.999),
       n=st.integers(1, 300))
def test_corrected_ewa_of_constant_series_is_the_constant(c, beta, n):
    np.testing.assert_allclose(ewa(np.full(n, c), beta), c, rtol=1e-9, atol=1e-9)


def test_state_dict_round_trip_is_json():
    avg = ExponentialAverage(0.9)
    for v in (1.0, 2.0, 3.0):
        avg.update(v)
    state = json.loads(json.dumps(avg.state_dict()))
    other = ExponentialAverage(**avg.get_config())
    other.load_state_dict(state)
    assert other.t == 3 and other.value == avg.value
    assert other.update(4.0) == avg.update(4.0)
    avg.reset()
    assert (avg.t, avg.v) == (0, 0.0)


@pytest.mark.parametrize(("state", "message"), [
    ({"t": 1}, "missing ['v']"),
    ({"t": -1, "v": 0.0}, "'t' must be an integer >= 0, got -1"),
    ({"t": 1.5, "v": 0.0}, "'t' must be an integer >= 0, got 1.5"),
])
def test_load_state_dict_rejects_bad_state(state, message):
    with pytest.raises(CheckpointError, match=re.escape(message)):
        ExponentialAverage().load_state_dict(state)


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: ExponentialAverage(beta=1.0), InvalidValueError,
     "beta must be in [0.0, 1.0), got 1.0"),
    (lambda: ExponentialAverage(beta=-0.1), InvalidValueError,
     "beta must be in [0.0, 1.0), got -0.1"),
    (lambda: ewa([1.0], beta=1.0), InvalidValueError, "beta must be in [0.0, 1.0), got 1.0"),
    (lambda: ExponentialAverage(bias_correction="yes"), InvalidTypeError,
     "bias_correction must be True or False"),
    (lambda: ExponentialAverage().update("hot"), InvalidTypeError,
     "theta must be a real number, got 'hot'"),
])
def test_bad_input(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()
