"""Every layer goes through the one conformance check; the registry rebuilds layers by name."""

from __future__ import annotations

import numpy as np
import pytest
from _hostile import attempt, hostile, matrices, scalars
from conformance import check_layer
from hypothesis import given, settings
from hypothesis import strategies as st

from deeprecipe.engine.initializers import INITIALIZERS
from deeprecipe.engine.layers import (
    LAYERS,
    BatchNorm,
    Dense,
    Dropout,
    Layer,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    layer_from_config,
)
from deeprecipe.errors import ConfigError, DeepRecipeError, NotFittedError

CASES = {
    **{f"Dense(init={name!r})": (lambda name=name: Dense(3, init=name)) for name in INITIALIZERS},
    "Dense(use_bias=False)": lambda: Dense(3, use_bias=False),
    "Dense(n_out=1)": lambda: Dense(1, init="xavier"),
    "ReLU": ReLU,
    "LeakyReLU": LeakyReLU,
    "LeakyReLU(slope=0.2)": lambda: LeakyReLU(slope=0.2),
    "Tanh": Tanh,
    "Sigmoid": Sigmoid,
    "Softmax": Softmax,
    "Linear": Linear,
    "Dropout(1.0)": lambda: Dropout(1.0),
    "Dropout(0.6)": lambda: Dropout(0.6),
    "BatchNorm": BatchNorm,
    "BatchNorm(momentum=0.5, epsilon=1e-3)": lambda: BatchNorm(momentum=0.5, epsilon=1e-3),
}


@pytest.mark.parametrize("make_layer", CASES.values(), ids=CASES.keys())
def test_layer_conformance(make_layer):
    check_layer(make_layer())


@pytest.mark.parametrize("n_in, m", [(1, 1), (2, 3), (8, 16)])
@pytest.mark.parametrize("make_layer",
                         [lambda: Dense(2), Softmax, BatchNorm, lambda: Dropout(0.6)],
                         ids=["Dense", "Softmax", "BatchNorm", "Dropout"])
def test_layer_conformance_other_sizes(make_layer, n_in, m):
    check_layer(make_layer(), n_in=n_in, m=m, seed=n_in + m)


def test_every_registered_layer_has_a_conformance_case():
    covered = {type(make()).__name__ for make in CASES.values()}
    assert covered == set(LAYERS)
    assert set(LAYERS) == {"Dense", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "Linear",
                           "Dropout", "BatchNorm"}
    assert all(issubclass(cls, Layer) for cls in LAYERS.values())


def test_layer_from_config_unknown_type_names_the_choices():
    with pytest.raises(ConfigError, match=r"unknown layer type 'Conv2D'.*Dense"):
        layer_from_config({"type": "Conv2D", "filters": 3})
    with pytest.raises(ConfigError, match="unknown layer type None"):
        layer_from_config({"n_out": 3})


def test_layer_from_config_bad_field_is_a_config_error():
    with pytest.raises(ConfigError, match="bad configuration for layer Dense"):
        layer_from_config({"type": "Dense", "n_out": 3, "units": 4})


def test_layer_from_config_validates_values():
    with pytest.raises(DeepRecipeError, match=r"keep_prob must be in \(0.0, 1.0\], got 1.5"):
        layer_from_config({"type": "Dropout", "keep_prob": 1.5})


def test_layer_from_config_does_not_mutate_its_argument():
    config = Dense(4, init="glorot").get_config()
    saved = dict(config)
    layer = layer_from_config(config)
    assert config == saved
    assert isinstance(layer, Dense) and layer.init == "glorot" and layer.n_out == 4


def test_clear_cache_forgets_the_training_forward():
    layer = Tanh()
    layer.build(3, np.random.default_rng(0))
    X = np.ones((2, 3), np.float32)
    layer.forward(X, training=True)
    layer.clear_cache()
    assert layer._cache == {}
    with pytest.raises(NotFittedError):
        layer.backward(X)


def test_repr_shows_the_configuration():
    assert repr(Dense(3, init="xavier")) == "Dense(n_out=3, init='xavier', scale=0.01, " \
                                             "use_bias=True)"
    assert repr(Dropout(0.5)) == "Dropout(keep_prob=0.5)"


# -- the checker itself catches broken layers ---------------------------------------------------
def test_check_layer_catches_a_wrong_derivative(monkeypatch):
    monkeypatch.setattr(Tanh, "backward", lambda self, dA: dA * (1 - self.cached("A")))
    with pytest.raises(AssertionError, match="dX: relative error"):
        check_layer(Tanh())


def test_check_layer_catches_a_wrong_parameter_gradient(monkeypatch):
    original = Dense.backward

    def backward(self, dZ):
        dX = original(self, dZ)
        self.grads["b"] *= 1.001
        return dX

    monkeypatch.setattr(Dense, "backward", backward)
    with pytest.raises(AssertionError, match="Dense db: relative error"):
        check_layer(Dense(3))


def test_check_layer_catches_caching_at_inference(monkeypatch):
    def forward(self, Z, *, training=False):
        self._cache = {"A": np.tanh(Z)}
        return self._cache["A"]

    monkeypatch.setattr(Tanh, "forward", forward)
    with pytest.raises(AssertionError, match="inference cached"):
        check_layer(Tanh())


def test_check_layer_catches_an_upcast(monkeypatch):
    monkeypatch.setattr(Sigmoid, "forward",
                        lambda self, Z, *, training=False: 1 / (1 + np.exp(-Z.astype(float))))
    with pytest.raises(AssertionError, match="float64"):
        check_layer(Sigmoid())


@pytest.mark.parametrize("layer", [Dense(3), BatchNorm()], ids=repr)
@pytest.mark.parametrize("training", [False, True])
def test_forward_before_build_is_a_not_fitted_error(layer, training):
    with pytest.raises(NotFittedError, match=rf"{type(layer).__name__}.forward\(\) needs build"):
        layer.forward(np.ones((2, 3), np.float32), training=training)


# -- hostile inputs at the public boundary: a correct result or a DeepRecipeError ---------------
HOSTILE = {"Dense": lambda: Dense(2), "ReLU": ReLU, "LeakyReLU": lambda: LeakyReLU(0.2),
           "Tanh": Tanh, "Sigmoid": Sigmoid, "Softmax": Softmax, "Linear": Linear,
           "Dropout(0.5)": lambda: Dropout(0.5), "Dropout(1.0)": lambda: Dropout(1.0),
           "BatchNorm": BatchNorm}
_INPUTS = st.one_of(hostile, matrices(cols=st.sampled_from([0, 2, 3, 4])),
                    matrices(rows=st.integers(1, 4), cols=st.just(3)))


def _made(name: str, built: bool) -> Layer:
    layer = HOSTILE[name]()
    if built:
        layer.build(3, np.random.default_rng(0), np.float32)
    return layer


def test_the_reported_cases_are_deeprecipe_errors_naming_the_argument():
    for bad in ("x", None, np.ones((2, 3), object), np.ones(3)):
        with pytest.raises(DeepRecipeError, match=r"Z (must|could)"):
            ReLU().forward(bad)
    layer = _made("ReLU", True)
    with pytest.raises(DeepRecipeError, match=r"ReLU.forward: Z must have shape \(m, 3\)"):
        layer.forward(np.ones((2, 4)))
    layer.forward(np.ones((2, 3), np.float32), training=True)
    with pytest.raises(DeepRecipeError, match=r"ReLU.backward: dA must have shape \(2, 3\)"):
        layer.backward(np.ones((3, 3)))  # broadcast garbage before


def test_integer_inputs_are_converted_not_truncated():
    # LeakyReLU's slope in an int dtype was 0: -4 gave 0 instead of -0.8
    np.testing.assert_allclose(LeakyReLU(0.2).forward(np.array([[-4, 5]])), [[-0.8, 5.0]])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN and inf inputs
@settings(max_examples=300)
@given(name=st.sampled_from(sorted(HOSTILE)), built=st.booleans(), X=_INPUTS,
       training=st.booleans())
def test_forward_gives_a_correct_output_or_a_deeprecipe_error(name, built, X, training):
    out = attempt(lambda: _made(name, built).forward(X, training=training))
    if out is None:
        return
    arr = np.asarray(X)
    assert isinstance(out, np.ndarray) and out.dtype in (np.float32, np.float64)
    assert arr.ndim == 2 and arr.size > 0 and (not built or arr.shape[1] == 3)
    twin = _made(name, built)  # the same values given as floats: the same output
    expected = twin.forward(arr.astype(out.dtype), training=training)
    np.testing.assert_array_equal(out, expected)
    assert out.shape == (arr.shape[0], twin.n_out or arr.shape[1])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN and inf inputs
@settings(max_examples=300)
@given(name=st.sampled_from(sorted(HOSTILE)), built=st.booleans(),
       dY=st.one_of(hostile, matrices(), matrices(rows=st.just(2), cols=st.just(3)),
                    matrices(rows=st.just(2), cols=st.just(2))))
def test_backward_gives_a_correct_gradient_or_a_deeprecipe_error(name, built, dY):
    X = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32)
    layer = _made(name, built)
    Y = attempt(lambda: layer.forward(X, training=True))
    dX = attempt(lambda: layer.backward(dY))
    if Y is None or dX is None:
        assert dX is None  # no training forward: backward refuses
        return
    arr = np.asarray(dY)
    assert arr.shape == Y.shape and dX.shape == X.shape and dX.dtype.kind == "f"
    twin = _made(name, built)
    twin.forward(X, training=True)
    np.testing.assert_array_equal(dX, twin.backward(arr.astype(dX.dtype)))


_DTYPES = st.sampled_from([np.float32, np.float64, "float64", np.float16, np.int32, bool, "x",
                           None, object])


@settings(max_examples=200)
@given(name=st.sampled_from(sorted(HOSTILE)),
       n_in=st.one_of(scalars, st.integers(-2, 5), st.just(np.int64(3))),
       rng=st.one_of(st.just("default"), scalars), dtype=_DTYPES)
def test_build_builds_or_raises_a_deeprecipe_error(name, n_in, rng, dtype):
    layer = HOSTILE[name]()
    rng = np.random.default_rng(0) if rng == "default" else rng
    n_out = attempt(lambda: layer.build(n_in, rng, dtype))
    if n_out is None:
        return
    assert isinstance(n_in, (int, np.integer)) and n_in >= 1
    assert n_out == (layer.n_out or n_in)
    assert all(a.dtype == np.dtype(dtype) for a in (*layer.params.values(),
                                                    *layer.grads.values()))


@settings(max_examples=150)
@given(config=st.one_of(hostile, st.dictionaries(st.sampled_from(["type", "n_out", "init",
                                                                   "keep_prob", "slope", "x"]),
                                                 st.one_of(hostile,
                                                           st.sampled_from(list(LAYERS))))))
def test_layer_from_config_rebuilds_or_raises_a_deeprecipe_error(config):
    layer = attempt(lambda: layer_from_config(config))
    assert layer is None or type(layer).__name__ == config["type"]
