"""The engine's layers: one small file each; see ``base.Layer`` for the protocol."""

from deeprecipe.engine.layers.activations import LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from deeprecipe.engine.layers.base import Layer
from deeprecipe.engine.layers.batchnorm import BatchNorm
from deeprecipe.engine.layers.dense import Dense
from deeprecipe.engine.layers.dropout import Dropout
from deeprecipe.errors import ConfigError

__all__ = ["Layer", "Dense", "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softmax", "Linear",
           "Dropout", "BatchNorm", "LAYERS", "layer_from_config"]

LAYERS: dict[str, type[Layer]] = {cls.__name__: cls for cls in (
    Dense, ReLU, LeakyReLU, Tanh, Sigmoid, Softmax, Linear, Dropout, BatchNorm)}


def layer_from_config(config: dict) -> Layer:
    """Rebuild a layer from ``get_config()`` output (no pickle: a registry of names)."""
    if not isinstance(config, dict):
        raise ConfigError(f"a layer config must be a dict such as {{'type': 'ReLU'}}, got "
                          f"{config!r:.80}")
    config = dict(config)
    name = config.pop("type", None)
    if not isinstance(name, str) or name not in LAYERS:
        raise ConfigError(f"unknown layer type {name!r}; expected one of {', '.join(LAYERS)}")
    try:
        return LAYERS[name](**config)
    except TypeError as exc:
        raise ConfigError(f"bad configuration for layer {name}: {exc}") from None
