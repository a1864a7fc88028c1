"""The estimators' hyperparameter table: every parameter and the check it must pass in fit()."""

from __future__ import annotations

import inspect

import numpy as np

from deeprecipe._random import as_seed_sequence
from deeprecipe._validation import check_choice, check_in_range, check_int
from deeprecipe.engine.builders import check_hidden_layer_sizes
from deeprecipe.errors import InvalidTypeError, InvalidValueError
from deeprecipe.runs.knobs import KNOBS

__all__ = ["ESTIMATOR_SCHEDULES", "CHECKS", "PARAMETERS", "signature", "seed_sequence"]

#: schedule= name -> (schedules.SCHEDULES name, the field that receives decay_rate).
ESTIMATOR_SCHEDULES = {
    "inverse_time": ("inverse_time", "decay_rate"),  # lr0 / (1 + decay_rate * epoch_num)
    "exponential": ("exponential", "base"),          # lr0 * decay_rate ** epoch_num
    "sqrt": ("sqrt", "k"),                           # lr0 * decay_rate / sqrt(epoch_num)
    "staircase": ("staircase", "decay_rate"),        # lr0 / (1 + decay_rate * (epoch_num // 10))
}


def _real(low=None, high=None, closed="both"):
    return lambda name, v: float(check_in_range(name, v, low=low, high=high, closed=closed))


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


#: Every parameter and the check it must pass in fit(): the knobs' own checks (run.knobs), with
#: the estimator's spellings where scikit-learn users expect them (None for no schedule or a
#: full batch, a tuple of layer sizes), plus the estimator's own settings.
CHECKS = {
    **{k.name: _boolean if k.type is bool else k.check for k in KNOBS if k.estimator},
    "hidden_layer_sizes": lambda name, v: check_hidden_layer_sizes(v),
    "batch_size": _batch_size,
    "schedule": lambda name, v: v if v is None else check_choice(name, v,
                                                                tuple(ESTIMATOR_SCHEDULES)),
    "validation_fraction": _real(0.0, 1.0, "neither"),
    "random_state": _random_state,
    "verbose": _verbose,
}


#: Every parameter and its default, in the signature's order: the knobs the estimators take
#: (with the estimators' defaults), then the estimators' own settings.
PARAMETERS: dict[str, object] = {
    **{k.name: (tuple(k.default_for_estimator) if isinstance(k.default_for_estimator, list)
                else k.default_for_estimator) for k in KNOBS if k.estimator},
    "validation_fraction": 0.1, "random_state": None, "verbose": False,
}


def signature(parameters: dict[str, object]) -> inspect.Signature:
    """__init__'s signature: (self, hidden_layer_sizes=..., *, every other parameter=...)."""
    P = inspect.Parameter
    return inspect.Signature([
        P("self", P.POSITIONAL_OR_KEYWORD),
        *(P(name, P.POSITIONAL_OR_KEYWORD if name == "hidden_layer_sizes" else P.KEYWORD_ONLY,
            default=default) for name, default in parameters.items())])


def seed_sequence(random_state) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.RandomState):  # sklearn's legacy RNG: draw a seed
        return np.random.SeedSequence(int(random_state.randint(0, 2**31 - 1)))
    return as_seed_sequence(random_state)
