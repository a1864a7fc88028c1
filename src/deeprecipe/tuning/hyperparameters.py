"""Which hyperparameters can be tuned, their default ranges, and how they map onto a Config.

Order of importance (the notes): learning_rate first; then momentum beta, hidden_units and the
mini-batch size; then n_layers and the learning-rate decay. Adam's beta1, beta2 and epsilon are
almost never tuned (0.9, 0.999, 1e-8) and stay at their defaults unless asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from deeprecipe.errors import ConfigError, DeepRecipeError
from deeprecipe.runs.config import Config
from deeprecipe.runs.knobs import KNOBS
from deeprecipe.runs.knobs import apply as apply_knobs
from deeprecipe.tuning.spaces import (
    Choice,
    Distribution,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    distribution_from_dict,
)

__all__ = ["HYPERPARAMETERS", "DEFAULT_SPACE", "default_space", "space_from_config",
           "space_to_dict", "apply", "check_names"]

Space = dict[str, Distribution]


def _hidden_units(config: Config, h) -> Config:
    sizes = config.model.hidden_layer_sizes
    return apply_knobs(config, {"hidden_layer_sizes": [h] * max(1, len(sizes))})


def _n_layers(config: Config, n) -> Config:
    sizes = config.model.hidden_layer_sizes
    return apply_knobs(config, {"hidden_layer_sizes": [sizes[0] if sizes else 64] * n})


def _decay_rate(config: Config, rate) -> Config:
    name = "inverse_time" if config.schedule.name == "none" else config.schedule.name
    return apply_knobs(config, {"schedule": name, "decay_rate": rate})


#: Tuning-only names, beyond the knobs: an architecture as width x depth, and a decay rate that
#: switches a constant schedule to inverse-time decay.
DERIVED: dict[str, tuple[str, Callable[[Config, object], Config]]] = {
    "hidden_units": ("every entry of model.hidden_layer_sizes", _hidden_units),
    "n_layers": ("number of hidden layers (each hidden_units wide)", _n_layers),
    "decay_rate": ("schedule.decay_rate (inverse_time if the schedule is none)", _decay_rate),
}

#: The notes' order of importance: α first; then β, hidden units and the mini-batch size; then
#: the number of layers and the learning-rate decay.
_IMPORTANCE = ("learning_rate", "beta", "hidden_units", "batch_size", "n_layers", "decay_rate")

#: Every name a tuning space may use -> where it goes in the config (the knobs and DERIVED),
#: the most important first.
HYPERPARAMETERS: dict[str, str] = dict(sorted(
    {**{k.name: k.path for k in KNOBS},
     **{name: where for name, (where, _) in DERIVED.items()}}.items(),
    key=lambda item: _IMPORTANCE.index(item[0]) if item[0] in _IMPORTANCE else len(_IMPORTANCE)))

#: Ordered by the notes' importance; ``default_space`` keeps beta only for momentum.
DEFAULT_SPACE: dict[str, Distribution] = {
    "learning_rate": LogUniform(1e-4, 1e-1),
    "beta": OneMinusLogUniform(0.9, 0.999),
    "hidden_units": IntUniform(16, 256, log=True),
    "batch_size": Choice((32, 64, 128, 256)),
    "n_layers": IntUniform(1, 3),
    "decay_rate": LogUniform(1e-3, 1.0),
}


def check_names(names) -> None:
    """ConfigError naming the first unknown hyperparameter and listing the allowed ones."""
    for name in names:
        if name not in HYPERPARAMETERS:
            raise ConfigError(f"unknown hyperparameter {name!r}; allowed: "
                              f"{', '.join(HYPERPARAMETERS)}")


def default_space(config: Config | None = None) -> Space:
    """DEFAULT_SPACE without beta unless the optimizer is momentum (the only one using it)."""
    uses_beta = config is not None and config.optimizer.name == "momentum"
    return {k: d for k, d in DEFAULT_SPACE.items() if k != "beta" or uses_beta}


def space_from_config(space: Mapping | None, config: Config | None = None) -> Space:
    """{name: Distribution} from TOML tables (or Distributions); empty -> ``default_space``.

    >>> space_from_config({"learning_rate": {"dist": "log_uniform", "low": 1e-4, "high": 1.0}})
    {'learning_rate': LogUniform(low=0.0001, high=1.0)}
    """
    if not space:
        return default_space(config)
    if not isinstance(space, Mapping):
        raise ConfigError(f"tuning.space must be a table of hyperparameters, got {space!r}")
    check_names(space)
    return {name: distribution_from_dict(d, f"tuning.space.{name}") for name, d in space.items()}


def space_to_dict(space: Mapping[str, Distribution]) -> dict[str, dict]:
    """The TOML form of a space (inverse of ``space_from_config``)."""
    return {name: d.to_dict() for name, d in space.items()}


def apply(config: Config, params: Mapping[str, object]) -> Config:
    """A new, validated Config with ``params`` set (``config`` untouched).

    hidden_units is applied before n_layers, so {"hidden_units": 32, "n_layers": 2} gives
    hidden_layer_sizes [32, 32].

    >>> cfg = apply(Config(), {"learning_rate": 0.01, "n_layers": 3, "hidden_units": 8})
    >>> cfg.model.hidden_layer_sizes
    [8, 8, 8]

    Raises
    ------
    ConfigError
        An unknown name (the allowed ones are listed) or a value the Config rejects.
    """
    check_names(params)
    order = sorted(params, key=lambda k: k == "n_layers")  # widths first, then depth
    for name in order:
        try:
            config = (DERIVED[name][1](config, params[name]) if name in DERIVED
                      else apply_knobs(config, {name: params[name]}))
        except DeepRecipeError as exc:
            raise ConfigError(f"hyperparameter {name} = {params[name]!r}: {exc}") from None
    return config
