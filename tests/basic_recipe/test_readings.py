"""Curve readings on hand-made curves; the dev set's noise; the gain of twice the data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeprecipe.basic_recipe.readings import (
    READINGS,
    beats,
    beats_paired,
    dev_noise,
    dev_set_warning,
    more_data_gain,
    read_curve,
)

EPOCHS = np.arange(1, 41)
FALLING = 2.0 * np.exp(-EPOCHS / 40)               # still falling steeply at epoch 40
CONVERGED = 0.3 + 1.7 * np.exp(-EPOCHS / 3)         # levelled off after ~15 epochs
OSCILLATING = 0.5 + 1.5 * np.exp(-EPOCHS / 3) + 0.2 * (EPOCHS % 2)  # up, down, up ...
DIVERGING = np.concatenate([2.0 * np.exp(-EPOCHS[:20] / 5), 0.04 * np.exp(EPOCHS[:20] / 4)])


@pytest.mark.parametrize(("curve", "kind"), [(FALLING, "not_converged"),
                                             (CONVERGED, "plateau"),
                                             (OSCILLATING, "oscillating"),
                                             (DIVERGING, "diverging"),
                                             ([1.0, np.nan, 2.0], "diverging"),
                                             ([1.0, 0.5], "not_converged")])
def test_hand_made_curves_are_read(curve, kind):
    reading = read_curve(curve)
    assert reading.kind == kind and kind in READINGS
    assert json.loads(json.dumps(reading.to_dict()))["kind"] == kind  # evidence is JSON


def test_the_evidence_states_the_numbers():
    reading = read_curve(FALLING)
    ev = reading.evidence
    assert ev["epochs"] == 40 and ev["tail_epochs"] == 10
    assert ev["first_cost"] == pytest.approx(FALLING[0]) and ev["last_cost"] == FALLING[-1]
    # the last 10 epochs' share of the fall from the first to the lowest cost
    share = (FALLING[-11] - FALLING[-1]) / (FALLING[0] - FALLING[-1])
    assert ev["tail_share_of_fall"] == pytest.approx(share)
    assert "train longer" in reading.text
    assert read_curve(CONVERGED).evidence["tail_share_of_fall"] < 0.01


def test_a_falling_curve_stopped_early_says_so():
    reading = read_curve(FALLING, stopped_early=True)
    assert reading.kind == "not_converged" and reading.evidence["stopped_early"] is True
    assert "early stopping" in reading.text and "train longer" not in reading.text


def test_dev_noise_is_the_standard_error():
    assert dev_noise(0.1, 10_000) == pytest.approx(math.sqrt(0.1 * 0.9 / 10_000))
    assert dev_noise(0.0, 33) == pytest.approx(math.sqrt((1 / 33) * (32 / 33) / 33))
    assert dev_noise(0.5, 100) > dev_noise(0.5, 10_000)


def test_a_change_is_kept_only_beyond_noise():
    threshold = math.sqrt(0.11 * 0.89 / 10_000)
    assert beats(0.11 - 1.01 * threshold, 0.11, 10_000) == (True, pytest.approx(threshold))
    assert beats(0.11 - 0.99 * threshold, 0.11, 10_000)[0] is False
    assert beats(0.12, 0.11, 10_000)[0] is False
    assert beats(0.02, 0.03, 100)[0] is False  # one example better on 100 is noise


def test_a_paired_change_is_kept_when_it_fixes_more_than_it_breaks_beyond_noise():
    old = frozenset(range(10))  # the old model got examples 0-9 wrong of 200
    fixed4_broke1 = (old - {0, 1, 2, 3}) | {50}
    assert beats_paired(fixed4_broke1, old, 200) == (
        True, pytest.approx(math.sqrt(5) / 200), {"fixed": 4, "broke": 1})
    # the same 1.5-point gain unpaired is within sqrt(p (1 - p) / m) = 2.1 points
    assert beats(len(fixed4_broke1) / 200, len(old) / 200, 200)[0] is False
    assert beats_paired(old, old, 200) == (False, 0.0, {"fixed": 0, "broke": 0})
    assert beats_paired(old - {0}, old, 200)[0] is False  # one example is noise
    assert beats_paired((old - {0, 1, 2}) | {60, 61}, old, 200)[0] is False  # 3 vs 2


@settings(max_examples=200, deadline=None)
@given(st.frozensets(st.integers(0, 40)), st.frozensets(st.integers(0, 40)),
       st.frozensets(st.integers(41, 60)))
def test_paired_judgment_depends_on_the_disagreements_alone(a, b, common):
    """Never both ways; examples both got wrong change nothing; the threshold is the
    standard error of the gap in error, sqrt(fixed + broke) / m."""
    kept, threshold, counts = beats_paired(a, b, 100)
    assert not (kept and beats_paired(b, a, 100)[0])
    assert beats_paired(a | common, b | common, 100) == (kept, threshold, counts)
    assert counts == {"fixed": len(b - a), "broke": len(a - b)}
    assert threshold == pytest.approx(math.sqrt(len(a ^ b)) / 100)
    assert kept is (len(b) - len(a) > math.sqrt(len(a ^ b)))


def test_a_tiny_dev_set_gets_a_warning():
    warning = dev_set_warning(0.0, 33)
    assert warning is not None and "33 examples" in warning and "3.0%" in warning
    assert "cross-validation" in warning
    assert dev_set_warning(0.1, 10_000) is None


def test_more_data_gain_from_a_power_law():
    # dev = m^-0.5: twice the data divides dev error by sqrt(2)
    sizes = [1000, 4000]
    dev = [s ** -0.5 for s in sizes]
    assert more_data_gain(sizes, dev) == pytest.approx(dev[1] * (1 - 2 ** -0.5))
    assert more_data_gain(sizes, [0.1, 0.12]) == 0.0
    assert more_data_gain([1000], [0.1]) is None
