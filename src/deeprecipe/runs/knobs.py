"""The one table of knobs: every hyperparameter, defined once.

A :class:`Knob` gives a hyperparameter's name, where it lives in the config
(``[section] key``), its TOML type, its check, its defaults (config and estimator) and, when it
can change during training, how it is set on a live trainer (a panda nudge). Everything else
reads this table: config validation and defaults (``run.config``), the estimators' parameters
(``estimator``), the names a tuning space may use (``tuning``), the recipe's steps (``recipe``)
and the nudges (``tuning.panda``). Adding a knob is one entry in ``KNOBS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deeprecipe._validation import check_choice, check_in_range, check_int, check_keep_prob
from deeprecipe.engine.builders import ACTIVATIONS
from deeprecipe.engine.initializers import INITIALIZERS
from deeprecipe.engine.layers import Dropout
from deeprecipe.errors import ConfigError, DeepRecipeError, InvalidTypeError
from deeprecipe.optimize.optimizers import OPTIMIZERS

if TYPE_CHECKING:
    from deeprecipe.optimize.trainer import Trainer
    from deeprecipe.runs.config import Config

__all__ = ["Knob", "KNOBS", "BY_NAME", "SECTIONS", "section_knobs", "apply", "check_value",
           "set_live"]

#: The config sections that hold knobs, in TOML order.
SECTIONS = ("model", "regularization", "optimizer", "schedule", "training")
_SAME = object()  # the estimator's default is the config's


@dataclass(frozen=True)
class Knob:
    """One hyperparameter: ``[section] key = default`` in TOML, ``name=`` in the estimators.

    check(name, value) returns the value (normalized) or raises a DeepRecipeError that says what
    was expected. live(trainer, value) sets it on a running trainer and returns the old value;
    None: it cannot change mid-training. applies(config) is None when a nudge makes sense for
    that model, else the reason it does not.
    """

    name: str
    section: str
    key: str
    type: Any
    default: Any
    check: Callable[[str, Any], Any]
    doc: str
    live: Callable[[Trainer, Any], Any] | None = None
    applies: Callable[[Config], str | None] | None = None
    estimator: bool = True
    estimator_default: Any = _SAME

    @property
    def path(self) -> str:
        """The dotted config path, e.g. ``optimizer.learning_rate``."""
        return f"{self.section}.{self.key}"

    @property
    def default_for_estimator(self) -> Any:
        return self.default if self.estimator_default is _SAME else self.estimator_default


# -- checks ---------------------------------------------------------------------------------
def _real(low=None, high=None, closed="both") -> Callable[[str, Any], float]:
    return lambda name, v: float(check_in_range(name, v, low=low, high=high, closed=closed))


def _integer(low: int) -> Callable[[str, Any], int]:
    return lambda name, v: check_int(name, v, low=low)


def _choice(choices) -> Callable[[str, Any], str]:
    return lambda name, v: check_choice(name, v, tuple(choices))


def _boolean(name: str, v) -> bool:
    if not isinstance(v, bool) and type(v).__name__ != "bool_":
        raise InvalidTypeError(f"{name} must be true or false, got {v!r}")
    return bool(v)


def _batch_size(name: str, v) -> int | str:
    if isinstance(v, str):
        return check_choice(name, v, ("auto", "full"))
    return check_int(name, v, low=1)


def _hidden(name: str, v) -> list[int]:
    if not isinstance(v, (list, tuple)):
        raise InvalidTypeError(f"{name} must be a list of layer sizes such as [64, 32], got {v!r}")
    return [check_int(f"{name}[{i}]", h, low=1) for i, h in enumerate(v)]


# -- live setters (nudges) ------------------------------------------------------------------
def _set_learning_rate(trainer: Trainer, value: float) -> float:
    old = trainer.optimizer.learning_rate
    trainer.set_learning_rate(value)
    return old


def _optimizer_attribute(attr: str) -> Callable[[Trainer, Any], Any]:
    def set_attr(trainer: Trainer, value):
        old = getattr(trainer.optimizer, attr, None)
        if old is not None:
            setattr(trainer.optimizer, attr, value)
        return old
    return set_attr


def _trainer_attribute(attr: str) -> Callable[[Trainer, Any], Any]:
    def set_attr(trainer: Trainer, value):
        old = getattr(trainer, attr)
        setattr(trainer, attr, value)
        return old
    return set_attr


def _set_keep_prob(trainer: Trainer, value: float):
    old = None
    for layer in trainer.net.layers:
        if isinstance(layer, Dropout):
            old, layer.keep_prob = layer.keep_prob, value
    return old


def _needs_momentum(config: Config) -> str | None:
    name = config.optimizer.name
    return None if name == "momentum" else f"beta is momentum's; this model uses {name!r}"


def _needs_dropout(config: Config) -> str | None:
    return None if config.model.keep_prob < 1.0 else (
        "this model has no Dropout layers (model.keep_prob = 1.0 when the session started)")


#: Every hyperparameter, in the notes' order of importance within each section.
KNOBS: tuple[Knob, ...] = (
    Knob("hidden_layer_sizes", "model", "hidden_layer_sizes", list[int], [64, 32], _hidden,
         "units of each hidden layer", estimator_default=(100,)),
    Knob("activation", "model", "activation", str, "relu", _choice(ACTIVATIONS),
         "hidden activation: relu, leaky_relu, tanh or sigmoid"),
    Knob("init", "model", "init", str, "he", _choice(INITIALIZERS),
         "weight initialization: zeros, random, he, xavier or glorot"),
    Knob("batch_norm", "model", "batch_norm", bool, False, _boolean,
         "BatchNorm after every hidden Dense layer"),
    Knob("keep_prob", "model", "keep_prob", float, 1.0, check_keep_prob,
         "inverted dropout's keep probability after every hidden layer (1: no dropout)",
         live=_set_keep_prob, applies=_needs_dropout),
    Knob("l2", "regularization", "l2", float, 0.0, _real(0.0),
         "L2 penalty λ: J += (λ/2m) Σ‖W‖²", live=_trainer_attribute("l2"),
         estimator_default=0.1),
    Knob("l1", "regularization", "l1", float, 0.0, _real(0.0),
         "L1 penalty λ: J += (λ/m) Σ|w|", live=_trainer_attribute("l1")),
    Knob("augment", "regularization", "augment", bool, False, _boolean,
         "random image transformations of the training batches", estimator=False),
    Knob("optimizer", "optimizer", "name", str, "adam", _choice(OPTIMIZERS),
         "gd, momentum, rmsprop or adam"),
    Knob("learning_rate", "optimizer", "learning_rate", float, 1e-3, _real(0.0, closed="neither"),
         "α, the most important hyperparameter", live=_set_learning_rate,
         estimator_default=3e-3),
    Knob("beta", "optimizer", "beta", float, 0.9, _real(0.0, 1.0, "left"),
         "momentum's β", live=_optimizer_attribute("beta"), applies=_needs_momentum),
    Knob("beta1", "optimizer", "beta1", float, 0.9, _real(0.0, 1.0, "left"), "Adam's β1"),
    Knob("beta2", "optimizer", "beta2", float, 0.999, _real(0.0, 1.0, "left"),
         "RMSprop's and Adam's β2"),
    Knob("epsilon", "optimizer", "epsilon", float, 1e-8, _real(0.0, closed="neither"),
         "ε in the update's denominator"),
    Knob("schedule", "schedule", "name", str, "none",
         _choice(("none", "inverse_time", "exponential", "sqrt", "staircase")),
         "learning-rate decay: none, inverse_time, exponential, sqrt or staircase",
         estimator_default=None),
    Knob("decay_rate", "schedule", "decay_rate", float, 1.0, _real(0.0),
         "α = α0 / (1 + decay_rate · epoch) (inverse_time, staircase)"),
    Knob("base", "schedule", "base", float, 0.95, _real(0.0, 1.0, "right"),
         "α = base^epoch · α0 (exponential)", estimator=False),
    Knob("k", "schedule", "k", float, 1.0, _real(0.0, closed="neither"),
         "α = k/√epoch · α0 (sqrt)", estimator=False),
    Knob("interval", "schedule", "interval", int, 10, _integer(1),
         "epochs per step (staircase)", estimator=False),
    Knob("epochs", "training", "epochs", int, 50, _integer(1), "passes over the training set",
         estimator_default=200),
    Knob("batch_size", "training", "batch_size", int | str, "auto", _batch_size,
         "mini-batch size: an int, auto (the notes' rule) or full (batch gradient descent)",
         estimator_default=200),
    Knob("early_stopping", "training", "early_stopping", bool, True, _boolean,
         "stop when the dev metric stops improving and keep the best weights",
         estimator_default=False),
    Knob("patience", "training", "patience", int, 10, _integer(0),
         "epochs without improvement early stopping tolerates"),
)

BY_NAME: dict[str, Knob] = {k.name: k for k in KNOBS}


def section_knobs(section: str) -> list[Knob]:
    """The knobs stored in ``[section]``, in table order."""
    return [k for k in KNOBS if k.section == section]


def check_value(name: str, value) -> Any:
    """The knob's check: the normalized value, or ConfigError naming the knob."""
    knob = BY_NAME.get(name)
    if knob is None:
        raise ConfigError(f"unknown hyperparameter {name!r}; allowed: {', '.join(BY_NAME)}")
    try:
        return knob.check(knob.name, value)
    except DeepRecipeError as exc:
        raise ConfigError(f"{knob.path}: {exc}") from None


def apply(config: Config, values: Mapping[str, Any]) -> Config:
    """A new, validated Config with each knob ``name: value`` set (``config`` untouched).

    Raises ConfigError for an unknown name (the allowed ones are listed) or a bad value.
    """
    for name, value in values.items():
        knob = BY_NAME.get(name)
        if knob is None:
            raise ConfigError(f"unknown hyperparameter {name!r}; allowed: {', '.join(BY_NAME)}")
        section = getattr(config, knob.section)
        try:
            config = dataclasses.replace(config, **{knob.section: dataclasses.replace(
                section, **{knob.key: value})})
        except DeepRecipeError as exc:
            raise ConfigError(f"hyperparameter {name} = {value!r}: {exc}") from None
    return config


def set_live(trainer: Trainer, name: str, value) -> Any:
    """Set knob ``name`` on a running trainer; returns the old value (None: not applicable)."""
    knob = BY_NAME[name]
    if knob.live is None:
        raise ConfigError(f"{name} cannot change during training; the ones that can: "
                          f"{', '.join(k.name for k in KNOBS if k.live is not None)}")
    return knob.live(trainer, knob.check(name, value))
