"""Sequential: gradient checks over every loss/penalty, params/grads views, dtypes, seeds,
config round trips, symmetry under zeros initialization, and errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deeprecipe as dr
from deeprecipe.errors import (
    DataError,
    DeepRecipeError,
    InvalidTypeError,
    InvalidValueError,
    NotFittedError,
)

L = dr.layers

OUTPUTS = {  # loss -> (output layer, output width, labels for m samples)
    "binary_crossentropy": (L.Sigmoid, 1, lambda rng, m: rng.integers(0, 2, m)),
    "categorical_crossentropy": (L.Softmax, 3, lambda rng, m: rng.integers(0, 3, m)),
    "mean_squared_error": (L.Linear, 2, lambda rng, m: rng.standard_normal((m, 2))),
}


def _net(loss="binary_crossentropy", *, input_dim=4, dtype=np.float32, random_state=0,
         keep_prob=0.8):
    out_layer, n_out, _ = OUTPUTS[loss]
    return dr.Sequential([
        L.Dense(6), L.BatchNorm(), L.ReLU(), L.Dropout(keep_prob),
        L.Dense(5, init="xavier"), L.Tanh(),
        L.Dense(4, init="glorot"), L.LeakyReLU(0.1),
        L.Dense(n_out, init="random", scale=0.5), out_layer(),
    ], input_dim=input_dim, dtype=dtype, random_state=random_state)


def _data(loss="binary_crossentropy", m=8, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)), OUTPUTS[loss][2](rng, m)


# -- gradient check over every cost ---------------------------------------------------------------
@pytest.mark.parametrize("l1", [0.0, 0.1])
@pytest.mark.parametrize("l2", [0.0, 0.7])
@pytest.mark.parametrize("loss", list(OUTPUTS))
def test_gradient_check_every_loss_and_penalty(loss, l2, l1):
    net = _net(loss, dtype=np.float64)
    X, y = _data(loss)
    report = dr.gradient_check(net, X, y, loss=loss, l2=l2, l1=l1, freeze_dropout=True,
                               max_components=None)
    assert report.n_checked == report.n_total == net.n_params
    assert report.overall < 1e-7, str(report)
    assert all(err < 1e-7 for err in report.values()), str(report)
    assert report.verdict == "great"


# -- params and grads -----------------------------------------------------------------------------
def test_params_and_grads_views():
    net = _net()
    expected = {"0.W", "1.gamma", "1.beta", "4.W", "4.b", "6.W", "6.b", "8.W", "8.b"}
    assert set(net.params) == set(net.grads) == expected
    for k, p in net.params.items():
        g = net.grads[k]
        assert g.shape == p.shape and g.dtype == p.dtype == np.float32
        index, name = k.split(".")
        assert p is net.layers[int(index)].params[name]  # views, not copies
        assert g is net.layers[int(index)].grads[name]
    assert set(net.state) == {"1.running_mean", "1.running_var"}
    assert net.params["0.W"].shape == (4, 6)
    assert net.params["8.W"].shape == (4, 1)
    assert net.n_params == sum(p.size for p in net.params.values()) == 24 + 12 + 35 + 24 + 5


def test_dense_followed_by_batchnorm_has_no_bias():
    net = _net()
    assert net.layers[0].use_bias is False
    assert "0.b" not in net.params
    assert all(layer.use_bias for layer in net.layers[4::2] if isinstance(layer, L.Dense))


def test_loss_and_gradients_returns_the_grads_dict():
    net = _net()
    X, y = _data()
    J, grads = net.loss_and_gradients(X, y, loss="binary_crossentropy")
    assert isinstance(J, float) and np.isfinite(J)
    assert grads is net.grads
    assert any(np.any(g != 0) for g in grads.values())


# -- randomness -----------------------------------------------------------------------------------
def test_same_random_state_same_weights_different_state_different_weights():
    a, b, c = _net(random_state=3), _net(random_state=3), _net(random_state=4)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["0.W"], c.params["0.W"])
    # a SeedSequence and a Generator are accepted too
    d = _net(random_state=np.random.SeedSequence(3))
    np.testing.assert_array_equal(a.params["0.W"], d.params["0.W"])
    e = _net(random_state=np.random.default_rng(3))
    assert e.params["0.W"].shape == (4, 6)


def test_layers_get_independent_streams():
    net = dr.Sequential([L.Dense(5), L.Dense(5)], input_dim=5, random_state=0)
    a, b = net.params["0.W"], net.params["1.W"]
    assert not np.allclose(a / a.std(), b / b.std())


# -- dtypes ---------------------------------------------------------------------------------------
def test_float32_end_to_end():
    net = _net()
    assert net.dtype == np.float32
    X, y = _data()  # float64 input is converted to the network's dtype
    _, grads = net.loss_and_gradients(X, y, loss="binary_crossentropy", l2=0.7, l1=0.1)
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(s.dtype == np.float32 for s in net.state.values())
    assert net.predict_proba(X).dtype == np.float32
    assert net.forward(X.astype(np.float32), training=True).dtype == np.float32


def test_float64_on_request():
    net = _net(dtype=np.float64)
    X, y = _data()
    _, grads = net.loss_and_gradients(X, y, loss="binary_crossentropy")
    assert all(p.dtype == np.float64 for p in net.params.values())
    assert all(g.dtype == np.float64 for g in grads.values())
    assert net.predict_proba(X).dtype == np.float64


def test_astype_copies_weights_and_state():
    net = _net()
    X, y = _data()
    net.loss_and_gradients(X, y, loss="binary_crossentropy")  # moves the running stats
    net64 = net.astype(np.float64)
    assert net64 is not net and net64.dtype == np.float64
    for k in net.params:
        np.testing.assert_array_equal(net64.params[k], net.params[k].astype(np.float64))
    for k in net.state:
        np.testing.assert_array_equal(net64.state[k], net.state[k].astype(np.float64))
    np.testing.assert_allclose(net64.predict_proba(X), net.predict_proba(X), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float16, np.int32, "complex128"])
def test_other_dtypes_refused(dtype):
    with pytest.raises(InvalidValueError, match="dtype must be float32 or float64"):
        dr.Sequential([L.Dense(1)], input_dim=2, dtype=dtype)


# -- prediction -----------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", list(OUTPUTS))
def test_predict_and_predict_proba_shapes(loss):
    net = _net(loss)
    X, _ = _data(loss, m=9)
    n_out = OUTPUTS[loss][1]
    proba = net.predict_proba(X)
    pred = net.predict(X)
    assert proba.shape == (9, n_out)
    if loss == "binary_crossentropy":
        assert pred.shape == (9,) and set(np.unique(pred)) <= {0, 1}
        np.testing.assert_array_equal(pred, (proba[:, 0] > 0.5).astype(int))
    elif loss == "categorical_crossentropy":
        assert pred.shape == (9,) and set(np.unique(pred)) <= {0, 1, 2}
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(pred, proba.argmax(axis=1))
    else:
        assert pred.shape == (9, 2)
        np.testing.assert_array_equal(pred, proba)


def test_prediction_is_deterministic_and_caches_nothing():
    net = _net()
    X, _ = _data()
    a = net.predict_proba(X)
    np.testing.assert_array_equal(a, net.predict_proba(X))  # no dropout at inference
    assert all(layer._cache == {} for layer in net.layers)


# -- summary and configuration --------------------------------------------------------------------
def test_predict_proba_in_chunks_equals_one_forward_pass():
    # rows are predicted in L2-sized chunks: 64 rows at input width 8,192 in float32
    L = dr.layers
    net = dr.Sequential([L.Dense(16), L.BatchNorm(), L.ReLU(), L.Dropout(0.5), L.Dense(3),
                         L.Softmax()], input_dim=8192, random_state=0)
    X = np.random.default_rng(0).normal(size=(200, 8192)).astype(np.float32)
    net.cost_and_gradients(*net.prepare(X[:50], np.arange(50) % 3, "categorical_crossentropy"))
    proba = net.predict_proba(X)
    assert proba.shape == (200, 3) and proba.dtype == np.float32
    np.testing.assert_allclose(proba, net.forward(X), rtol=1e-5, atol=1e-7)


def test_large_finite_inputs_are_accepted():
    # the finiteness check sums X in its dtype; a sum that overflows is rechecked exactly
    net = dr.Sequential([dr.layers.Dense(2), dr.layers.Softmax()], input_dim=3, random_state=0)
    X = np.full((4, 3), 3e38, np.float32)
    assert net.check_input(X) is X
    with pytest.raises(DataError, match="NaN or inf values in 1 sample"):
        net.check_input(np.vstack([X, [[np.inf, 0, 0]]]).astype(np.float32))


def test_summary_mentions_the_parameter_count():
    net = _net()
    text = net.summary()
    assert f"{net.n_params} trainable parameters" in text
    assert "Dense" in text and "BatchNorm" in text and "Dropout(keep_prob=0.8)" in text
    assert len(text.splitlines()) == len(net.layers) + 2


def test_config_round_trip():
    net = _net(random_state=5)
    config = net.get_config()
    rebuilt = dr.Sequential.from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config
    assert [type(layer) for layer in rebuilt.layers] == [type(layer) for layer in net.layers]
    for k in net.params:  # same seed: same weights
        np.testing.assert_array_equal(rebuilt.params[k], net.params[k])
    X, _ = _data()
    np.testing.assert_array_equal(rebuilt.predict_proba(X), net.predict_proba(X))


def test_from_config_rejects_garbage():
    with pytest.raises(DeepRecipeError, match="not a network configuration"):
        dr.Sequential.from_config({"input_dim": 3})
    with pytest.raises(DeepRecipeError, match="unknown layer type"):
        dr.Sequential.from_config({"layers": [{"type": "Conv"}], "input_dim": 3})


def test_set_arrays_checks_names_and_shapes():
    net = _net()
    params = {k: p.copy() for k, p in net.params.items()}
    params["0.W"] += 1.0
    net.set_arrays(params)
    np.testing.assert_array_equal(net.params["0.W"], params["0.W"])
    with pytest.raises(DeepRecipeError, match="parameter names do not match"):
        net.set_arrays({"0.W": params["0.W"]})
    with pytest.raises(DeepRecipeError, match=r"parameter '0.W' has shape \(6, 4\)"):
        net.set_arrays({**params, "0.W": params["0.W"].T})


# -- symmetry ------------------------------------------------------------------------------------
def _train_gd(net, X, y, loss, steps=300, lr=0.5):
    for _ in range(steps):
        _, grads = net.loss_and_gradients(X, y, loss=loss)
        for k, p in net.params.items():
            p -= lr * grads[k]


def _columns_equal(W):
    return np.allclose(W, W[:, :1], rtol=0, atol=1e-12)


def test_zeros_initialization_never_breaks_symmetry():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)

    def build(init):
        return dr.Sequential([L.Dense(4, init=init), L.Tanh(), L.Dense(4, init=init), L.Tanh(),
                              L.Dense(1, init=init), L.Sigmoid()], input_dim=3,
                             dtype=np.float64, random_state=0)

    net = build("zeros")
    b_out = net.params["4.b"].copy()
    _train_gd(net, X, y, "binary_crossentropy")
    for k in ("0.W", "2.W"):
        assert _columns_equal(net.params[k]), f"hidden units of {k} diverged"
    for k in ("0.b", "2.b"):
        assert np.ptp(net.params[k]) == 0.0
    assert not np.array_equal(net.params["4.b"], b_out)  # training did move the output

    he = build("he")
    _train_gd(he, X, y, "binary_crossentropy", steps=20)
    assert not _columns_equal(he.params["0.W"])  # random initialization breaks symmetry


# -- bad input ------------------------------------------------------------------------------------
def _bad_call(case):
    net = _net("categorical_crossentropy", input_dim=3)
    X, y = np.ones((4, 3)), np.array([0, 1, 2, 0])
    calls = {
        "wrong feature count": lambda: net.loss_and_gradients(np.ones((4, 5)), y,
                                                              loss="categorical_crossentropy"),
        "1-D X": lambda: net.predict(np.ones(3)),
        "3-D X": lambda: net.predict(np.ones((4, 3, 1))),
        "NaN in X": lambda: net.predict(np.where(np.eye(4, 3) > 0, np.nan, X)),
        "inf in X": lambda: net.loss_and_gradients(np.full((4, 3), -np.inf), y,
                                                   loss="categorical_crossentropy"),
        "strings": lambda: net.predict(np.array([["a", "b", "c"]])),
        "object array": lambda: net.predict(np.array([[1, None, 2]], dtype=object)),
        "empty X": lambda: net.predict(np.ones((0, 3))),
        "labels out of range": lambda: net.loss_and_gradients(X, [0, 1, 3, 0],
                                                              loss="categorical_crossentropy"),
        "X and y lengths": lambda: net.loss_and_gradients(X, y[:3],
                                                          loss="categorical_crossentropy"),
        "negative keep_prob": lambda: L.Dropout(keep_prob=-0.5),
        "keep_prob 1.5": lambda: L.Dropout(keep_prob=1.5),
        "unknown init": lambda: L.Dense(3, init="lecun"),
        "non-layer": lambda: dr.Sequential([L.Dense(3), "relu", L.Dense(1)], input_dim=2),
        "no layers": lambda: dr.Sequential([], input_dim=2),
        "loss mismatch": lambda: dr.Sequential([L.Dense(1), L.Sigmoid()], input_dim=3)
        .loss_and_gradients(X, y, loss="categorical_crossentropy"),
        "unknown loss": lambda: net.loss_and_gradients(X, y, loss="hinge"),
        "bad input_dim": lambda: dr.Sequential([L.Dense(1)], input_dim=0),
        "bad random_state": lambda: dr.Sequential([L.Dense(1)], input_dim=2,
                                                  random_state="seed"),
        "not built": lambda: dr.Sequential([L.Dense(1)]).predict(X),
    }
    return calls[case]


BAD_INPUT = [
    ("wrong feature count", DataError, r"X has 5 features, expected 3"),
    ("1-D X", DataError, r"X must be 2-D \(samples as rows\), got shape \(3,\)"),
    ("3-D X", DataError, r"X must be 2-D .* got shape \(4, 3, 1\)"),
    ("NaN in X", DataError, r"X contains NaN or inf values in 3 sample\(s\)"),
    ("inf in X", DataError, r"X contains NaN or inf values in 4 sample\(s\)"),
    ("strings", DataError, r"X must be real numeric, got an array of dtype <U1"),
    ("object array", DataError, r"X must be real numeric, got an array of dtype object"),
    ("empty X", DataError, r"X has no samples"),
    ("labels out of range", DataError, r"labels must be in \[0, 2\] for a 3-unit softmax"),
    ("X and y lengths", DataError, r"X has 4 samples but y has 3"),
    ("negative keep_prob", InvalidValueError, r"keep_prob must be in \(0.0, 1.0\], got -0.5"),
    ("keep_prob 1.5", InvalidValueError, r"keep_prob must be in \(0.0, 1.0\], got 1.5"),
    ("unknown init", InvalidValueError, r"init must be one of .* got 'lecun'"),
    ("non-layer", InvalidTypeError, r"layer 1 must be a deeprecipe layer .* got str"),
    ("no layers", InvalidValueError, r"needs at least one layer"),
    ("loss mismatch", InvalidValueError,
     r"categorical_crossentropy needs a final Softmax layer, got Sigmoid"),
    ("unknown loss", InvalidValueError, r"loss must be one of .* got 'hinge'"),
    ("bad input_dim", InvalidValueError, r"input_dim must be >= 1, got 0"),
    ("bad random_state", InvalidTypeError, r"random_state must be None, an int, .* got str"),
    ("not built", NotFittedError, r"the network is not built"),
]


@pytest.mark.parametrize("case, error, message", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_raises_a_clear_deeprecipe_error(case, error, message):
    with pytest.raises(error, match=message) as info:
        _bad_call(case)()
    assert isinstance(info.value, DeepRecipeError)


# -- fuzzing: succeed with finite results or raise DeepRecipeError --------------------------------
_special = st.sampled_from([np.nan, np.inf, -np.inf, 1e39, -1e39])
_values = st.one_of(st.floats(-1e4, 1e4, allow_nan=False), _special)
_FUZZ_NETS = {loss: _net(loss, input_dim=3, random_state=1) for loss in OUTPUTS}


def _elements(draw, kind):
    if kind == "float":
        return _values if draw(st.booleans()) else st.floats(-1e4, 1e4)
    if kind == "int":
        return st.integers(-2, 4)
    if kind == "bool":
        return st.booleans()
    return st.text("ab1", max_size=2)


_DTYPES = {"float": np.float64, "int": np.int64, "bool": np.bool_, "str": "U2"}


@st.composite
def _x_and_y(draw):
    """Mostly well-formed (m, 3) X and y of a plausible shape, so every check gets reached."""
    m = draw(st.integers(1, 6))
    if draw(st.integers(0, 3)):
        x_kind, x_shape = "float", (m, 3)
    else:
        x_kind = draw(st.sampled_from(list(_DTYPES)))
        x_shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6))
    X = draw(hnp.arrays(_DTYPES[x_kind], x_shape, elements=_elements(draw, x_kind)))
    y_kind = draw(st.sampled_from(["int", "int", "float", "float", "bool", "str"]))
    y_shape = draw(st.sampled_from([(m,), (m,), (m, 1), (m, 2), (m, 3), (0,), (), (m, 3, 1),
                                    (m + 1,)]))
    y = draw(hnp.arrays(_DTYPES[y_kind], y_shape, elements=_elements(draw, y_kind)))
    return X, y


@settings(max_examples=300)
@given(data=_x_and_y(), loss=st.sampled_from(list(OUTPUTS)), l2=st.sampled_from([0.0, 0.7]))
def test_fuzz_loss_and_gradients_succeeds_finitely_or_raises_deeprecipe_error(data, loss, l2):
    X, y = data
    net = _FUZZ_NETS[loss]
    try:
        J, grads = net.loss_and_gradients(X, y, loss=loss, l2=l2)
    except DeepRecipeError as exc:
        assert str(exc)  # every error says something
        return
    assert np.isfinite(J)
    assert all(np.isfinite(g).all() for g in grads.values())
    assert all(g.dtype == np.float32 for g in grads.values())


@given(data=_x_and_y())
def test_fuzz_predict_succeeds_finitely_or_raises_deeprecipe_error(data):
    X, _ = data
    net = _FUZZ_NETS["categorical_crossentropy"]
    try:
        proba = net.predict_proba(X)
    except DeepRecipeError:
        return
    assert proba.shape == (len(X), 3) and np.isfinite(proba).all()


# -- hostile values at the public methods (the API sweep) ----------------------------------------
_NOT_A_PENALTY = st.one_of(st.floats(max_value=-1e-300), st.sampled_from([np.nan, np.inf]),
                           st.sampled_from(["0.1", None, True, [0.1]]))


@settings(max_examples=40)
@given(name=st.sampled_from(["l2", "l1"]), value=_NOT_A_PENALTY,
       method=st.sampled_from(["cost", "loss_and_gradients"]))
def test_cost_and_gradients_refuse_a_bad_penalty_by_name(name, value, method):
    net = _FUZZ_NETS["categorical_crossentropy"]
    X, y = np.ones((2, 3)), np.array([0, 1])
    with pytest.raises((InvalidValueError, InvalidTypeError), match=rf"^{name} must be"):
        getattr(net, method)(X, y, loss="categorical_crossentropy", **{name: value})


@pytest.mark.parametrize("layers", [None, L.Dense(3), 3])
def test_layers_must_be_a_sequence_of_layers(layers):
    with pytest.raises(InvalidTypeError, match="layers must be a list of deeprecipe layers"):
        dr.Sequential(layers)


@pytest.mark.parametrize("dtype", ["bogus", None, object, "int"])
def test_a_dtype_that_is_not_float32_or_float64_is_refused_by_name(dtype):
    with pytest.raises(InvalidValueError, match="dtype must be float32 or float64, got"):
        dr.Sequential([L.Dense(1)], input_dim=2, dtype=dtype)


def test_forward_and_backward_check_what_they_are_given():
    with pytest.raises(NotFittedError, match="the network is not built"):
        dr.Sequential([L.Dense(2)]).forward(np.ones((2, 3)))
    net = _net("categorical_crossentropy", input_dim=3)
    with pytest.raises(DataError, match=r"X has 2 features, expected 3"):
        net.forward(np.ones((4, 2)))
    with pytest.raises(DataError, match="X must be real numeric"):
        net.forward("abc")
    net.forward(np.ones((4, 3), np.float32), training=True)
    with pytest.raises(DataError, match=r"dA must have shape \(4, 3\) .*, got \(5, 7\)"):
        net.backward(np.ones((5, 7), np.float32))
    with pytest.raises(DataError, match=r"dA must have shape \(4, 3\) .*, got \(3, 3\)"):
        net.backward(np.ones((3, 3), np.float32))
    with pytest.raises(DataError, match="dA must be real numeric"):
        net.backward("x")
    with pytest.raises(DataError, match=r"dA must have shape \(4, 3\) .*, got \(4, 4\)"):
        net.backward(np.ones((4, 4), np.float32), start=-1)
    net.backward(np.ones((4, 3), np.float32), start=-1)  # the Softmax's input: fine


@pytest.mark.parametrize("call, message", [
    (lambda net: net.astype("bogus"), r"dtype must be float32 or float64, got 'bogus'"),
    (lambda net: net.set_arrays(None), r"params must be a dict of arrays, got None"),
    (lambda net: net.set_arrays(net.params, "x"), r"state must be a dict of arrays, got 'x'"),
    (lambda net: net.load_arrays(None), r"arrays must be a dict of arrays, got None"),
    (lambda net: net.load_hyperparameters(None), r"not a network configuration"),
    (lambda net: net.load_hyperparameters({}), r"not a network configuration"),
    (lambda net: dr.Sequential.from_config({"layers": "x"}), r"layer config must be a dict"),
    (lambda net: dr.Sequential.from_config({"layers": [3]}), r"layer config must be a dict"),
])
def test_arrays_and_configs_of_the_wrong_kind_are_named(call, message):
    with pytest.raises(DeepRecipeError, match=message):
        call(_net("categorical_crossentropy", input_dim=3))


_LINEAR_NET = dr.Sequential([L.Dense(4), L.ReLU(), L.Dense(2)], input_dim=3, random_state=0)


@settings(max_examples=50)
@given(hnp.arrays(np.float32, (3, 3), elements=st.one_of(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.sampled_from([3.4e38, -3.4e38, 1e38, -1e38]))))
def test_predict_proba_is_finite_or_a_data_error_for_finite_inputs(X):
    try:
        out = _LINEAR_NET.predict_proba(X)
    except DataError as exc:
        assert "output is NaN or inf" in str(exc)
        return
    assert np.isfinite(out).all()


def test_an_output_overflow_names_the_samples():
    with pytest.raises(DataError, match=r"output is NaN or inf for 1 sample\(s\)"), \
            np.errstate(over="ignore", invalid="ignore"):
        _LINEAR_NET.predict(np.array([[0.0, 1, 2], [3e38, -3e38, 3e38]], np.float32))
