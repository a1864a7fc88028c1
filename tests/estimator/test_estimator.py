"""DeepClassifier / DeepRegressor: scikit-learn conformance, model selection, partial_fit,
reproducibility and hyperparameter validation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.datasets import load_diabetes, load_digits, load_iris, make_blobs
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import deeprecipe as dr
from deeprecipe.errors import DeepRecipeError, InvalidTypeError, InvalidValueError
from deeprecipe.estimator import DeepClassifier, DeepRegressor
from _timeouts import GUARD

# scikit-learn's checks run on the class defaults, as they are: nothing skipped or xfailed.
@parametrize_with_checks([DeepClassifier(), DeepRegressor()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.column_stack([X[:, 0] - 2 * X[:, 1], np.sin(X[:, 2])])
    return X, y


def fast_clf(**kwargs) -> DeepClassifier:
    return DeepClassifier(**{"hidden_layer_sizes": (16,), "learning_rate": 0.02, "epochs": 40,
                             "random_state": 0, **kwargs})


def test_class_hierarchy_and_contract_defaults():
    assert issubclass(DeepClassifier, ClassifierMixin) and issubclass(DeepClassifier,
                                                                      BaseEstimator)
    assert issubclass(DeepRegressor, RegressorMixin)
    params = DeepClassifier().get_params()
    assert params == {
        "hidden_layer_sizes": (100,), "activation": "relu", "init": "he", "l2": 0.1,
        "l1": 0.0, "keep_prob": 1.0, "batch_norm": False, "optimizer": "adam",
        "learning_rate": 3e-3, "beta": 0.9, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
        "batch_size": 200, "epochs": 200, "schedule": None, "decay_rate": 1.0,
        "early_stopping": False, "validation_fraction": 0.1, "patience": 10,
        "random_state": None, "verbose": False}
    assert DeepRegressor().get_params() == params


def test_class_defaults_fit_digits_and_stop_on_a_plateau():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    train, test = np.arange(0, 1400), np.arange(1400, len(X))
    clf = DeepClassifier(random_state=0).fit(X[train], y[train])
    assert clf.score(X[test], y[test]) > 0.9
    # scikit-learn's rule: stop once the training cost has not improved by 1e-4 for more
    # than patience=10 epochs
    assert clf.n_iter_ < 200 and len(clf.loss_curve_) == len(clf.history_) == clf.n_iter_
    assert clf.history_.events[-1]["kind"] == "converged"
    curve = clf.loss_curve_
    assert all(curve[i] > min(curve[:i]) - 1e-4 for i in range(len(curve) - 11, len(curve)))


def test_plateau_stop_keeps_the_lowest_cost_epoch():
    X = np.linspace(-1, 1, 40).reshape(-1, 1)  # one full batch per epoch: Adam overshoots
    reg = DeepRegressor(l2=0.0, random_state=0).fit(X, 2 * X.ravel() + 1)
    assert reg.n_iter_ < 200 and np.argmin(reg.loss_curve_) < reg.n_iter_ - 10
    assert reg.score(X, 2 * X.ravel() + 1) > 0.98  # 0.94 with the last epoch's weights


def test_default_batch_size_is_clipped_silently(iris, recwarn):
    X, y = iris
    DeepClassifier(epochs=2, random_state=0).fit(X[::3], y[::3])  # 200 > 50 samples
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_regressor_standardizes_its_target():
    X, y = load_diabetes(return_X_y=True)  # y in 25..346
    X = StandardScaler().fit_transform(X)
    reg = DeepRegressor(random_state=0).fit(X, y)
    assert reg.target_mean_.shape == reg.target_scale_.shape == (1,)
    np.testing.assert_allclose(reg.target_mean_, [y.mean()])
    np.testing.assert_allclose(reg.target_scale_, [y.std()])
    assert reg.score(X, y) > 0.5 and abs(reg.predict(X).mean() - y.mean()) < 5
    # the fit does not depend on the target's units
    shifted = DeepRegressor(random_state=0).fit(X, 1000 * y + 1e6)
    np.testing.assert_allclose(shifted.predict(X), 1000 * reg.predict(X) + 1e6, rtol=1e-4)
    # a constant output keeps scale 1 (no division by 0)
    two = DeepRegressor(epochs=2, random_state=0).fit(X, np.column_stack([y, np.full_like(y, 7)]))
    np.testing.assert_array_equal(two.target_scale_, [y.std(), 1.0])


def test_saved_regressor_keeps_target_mean_and_scale(tmp_path, regression):
    X, y = regression
    reg = DeepRegressor((8,), epochs=5, random_state=0).fit(X, 50 * y + 100)
    dr.save(reg, tmp_path / "reg")
    again = dr.load(tmp_path / "reg")
    for name in ("target_mean_", "target_scale_"):
        got, want = getattr(again, name), getattr(reg, name)
        assert got.dtype == want.dtype == np.float64 and got.shape == want.shape == (2,)
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    # a file saved before the target was standardized predicts in the network's own units
    doc = json.loads((tmp_path / "reg.json").read_text())
    del doc["estimator"]["fitted"]["target_mean_"], doc["estimator"]["fitted"]["target_scale_"]
    (tmp_path / "reg.json").write_text(json.dumps(doc))
    old = dr.load(tmp_path / "reg")
    np.testing.assert_array_equal(old.target_mean_, [0.0, 0.0])
    np.testing.assert_allclose(old.predict(X), old.network_.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("labels", [
    np.array(["setosa", "versicolor", "virginica"]),
    np.array(["no", "yes", "yes"], dtype=object),
    np.array([False, True, True]),
    np.array([-3, 10, 7]),
    np.array([1.0, 2.0, 3.0]),
])
def test_classifier_takes_any_label_type(tmp_path, iris, labels):
    X, y = iris
    target = labels[y]
    clf = fast_clf().fit(X, target)
    np.testing.assert_array_equal(clf.classes_, np.unique(target))
    pred = clf.predict(X)
    assert pred.dtype == clf.classes_.dtype and set(pred) <= set(target)
    assert clf.score(X, target) > 0.85
    dr.save(clf, tmp_path / "clf")
    again = dr.load(tmp_path / "clf")
    assert again.classes_.dtype == clf.classes_.dtype
    np.testing.assert_array_equal(again.predict(X), pred)


def test_fitted_attributes(iris):
    X, y = iris
    clf = fast_clf().fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.n_features_in_ == 4 and clf.n_iter_ == 40 and len(clf.loss_curve_) == 40
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert len(clf.history_) == 40 and clf.network_.input_dim == 4
    assert clf.score(X, y) > 0.9


def test_predict_proba_rows_sum_to_one(iris):
    X, y = iris
    for labels in (y, np.where(y == 2, "b", "a")):  # 3 classes, then 2 string classes
        clf = fast_clf(epochs=5).fit(X, labels)
        proba = clf.predict_proba(X)
        assert proba.shape == (len(X), len(clf.classes_)) and proba.dtype == np.float64
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_loss_curve_decreases_on_average(iris):
    X, y = iris
    curve = np.array(fast_clf(epochs=60, batch_size=32).fit(X, y).loss_curve_)
    assert curve[-10:].mean() < 0.5 * curve[:10].mean()
    assert np.mean(np.diff(curve) < 0) > 0.6


def test_random_state_gives_reproducible_fits(iris):
    X, y = iris
    kwargs = {"batch_size": 16, "keep_prob": 0.8, "early_stopping": True}
    a, b = fast_clf(**kwargs).fit(X, y), fast_clf(**kwargs).fit(X, y)
    assert a.loss_curve_ == b.loss_curve_ and a.validation_scores_ == b.validation_scores_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = fast_clf(random_state=1, **kwargs).fit(X, y)
    assert c.loss_curve_ != a.loss_curve_
    g1 = fast_clf(random_state=np.random.default_rng(5)).fit(X, y)
    g2 = fast_clf(random_state=np.random.default_rng(5)).fit(X, y)
    assert g1.loss_curve_ == g2.loss_curve_


def test_pipeline_with_standard_scaler():
    X, y = make_blobs(n_samples=200, centers=3, random_state=0)
    X = X * 100 + 500  # badly scaled: the scaler matters
    pipe = make_pipeline(StandardScaler(), fast_clf()).fit(X, y)
    assert pipe.score(X, y) > 0.9
    assert pipe.predict_proba(X[:3]).shape == (3, 3)


def test_cross_val_score_on_digits():
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), DeepClassifier(
        (64,), learning_rate=0.01, epochs=30, batch_size=64, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() >= 0.9, scores


def test_grid_search_over_l2(iris):
    X, y = iris
    search = GridSearchCV(fast_clf(epochs=20), {"l2": [0.0, 0.1, 100.0]}, cv=3).fit(X, y)
    assert search.best_params_["l2"] in (0.0, 0.1)  # a huge penalty underfits
    assert search.best_estimator_.l2 == search.best_params_["l2"]
    assert len(search.cv_results_["mean_test_score"]) == 3


def test_randomized_search(regression):
    X, y = regression
    search = RandomizedSearchCV(DeepRegressor((16,), epochs=20, random_state=0),
                                {"learning_rate": [1e-3, 1e-2, 3e-2], "activation":
                                 ["relu", "tanh"]}, n_iter=3, cv=2, random_state=0)
    search.fit(X, y)
    assert search.best_estimator_.predict(X).shape == y.shape


def test_clone_is_unfitted_with_same_params(iris):
    X, y = iris
    clf = fast_clf(l2=0.3).fit(X, y)
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "network_")
    with pytest.raises(SklearnNotFittedError):
        twin.predict(X)


def test_partial_fit_reduces_loss_and_keeps_optimizer_state(iris):
    X, y = iris
    clf = fast_clf(batch_size=32)
    with pytest.raises(InvalidValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    steps_per_epoch = int(np.ceil(len(X) / 32))
    assert clf._optimizer.t == steps_per_epoch
    for _ in range(29):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 30 and len(clf.loss_curve_) == 30 and len(clf.history_) == 30
    assert clf._optimizer.t == 30 * steps_per_epoch  # Adam's t never reset between calls
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.score(X, y) > 0.85
    with pytest.raises(InvalidValueError, match="differs from the classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(InvalidValueError, match="not in classes_"):
        clf.partial_fit(X[:5], [0, 1, 7, 1, 0])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], y)


def test_partial_fit_continues_the_schedule_and_the_history(iris):
    X, y = iris
    clf = fast_clf(learning_rate=0.01, schedule="inverse_time", decay_rate=1.0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.history_["epoch"] == [1, 2, 3] and clf.n_iter_ == 3
    np.testing.assert_allclose(clf.history_["learning_rate"], [0.01 / 2, 0.01 / 3, 0.01 / 4])
    assert sorted(set(clf.history_.steps["epoch"].tolist())) == [1, 2, 3]
    # partial_fit after fit: the epochs go on from n_iter_, the fit's history is kept
    fitted = fast_clf(epochs=4, learning_rate=0.01, schedule="inverse_time").fit(X, y)
    fitted.partial_fit(X, y)
    assert fitted.history_["epoch"] == [1, 2, 3, 4, 5]
    assert fitted.history_["learning_rate"][-1] == pytest.approx(0.01 / 6)


def test_partial_fit_subset_of_classes_and_after_fit(iris):
    X, y = iris
    clf = fast_clf().partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert clf.predict_proba(X).shape == (150, 3)
    clf = fast_clf(epochs=5).fit(X, y)
    n = clf.n_iter_
    clf.partial_fit(X, y)
    assert clf.n_iter_ == n + 1 and len(clf.loss_curve_) == n + 1


def test_regressor_shapes_and_partial_fit(regression):
    X, y = regression
    reg = DeepRegressor((32,), learning_rate=0.01, epochs=80, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (200, 2) and reg.n_outputs_ == 2
    assert reg.score(X, y) > 0.8
    one = DeepRegressor((8,), epochs=3, random_state=0)
    assert one.fit(X, y[:, 0]).predict(X).shape == (200,)
    assert one.fit(X, y[:, :1]).predict(X).shape == (200, 1)
    before = one.loss_curve_[-1]
    for _ in range(10):
        one.partial_fit(X, y[:, :1])
    assert one.loss_curve_[-1] < before


def test_early_stopping_records_validation_scores(iris, regression):
    X, y = iris
    clf = fast_clf(epochs=300, early_stopping=True, patience=3, learning_rate=0.05).fit(X, y)
    assert clf.n_iter_ < 300 and len(clf.validation_scores_) == clf.n_iter_
    # the validation cost picks the epoch whose weights are kept; its accuracy is the best score
    assert clf.best_validation_score_ in clf.validation_scores_
    X, y = regression
    reg = DeepRegressor((16,), learning_rate=0.01, epochs=50, early_stopping=True,
                        random_state=0).fit(X, y)
    assert len(reg.validation_scores_) == reg.n_iter_ and reg.best_validation_score_ > 0.5


@pytest.mark.parametrize("schedule, decay_rate, expected", [
    ("inverse_time", 1.0, [0.01 / 2, 0.01 / 3, 0.01 / 4]),
    ("exponential", 0.5, [0.005, 0.0025, 0.00125]),
    ("sqrt", 1.0, [0.01, 0.01 / np.sqrt(2), 0.01 / np.sqrt(3)]),
    ("staircase", 1.0, [0.01, 0.01, 0.01]),
])
def test_schedules_set_the_learning_rate_per_epoch(iris, schedule, decay_rate, expected):
    X, y = iris
    clf = fast_clf(epochs=3, learning_rate=0.01, schedule=schedule,
                   decay_rate=decay_rate).fit(X, y)
    np.testing.assert_allclose(clf.history_["learning_rate"], expected)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "rmsprop", "adam"])
def test_every_optimizer_learns(iris, optimizer):
    X, y = iris
    lr = {"gd": 0.5, "momentum": 0.5}.get(optimizer, 0.02)
    clf = fast_clf(optimizer=optimizer, learning_rate=lr, batch_norm=True).fit(X, y)
    assert clf.score(X, y) > 0.85


def test_batch_size_larger_than_data_warns(iris):
    X, y = iris
    with pytest.warns(UserWarning, match="batch_size=1000 is larger"):
        fast_clf(epochs=2, batch_size=1000).fit(X, y)


@pytest.mark.parametrize("param, value, error, match", [
    ("keep_prob", 1.5, InvalidValueError, r"keep_prob must be in \(0.0, 1.0\], got 1.5"),
    ("keep_prob", 0, InvalidValueError, "keep_prob"),
    ("hidden_layer_sizes", (20, 0), InvalidValueError, "hidden_layer_sizes"),
    ("hidden_layer_sizes", "big", InvalidTypeError, "hidden_layer_sizes"),
    ("activation", "gelu", InvalidValueError, "activation must be one of"),
    ("init", "lecun", InvalidValueError, "init"),
    ("l2", -1.0, InvalidValueError, "l2 must be >= 0.0"),
    ("l1", "0.1", InvalidTypeError, "l1 must be a real number"),
    ("batch_norm", 1, InvalidTypeError, "batch_norm must be True or False"),
    ("optimizer", "sgd", InvalidValueError, "optimizer must be one of"),
    ("learning_rate", 0.0, InvalidValueError, "learning_rate must be > 0.0"),
    ("beta", 1.0, InvalidValueError, r"beta must be in \[0.0, 1.0\)"),
    ("beta1", -0.1, InvalidValueError, "beta1"),
    ("beta2", 1.0, InvalidValueError, "beta2"),
    ("epsilon", 0.0, InvalidValueError, "epsilon"),
    ("batch_size", 0, InvalidValueError, "batch_size"),
    ("batch_size", "full", InvalidValueError, "batch_size must be an int >= 1, 'auto' or None"),
    ("epochs", 2.5, InvalidTypeError, "epochs must be an integer"),
    ("epochs", 0, InvalidValueError, "epochs"),
    ("schedule", "cosine", InvalidValueError, "schedule must be one of"),
    ("decay_rate", -1.0, InvalidValueError, "decay_rate"),
    ("early_stopping", "yes", InvalidTypeError, "early_stopping"),
    ("validation_fraction", 1.0, InvalidValueError, "validation_fraction"),
    ("patience", -1, InvalidValueError, "patience"),
    ("random_state", "seed", InvalidTypeError, "random_state"),
    ("verbose", -1, InvalidValueError, "verbose"),
])
def test_bad_hyperparameters_raise_at_fit(iris, param, value, error, match):
    X, y = iris
    for cls in (DeepClassifier, DeepRegressor):
        est = cls(**{param: value})  # __init__ only stores
        assert getattr(est, param) == value
        with pytest.raises(error, match=match) as info:
            est.fit(X, y)
        assert isinstance(info.value, DeepRecipeError)
        assert not hasattr(est, "network_")


def test_decay_rate_checked_against_the_schedule(iris):
    X, y = iris
    with pytest.raises(InvalidValueError, match="decay_rate=2.0 is not valid for "
                                                "schedule='exponential'"):
        fast_clf(schedule="exponential", decay_rate=2.0).fit(X, y)


def test_single_class_is_rejected(iris):
    X, _ = iris
    with pytest.raises(InvalidValueError,
                       match=r"at least 2 classes to train; got 1 class: \[1.0\]"):
        fast_clf().fit(X, np.ones(len(X)))


def test_early_stopping_needs_enough_samples():
    with pytest.raises(DeepRecipeError, match="early_stopping"):
        fast_clf(early_stopping=True, validation_fraction=0.95).fit(np.eye(10), np.arange(10) % 2)


def test_benchmark_script_runs_quick():
    bench = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_estimators.py"
    out = subprocess.run([sys.executable, str(bench), "--quick"], capture_output=True,
                         text=True, timeout=GUARD, check=True).stdout
    assert "2-fold CV" in out
    row = next(line for line in out.splitlines() if line.startswith("| iris (extra) |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["150 x 4", "accuracy"] and 0.8 < float(cells[3]) <= 1.0
    assert cells[-2] in ("met", "missed") and cells[-1] in ("met", "missed")
