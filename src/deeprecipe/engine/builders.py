"""Network builders: the fully connected stacks the estimator, the TOML config and the tuner use.

``build_mlp`` makes, per hidden layer of width h,
``Dense(h, init) [+ BatchNorm] + activation [+ Dropout(keep_prob) if keep_prob < 1]``, then
``Dense(n_outputs) + output activation``. BatchNorm normalizes Z before the activation, as in the
lecture (the Dense in front of it then drops its bias: BatchNorm's beta takes b's role).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from deeprecipe._typing import RandomState
from deeprecipe._validation import check_choice, check_int, check_keep_prob
from deeprecipe.engine.initializers import INITIALIZERS
from deeprecipe.engine.layers import (
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
)
from deeprecipe.engine.network import Sequential
from deeprecipe.errors import InvalidTypeError, InvalidValueError

__all__ = ["ACTIVATIONS", "OUTPUTS", "build_mlp", "check_hidden_layer_sizes"]

#: Hidden activations by name (the names the estimator, TOML configs and the CLI use).
ACTIVATIONS: dict[str, type[Layer]] = {
    "relu": ReLU, "leaky_relu": LeakyReLU, "tanh": Tanh, "sigmoid": Sigmoid,
}

#: Output activations by name: softmax (multi-class), sigmoid (binary), linear (regression).
OUTPUTS: dict[str, type[Layer]] = {"softmax": Softmax, "sigmoid": Sigmoid, "linear": Linear}


def check_hidden_layer_sizes(hidden_layer_sizes) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of ints >= 1 (an int means one hidden layer).

    >>> check_hidden_layer_sizes([20, 3]), check_hidden_layer_sizes(8)
    ((20, 3), (8,))
    """
    if isinstance(hidden_layer_sizes, numbers.Integral) and not isinstance(
            hidden_layer_sizes, bool):
        hidden_layer_sizes = (hidden_layer_sizes,)
    if isinstance(hidden_layer_sizes, (str, bytes)) or not isinstance(hidden_layer_sizes,
                                                                       Iterable):
        raise InvalidTypeError("hidden_layer_sizes must be a tuple of positive ints such as "
                               f"(20, 3), got {hidden_layer_sizes!r}")
    sizes = tuple(hidden_layer_sizes)
    for h in sizes:
        if isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1:
            raise InvalidValueError("hidden_layer_sizes must hold positive ints such as (20, 3), "
                                    f"got {sizes!r}")
    return tuple(int(h) for h in sizes)


def build_mlp(input_dim: int, hidden_layer_sizes, n_outputs: int, *, activation: str = "relu",
              init: str = "he", keep_prob: float = 1.0, batch_norm: bool = False,
              output: str = "softmax", random_state: RandomState = None,
              dtype=np.float32) -> Sequential:
    """A built fully connected network: input_dim -> hidden_layer_sizes -> n_outputs.

    Parameters
    ----------
    input_dim : int
        Number of input features (>= 1).
    hidden_layer_sizes : tuple of int, or int
        Width of each hidden layer; ``()`` gives a (softmax/logistic/linear) regression.
    n_outputs : int
        Width of the output layer (>= 2 for ``output="softmax"``).
    activation : {"relu", "leaky_relu", "tanh", "sigmoid"}
        Hidden activation.
    init : {"he", "xavier", "glorot", "random", "zeros"}
        Initializer of the hidden Dense layers. The output Dense uses "xavier" when ``init`` is
        "he" (no ReLU follows it) and ``init`` otherwise.
    keep_prob : float in (0, 1]
        Inverted-dropout keep probability after every hidden activation (none if 1.0).
    batch_norm : bool
        Insert BatchNorm between each hidden Dense and its activation.
    output : {"softmax", "sigmoid", "linear"}
        Output activation.
    random_state : None, int, SeedSequence or Generator
        Seeds one Generator per layer.
    dtype : float32 (default) or float64

    Returns
    -------
    Sequential
        Built for inputs of width ``input_dim``.

    Raises
    ------
    InvalidValueError, InvalidTypeError
        A bad value, named in the message (both are DeepRecipeError).

    Examples
    --------
    >>> net = build_mlp(4, (8,), 3, batch_norm=True, keep_prob=0.8, random_state=0)
    >>> [type(layer).__name__ for layer in net.layers]
    ['Dense', 'BatchNorm', 'ReLU', 'Dropout', 'Dense', 'Softmax']
    >>> net.predict_proba(np.zeros((2, 4))).shape
    (2, 3)
    """
    input_dim = check_int("input_dim", input_dim, low=1)
    sizes = check_hidden_layer_sizes(hidden_layer_sizes)
    n_outputs = check_int("n_outputs", n_outputs, low=1)
    check_choice("activation", activation, tuple(ACTIVATIONS))
    check_choice("init", init, tuple(INITIALIZERS))
    check_keep_prob("keep_prob", keep_prob)
    if not isinstance(batch_norm, (bool, np.bool_)):
        raise InvalidTypeError(f"batch_norm must be True or False, got {batch_norm!r}")
    check_choice("output", output, tuple(OUTPUTS))
    if output == "softmax" and n_outputs < 2:
        raise InvalidValueError(f"output='softmax' needs n_outputs >= 2, got {n_outputs}; use "
                                "output='sigmoid' for a single binary output")
    layers: list[Layer] = []
    for h in sizes:
        layers.append(Dense(h, init=init))
        if batch_norm:
            layers.append(BatchNorm())
        layers.append(ACTIVATIONS[activation]())
        if keep_prob < 1.0:
            layers.append(Dropout(keep_prob=float(keep_prob)))
    layers.append(Dense(n_outputs, init="xavier" if init == "he" else init))
    layers.append(OUTPUTS[output]())
    return Sequential(layers, input_dim=input_dim, dtype=dtype, random_state=random_state)
