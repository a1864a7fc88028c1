"""Tests for deeprecipe.diagnosis: the notes' five cases, next steps, learning curves."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deeprecipe.runs.diagnosis import (
    BIAS_STEPS,
    VARIANCE_STEPS,
    Diagnosis,
    LearningCurve,
    diagnose,
    error_rate,
    learning_curve,
)
from deeprecipe.errors import DataError, DeepRecipeError


@pytest.mark.parametrize("train, dev, human, verdict", [
    (0.01, 0.11, 0.0, "high_variance"),
    (0.15, 0.16, 0.0, "high_bias"),
    (0.15, 0.30, 0.0, "high_bias_and_variance"),
    (0.005, 0.01, 0.0, "ok"),
    (0.15, 0.16, 0.15, "ok"),
])
def test_notes_cases(train, dev, human, verdict):
    d = diagnose(train_error=train, dev_error=dev, human_error=human)
    assert isinstance(d, Diagnosis)
    assert d.verdict == verdict
    assert d.avoidable_bias == pytest.approx(train - human)
    assert d.variance == pytest.approx(dev - train)


def test_next_steps_follow_the_recipe():
    assert diagnose(train_error=0.15, dev_error=0.16).next_steps == BIAS_STEPS
    assert diagnose(train_error=0.01, dev_error=0.11).next_steps == VARIANCE_STEPS
    both = diagnose(train_error=0.15, dev_error=0.30).next_steps
    assert both[:len(BIAS_STEPS)] == BIAS_STEPS  # bias first
    assert "more data" in both and both.count("architecture search") == 1
    assert diagnose(train_error=0.005, dev_error=0.01).next_steps == ()


def test_dev_test_gap_and_notes():
    d = diagnose(train_error=0.01, dev_error=0.02, test_error=0.08)
    assert d.dev_test_gap == pytest.approx(0.06)
    assert any("overfitting to the dev set" in n for n in d.notes)
    assert diagnose(train_error=0.01, dev_error=0.02, test_error=0.02).notes == ()
    low = diagnose(train_error=0.01, dev_error=0.02, human_error=0.05)
    assert low.verdict == "ok" and any("below human-level" in n for n in low.notes)


def test_summary_and_json():
    d = diagnose(train_error=0.01, dev_error=0.11, test_error=0.12)
    assert "High variance" in d.summary() and "more data" in d.summary()
    data = json.loads(json.dumps(d.to_dict()))
    assert data["verdict"] == "high_variance" and data["test_error"] == 0.12


@pytest.mark.parametrize("kwargs", [
    {"train_error": -0.1, "dev_error": 0.1}, {"train_error": 0.1, "dev_error": 1.5},
    {"train_error": 0.1, "dev_error": 0.1, "human_error": 2.0},
    {"train_error": 0.1, "dev_error": 0.1, "test_error": float("nan")},
    {"train_error": "0.1", "dev_error": 0.1},
])
def test_bad_errors(kwargs):
    with pytest.raises(DeepRecipeError):
        diagnose(**kwargs)


def test_error_rate():
    assert error_rate([0, 1, 2, 2], [0, 1, 1, 2]) == 0.25
    scores = np.array([[0.9, 0.1, 0], [0, 1, 0], [1, 0, 0]])
    assert error_rate(np.eye(3), scores) == pytest.approx(1 / 3)
    with pytest.raises(DataError):
        error_rate([0, 1], [0])


def test_learning_curve_nested_sizes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] > 0).astype(int)
    seen = []

    def make_and_fit(Xs, ys):
        seen.append(len(Xs))
        w = np.linalg.lstsq(np.c_[Xs, np.ones(len(Xs))], ys * 2 - 1, rcond=None)[0]
        return lambda Z: (np.c_[Z, np.ones(len(Z))] @ w > 0).astype(int)

    curve = learning_curve(make_and_fit, X[:150], y[:150], X[150:], y[150:],
                           sizes=(0.1, 0.5, 1.0, 20))
    assert isinstance(curve, LearningCurve)
    assert curve.sizes == (15, 75, 150, 20) and seen == [15, 75, 150, 20]
    assert all(0.0 <= e <= 0.2 for e in curve.dev_errors)
    assert json.loads(json.dumps(curve.to_dict()))["sizes"] == [15, 75, 150, 20]
    with pytest.raises(DeepRecipeError):
        learning_curve(make_and_fit, X, y, X, y, sizes=(0.0,))
