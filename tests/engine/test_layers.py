"""Every layer goes through the one conformance check; the registry rebuilds layers by name."""

from __future__ import annotations

import numpy as np
import pytest
from conformance import check_layer

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
