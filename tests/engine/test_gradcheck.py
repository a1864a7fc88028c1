"""Gradient checking: the report, the verdict, catching planted bugs, dropout, subsampling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _hostile import attempt, hostile, matrices, scalars
from hypothesis import given, settings
from hypothesis import strategies as st

import deeprecipe as dr
from deeprecipe.engine.gradcheck import GradientCheckReport, check_gradients, verdict
from deeprecipe.errors import InvalidTypeError, InvalidValueError, NotFittedError

L = dr.layers


def _net(*, dtype=np.float64, keep_prob=1.0, widths=(5, 4), random_state=0):
    h1, h2 = widths
    return dr.Sequential([L.Dense(h1), L.BatchNorm(), L.Tanh(), L.Dropout(keep_prob),
                          L.Dense(h2), L.ReLU(), L.Dense(3), L.Softmax()],
                         input_dim=4, dtype=dtype, random_state=random_state)


def _data(m=8):
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, 4)), rng.integers(0, 3, m)


CCE = "categorical_crossentropy"


def test_report_per_parameter_overall_and_verdict():
    net = _net()
    report = dr.gradient_check(net, *_data(), loss=CCE, l2=0.7)
    assert isinstance(report, GradientCheckReport)
    assert list(report) == list(net.params)  # a read-only dict {parameter: error}
    assert len(report) == len(net.params)
    assert all(0 <= report[k] < 1e-7 for k in report)
    assert 0 < report.overall < 1e-7
    assert report.verdict == "great"
    assert report.checked == report.total == {k: p.size for k, p in net.params.items()}
    assert report.n_checked == report.n_total == net.n_params
    assert report.epsilon == 1e-7
    text = str(report)
    assert all(k in text for k in net.params) and "overall" in text and "great" in text
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["verdict"] == "great"
    assert set(as_dict["parameters"]) == set(net.params)
    with pytest.raises(TypeError):
        report["0.W"] = 0.0  # read-only


@pytest.mark.parametrize("error, expected", [
    (0.0, "great"), (3e-9, "great"), (9.99e-8, "great"), (1e-7, "check"), (2e-6, "check"),
    (9.9e-4, "check"), (1e-3, "bug"), (0.5, "bug"),
])
def test_verdict_thresholds(error, expected):
    assert verdict(error) == expected
    assert GradientCheckReport({"W": error}, error).verdict == expected


def test_worst_names_the_largest_error():
    report = GradientCheckReport({"0.W": 1e-9, "2.b": 1e-4, "4.W": 1e-8}, 1e-5)
    assert report.worst() == "2.b"


def test_check_gradients_on_a_known_function():
    p = {"w": np.array([1.0, -2.0, 3.0])}
    cost = lambda: float(0.5 * (p["w"] ** 2).sum() + np.sin(p["w"]).sum())  # noqa: E731
    exact = p["w"] + np.cos(p["w"])
    assert check_gradients(cost, p, {"w": exact})["w"] < 1e-8
    wrong = exact.copy()
    wrong[1] += 0.1
    assert check_gradients(cost, p, {"w": wrong})["w"] > 1e-3
    np.testing.assert_array_equal(p["w"], [1.0, -2.0, 3.0])  # restored


def test_check_gradients_needs_float64():
    p = {"w": np.ones(3, np.float32)}
    with pytest.raises(InvalidTypeError, match="gradient checking needs float64 parameters; "
                                               "'w' is float32"):
        check_gradients(lambda: 0.0, p, {"w": np.ones(3, np.float32)})


# -- planted bugs are caught and located ----------------------------------------------------------
def _plant(monkeypatch, cls, bug):
    original = cls.backward

    def backward(self, dY):
        dX = original(self, dY)
        bug(self)
        return dX

    monkeypatch.setattr(cls, "backward", backward)


def test_scaled_dW_is_caught_and_located(monkeypatch):
    def bug(layer):
        if layer.n_out == 4:  # only the second Dense, "4.W"
            layer.grads["W"] *= 1.001

    _plant(monkeypatch, L.Dense, bug)
    report = dr.gradient_check(_net(), *_data(), loss=CCE)
    assert report.worst() == "4.W"
    assert report["4.W"] > 1e-4
    assert report.verdict != "great"
    assert all(err < 1e-7 for k, err in report.items() if k != "4.W")


def test_one_wrong_entry_is_caught_and_located(monkeypatch):
    def bug(layer):
        if layer.n_out == 3:  # the output Dense, "6.b"
            layer.grads["b"][1] += 1e-3

    _plant(monkeypatch, L.Dense, bug)
    report = dr.gradient_check(_net(), *_data(), loss=CCE, max_components=None)
    assert report.worst() == "6.b"
    assert report["6.b"] > 1e-5


def test_wrong_batchnorm_gamma_gradient_is_located(monkeypatch):
    _plant(monkeypatch, L.BatchNorm, lambda layer: layer.grads["gamma"].__imul__(0.99))
    report = dr.gradient_check(_net(), *_data(), loss=CCE)
    assert report.worst() == "1.gamma"
    assert report.verdict in ("check", "bug")


def test_wrong_input_gradient_shows_up_in_earlier_layers(monkeypatch):
    original = L.Tanh.backward
    monkeypatch.setattr(L.Tanh, "backward", lambda self, dA: 1.01 * original(self, dA))
    report = dr.gradient_check(_net(), *_data(), loss=CCE)
    assert report["0.W"] > 1e-4 and report["1.gamma"] > 1e-4
    assert report["4.W"] < 1e-7 and report["6.W"] < 1e-7  # after the bug: still right


# -- dropout --------------------------------------------------------------------------------------
def test_dropout_is_refused_unless_frozen():
    net = _net(keep_prob=0.6)
    with pytest.raises(InvalidValueError, match=r"gradient checking does not work with dropout.*"
                                                r"freeze_dropout=True"):
        dr.gradient_check(net, *_data(), loss=CCE)
    report = dr.gradient_check(net, *_data(), loss=CCE, freeze_dropout=True)
    assert report.overall < 1e-7
    assert net.layers[3].frozen is False


def test_keep_prob_one_needs_no_freezing():
    assert dr.gradient_check(_net(keep_prob=1.0), *_data(), loss=CCE).overall < 1e-7


# -- the original network is left alone -----------------------------------------------------------
def test_original_network_unchanged():
    net = _net(dtype=np.float32, keep_prob=0.7)
    X, y = _data()
    net.loss_and_gradients(X, y, loss=CCE)  # non-trivial running statistics and grads
    params = {k: p.copy() for k, p in net.params.items()}
    grads = {k: g.copy() for k, g in net.grads.items()}
    state = {k: s.copy() for k, s in net.state.items()}
    dr.gradient_check(net, X, y, loss=CCE, l2=0.7, freeze_dropout=True)
    for before, after in ((params, net.params), (grads, net.grads), (state, net.state)):
        for k in before:
            np.testing.assert_array_equal(after[k], before[k])
            assert after[k].dtype == np.float32


# -- subsampling ----------------------------------------------------------------------------------
def test_max_components_subsamples_every_parameter():
    net = _net(widths=(40, 30))
    assert net.n_params > 1000
    report = dr.gradient_check(net, *_data(), loss=CCE, max_components=50)
    n_params = len(net.params)
    assert report.n_total == net.n_params
    assert n_params <= report.n_checked <= 50 + 8 * n_params
    assert report.total == {k: p.size for k, p in net.params.items()}
    # at least 8 components (or all) of every parameter, so each per-parameter error is stable
    assert all(min(8, report.total[k]) <= report.checked[k] <= report.total[k] for k in report)
    assert f"{report.n_checked}/{report.n_total}" in str(report)
    assert report.overall < 1e-7


def test_small_networks_are_checked_in_full():
    net = _net()
    report = dr.gradient_check(net, *_data(), loss=CCE, max_components=10_000)
    assert report.n_checked == report.n_total == net.n_params


def test_subsample_is_reproducible():
    net = _net(widths=(40, 30))
    a = dr.gradient_check(net, *_data(), loss=CCE, max_components=30, random_state=1)
    b = dr.gradient_check(net, *_data(), loss=CCE, max_components=30, random_state=1)
    assert a.errors == b.errors


# -- dtype ----------------------------------------------------------------------------------------
def test_float32_network_is_checked_in_float64():
    net = _net(dtype=np.float32)
    report = dr.gradient_check(net, *_data(), loss=CCE, l2=0.7)
    assert report.overall < 1e-7
    assert all(p.dtype == np.float32 for p in net.params.values())


# -- arguments ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, message", [
    ({"epsilon": 0.0}, InvalidValueError, r"epsilon must be in \(0.0, 1.0\], got 0.0"),
    ({"epsilon": -1e-7}, InvalidValueError, r"epsilon must be in \(0.0, 1.0\]"),
    ({"max_components": 0}, InvalidValueError, r"max_components must be >= 1, got 0"),
    ({"max_components": 2.5}, InvalidTypeError, r"max_components must be an integer"),
    ({"loss": "hinge"}, InvalidValueError, r"loss must be one of"),
])
def test_bad_arguments(kwargs, error, message):
    net = _net(widths=(40, 30))
    with pytest.raises(error, match=message):
        dr.gradient_check(net, *_data(), **{"loss": CCE, **kwargs})


def test_unbuilt_network_is_refused():
    with pytest.raises(NotFittedError, match="not built"):
        dr.gradient_check(dr.Sequential([L.Dense(1), L.Sigmoid()]), np.ones((2, 2)),
                          [0, 1], loss="binary_crossentropy")


# -- #16: a verification tool never passes on NaN ----------------------------------------------
@pytest.mark.parametrize("error", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_inf_is_its_own_verdict(error):
    assert verdict(error) == "not finite"


def test_a_network_of_nan_weights_is_not_finite():
    net = _net()
    net.params["0.W"][...] = np.nan
    X, y = _data()
    report = dr.gradient_check(net, X, y, loss=CCE)
    assert report.verdict == "not finite" and np.isnan(report.overall)
    assert report.to_dict()["verdict"] == "not finite"
    assert "great" not in str(report).splitlines()[-1]


@pytest.mark.parametrize("kwargs, match", [
    ({"l2": float("nan")}, "l2 must be >= 0.0, got nan"),
    ({"l2": -1.0}, "l2 must be >= 0.0, got -1.0"),
    ({"l1": float("inf")}, "l1 must be >= 0.0, got inf"),
])
def test_bad_penalties_are_refused(kwargs, match):
    X, y = _data()
    with pytest.raises(InvalidValueError, match=match):
        dr.gradient_check(_net(), X, y, loss=CCE, **kwargs)


def test_an_inf_gradient_is_not_finite():
    params = {"w": np.array([1.0, 2.0])}
    report = check_gradients(lambda: float(np.sum(params["w"] ** 2)), params,
                             {"w": np.array([np.inf, 4.0])})
    assert report.verdict == "not finite" and report["w"] != report["w"]  # NaN


def test_an_inf_weight_is_not_finite_even_when_its_gradients_are():
    """tanh saturates at W = inf: backprop and the differences both read 0 there."""
    net = dr.Sequential([L.Dense(3), L.Tanh(), L.Dense(1), L.Sigmoid()], input_dim=2,
                        dtype=np.float64, random_state=0)
    net.params["0.W"][0, 0] = np.inf
    X = np.random.default_rng(0).normal(size=(8, 2))
    report = dr.gradient_check(net, X, np.arange(8) % 2, loss="binary_crossentropy")
    assert report.verdict == "not finite" and report["0.W"] != report["0.W"]


@pytest.mark.parametrize("net", [None, "net", [dr.layers.Dense(1)]])
def test_gradient_check_needs_a_sequential(net):
    with pytest.raises(InvalidTypeError, match="net must be a deeprecipe Sequential, got"):
        dr.gradient_check(net, np.ones((2, 2)), [0, 1], loss="binary_crossentropy")


# -- hostile inputs: a report or a DeepRecipeError -----------------------------------------------
def test_the_reported_raw_errors_are_deeprecipe_errors():
    X, y = _data()
    for kwargs in ({"max_components": "x"}, {"freeze_dropout": "yes"}, {"loss": ["x"]}):
        with pytest.raises(dr.DeepRecipeError):
            dr.gradient_check(_net(), X, y, **{"loss": CCE, **kwargs})
    w = {"w": np.ones(3)}
    for args, message in (((lambda: "x", w, {"w": np.ones(3)}), "cost.. must return a real"),
                          ((lambda: 1.0, w, {}), r"grads\['w'\] must be a float array"),
                          ((lambda: 1.0, {}, {}), "params is empty")):
        with pytest.raises(dr.DeepRecipeError, match=message):
            check_gradients(*args)
    with pytest.raises(InvalidValueError, match=r"indices\['w'\] must be a non-empty 1-D"):
        check_gradients(lambda: 1.0, w, {"w": np.ones(3)}, indices={"w": np.array([7])})
    with pytest.raises(InvalidTypeError, match="error must be a real number"):
        verdict("x")


@settings(max_examples=100)
@given(error=st.one_of(hostile, st.floats()))
def test_verdict_reads_a_number_or_raises_a_deeprecipe_error(error):
    assert attempt(lambda: verdict(error)) in (None, "great", "check", "bug", "not finite")


_ONE_PARAM = st.one_of(hostile, st.dictionaries(st.sampled_from(["w", "v"]),
                                                st.one_of(matrices(), scalars), max_size=2))


@settings(max_examples=200)
@given(cost=st.sampled_from([lambda: 1.0, lambda: "x", lambda: None, lambda: np.float64(2),
                             lambda: np.ones(2), 5]),
       params=st.one_of(st.just("float64"), _ONE_PARAM), grads=_ONE_PARAM,
       epsilon=st.one_of(st.just(1e-7), scalars),
       indices=st.one_of(st.none(), hostile, st.dictionaries(st.sampled_from(["w"]), hostile)))
def test_check_gradients_reports_or_raises_a_deeprecipe_error(cost, params, grads, epsilon,
                                                              indices):
    if isinstance(params, str) and params == "float64":
        params = {"w": np.ones((2, 2))}
    report = attempt(lambda: check_gradients(cost, params, grads, epsilon=epsilon,
                                             indices=indices))
    assert report is None or (isinstance(report, GradientCheckReport)
                              and set(report) == set(params))


@settings(max_examples=60)
@given(X=st.one_of(hostile, matrices(cols=st.just(4))),
       y=st.one_of(hostile, st.lists(st.integers(-1, 3), min_size=0, max_size=5).map(np.array)),
       loss=st.one_of(st.just(CCE), hostile), l2=st.one_of(st.just(0.5), scalars),
       max_components=st.one_of(st.just(20), scalars, st.integers(-1, 3)),
       freeze=st.one_of(st.booleans(), scalars), random_state=st.one_of(st.just(0), scalars))
def test_gradient_check_reports_or_raises_a_deeprecipe_error(X, y, loss, l2, max_components,
                                                             freeze, random_state):
    report = attempt(lambda: dr.gradient_check(
        _net(widths=(3, 2)), X, y, loss=loss, l2=l2, max_components=max_components,
        freeze_dropout=freeze, random_state=random_state))
    assert report is None or report.examples == len(np.asarray(X))
