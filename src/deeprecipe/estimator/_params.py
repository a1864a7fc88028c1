"""The estimators' hyperparameter table: every parameter and the check it must pass in fit()."""

from __future__ import annotations

import numpy as np

from deeprecipe._random import as_seed_sequence
from deeprecipe._validation import check_choice, check_in_range, check_int
from deeprecipe.builders import ACTIVATIONS, check_hidden_layer_sizes
from deeprecipe.errors import InvalidTypeError, InvalidValueError
from deeprecipe.initializers import INITIALIZERS
from deeprecipe.optimizers import OPTIMIZERS

__all__ = ["ESTIMATOR_SCHEDULES", "CHECKS", "seed_sequence"]

#: schedule= name -> (schedules.SCHEDULES name, the field that receives decay_rate).
ESTIMATOR_SCHEDULES = {
    "inverse_time": ("inverse_time", "decay_rate"),  # lr0 / (1 + decay_rate * epoch_num)
    "exponential": ("exponential", "base"),          # lr0 * decay_rate ** epoch_num
    "sqrt": ("sqrt", "k"),                           # lr0 * decay_rate / sqrt(epoch_num)
    "staircase": ("staircase", "decay_rate"),        # lr0 / (1 + decay_rate * (epoch_num // 10))
}


def _real(low=None, high=None, closed="both"):
    return lambda name, v: float(check_in_range(name, v, low=low, high=high, closed=closed))


def _choice(choices):
    return lambda name, v: check_choice(name, v, tuple(choices))


def _boolean(name: str, v):
    if not isinstance(v, (bool, np.bool_)):
        raise InvalidTypeError(f"{name} must be True or False, got {v!r}")
    return bool(v)


def _batch_size(name: str, v):
    if v is None or (isinstance(v, str) and v == "auto"):
        return v
    if isinstance(v, str):
        raise InvalidValueError(f"{name} must be an int >= 1, 'auto' or None, got {v!r}")
    return check_int(name, v, low=1)


def _random_state(name: str, v):
    if v is None or isinstance(v, (np.random.SeedSequence, np.random.Generator,
                                   np.random.RandomState)):
        return v
    return check_int(name, v, low=0)


def _verbose(name: str, v):
    return _boolean(name, v) if isinstance(v, (bool, np.bool_)) else check_int(name, v, low=0)


#: The one table: every hyperparameter and the check it must pass in fit().
CHECKS = {
    "hidden_layer_sizes": lambda name, v: check_hidden_layer_sizes(v),
    "activation": _choice(ACTIVATIONS),
    "init": _choice(INITIALIZERS),
    "l2": _real(0.0),
    "l1": _real(0.0),
    "keep_prob": _real(0.0, 1.0, "right"),
    "batch_norm": _boolean,
    "optimizer": _choice(OPTIMIZERS),
    "learning_rate": _real(0.0, closed="neither"),
    "beta": _real(0.0, 1.0, "left"),
    "beta1": _real(0.0, 1.0, "left"),
    "beta2": _real(0.0, 1.0, "left"),
    "epsilon": _real(0.0, closed="neither"),
    "batch_size": _batch_size,
    "epochs": lambda name, v: check_int(name, v, low=1),
    "schedule": lambda name, v: v if v is None else check_choice(name, v,
                                                                tuple(ESTIMATOR_SCHEDULES)),
    "decay_rate": _real(0.0),
    "early_stopping": _boolean,
    "validation_fraction": _real(0.0, 1.0, "neither"),
    "patience": lambda name, v: check_int(name, v, low=0),
    "random_state": _random_state,
    "verbose": _verbose,
}


def seed_sequence(random_state) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.RandomState):  # sklearn's legacy RNG: draw a seed
        return np.random.SeedSequence(int(random_state.randint(0, 2**31 - 1)))
    return as_seed_sequence(random_state)
