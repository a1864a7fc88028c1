"""build_mlp: the layer structure for each option, dtype, seeding and every bad value."""

from __future__ import annotations

import numpy as np
import pytest

from deeprecipe.engine.builders import ACTIVATIONS, OUTPUTS, build_mlp, check_hidden_layer_sizes
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import DeepRecipeError


def names(net: Sequential) -> list[str]:
    return [type(layer).__name__ for layer in net.layers]


def test_default_structure_and_widths():
    net = build_mlp(4, (20, 3), 5, random_state=0)
    assert names(net) == ["Dense", "ReLU", "Dense", "ReLU", "Dense", "Softmax"]
    assert [net.layers[i].n_out for i in (0, 2, 4)] == [20, 3, 5]
    assert net.input_dim == 4 and net.output_dim == 5
    assert net.params["0.W"].shape == (4, 20) and net.params["4.W"].shape == (3, 5)
    assert net.dtype == np.float32 and all(p.dtype == np.float32 for p in net.params.values())


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_each_activation(activation):
    net = build_mlp(3, (4, 4), 2, activation=activation, random_state=0)
    assert names(net)[1] == names(net)[3] == ACTIVATIONS[activation].__name__


@pytest.mark.parametrize("output", list(OUTPUTS))
def test_each_output(output):
    net = build_mlp(3, (4,), 2, output=output, random_state=0)
    assert names(net)[-1] == OUTPUTS[output].__name__
    out = net.predict_proba(np.ones((5, 3)))
    assert out.shape == (5, 2)
    if output == "softmax":
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)


def test_batch_norm_and_dropout_per_hidden_layer():
    net = build_mlp(3, (6, 5), 1, batch_norm=True, keep_prob=0.7, output="sigmoid",
                    random_state=0)
    assert names(net) == ["Dense", "BatchNorm", "ReLU", "Dropout",
                          "Dense", "BatchNorm", "ReLU", "Dropout", "Dense", "Sigmoid"]
    assert net.layers[3].keep_prob == 0.7
    assert not net.layers[0].use_bias  # BatchNorm's beta replaces the bias
    assert {"1.running_mean", "1.running_var", "5.running_mean"} <= set(net.state)


def test_no_dropout_layer_when_keep_prob_is_one():
    assert "Dropout" not in names(build_mlp(3, (4,), 2, keep_prob=1.0))


def test_no_hidden_layers_is_a_linear_model():
    assert names(build_mlp(3, (), 1, output="linear")) == ["Dense", "Linear"]
    assert names(build_mlp(3, 7, 2)) == ["Dense", "ReLU", "Dense", "Softmax"]  # int: one layer


@pytest.mark.parametrize("init, out_init", [("he", "xavier"), ("xavier", "xavier"),
                                            ("glorot", "glorot"), ("random", "random")])
def test_output_initializer(init, out_init):
    net = build_mlp(3, (4,), 2, init=init)
    assert net.layers[0].init == init and net.layers[-2].init == out_init


def test_seed_gives_same_weights_and_float64_on_request():
    a = build_mlp(5, (8,), 3, random_state=42)
    b = build_mlp(5, (8,), 3, random_state=42)
    c = build_mlp(5, (8,), 3, random_state=43)
    np.testing.assert_array_equal(a.params["0.W"], b.params["0.W"])
    assert not np.array_equal(a.params["0.W"], c.params["0.W"])
    d = build_mlp(5, (8,), 3, random_state=42, dtype=np.float64)
    assert d.params["0.W"].dtype == np.float64


def test_config_round_trip():
    net = build_mlp(3, (4,), 2, batch_norm=True, keep_prob=0.5, activation="leaky_relu")
    again = Sequential.from_config(net.get_config())
    assert names(again) == names(net)


@pytest.mark.parametrize("kwargs, match", [
    ({"input_dim": 0}, "input_dim"),
    ({"input_dim": 2.5}, "input_dim"),
    ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": (4, 2.5)}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": "20"}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": None}, "hidden_layer_sizes"),
    ({"n_outputs": 0}, "n_outputs"),
    ({"n_outputs": 1}, "softmax"),
    ({"activation": "swish"}, "activation"),
    ({"init": "lecun"}, "init"),
    ({"keep_prob": 1.5}, r"keep_prob must be in \(0.0, 1.0\], got 1.5"),
    ({"keep_prob": 0.0}, "keep_prob"),
    ({"batch_norm": "yes"}, "batch_norm"),
    ({"output": "tanh"}, "output"),
    ({"dtype": np.int32}, "dtype"),
    ({"random_state": "seed"}, "random_state"),
])
def test_bad_values_raise_naming_them(kwargs, match):
    args = {"input_dim": 3, "hidden_layer_sizes": (4,), "n_outputs": 2, **kwargs}
    with pytest.raises(DeepRecipeError, match=match):
        build_mlp(args.pop("input_dim"), args.pop("hidden_layer_sizes"), args.pop("n_outputs"),
                  **args)


def test_check_hidden_layer_sizes_normalises():
    assert check_hidden_layer_sizes([np.int64(3), 2]) == (3, 2)
    with pytest.raises(DeepRecipeError):
        check_hidden_layer_sizes((True,))
