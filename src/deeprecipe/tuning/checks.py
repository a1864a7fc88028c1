"""A search checked before any data is loaded (or Optuna imported): the space, the method, the
pruner, the metric and the grid size. ``deeprecipe tune`` calls it first, so a bad space fails
in well under a second with one line."""

from __future__ import annotations

import dataclasses
import importlib.util

from deeprecipe._validation import check_choice, check_int, check_workers
from deeprecipe.errors import ConfigError
from deeprecipe.runs.config import MAX_TRIALS, Config, config_from_dict, config_to_dict
from deeprecipe.tuning.draws import Space, grid_points
from deeprecipe.tuning.hyperparameters import apply, space_from_config

__all__ = ["METHODS", "ADAPTIVE", "PRUNERS", "check_search", "with_tuning"]

METHODS = ("random", "grid", "tpe", "cmaes")
ADAPTIVE = ("tpe", "cmaes")  #: samplers that learn from finished trials (not enqueued draws)
PRUNERS = ("none", "median", "successive_halving", "hyperband")


def check_search(config: Config, space: dict | None = None) -> Space:
    """The search ``config.tuning`` describes, checked without touching data: the space (names,
    tables, values the config accepts), the method, grid size, rounds and pruning.

    Returns the space as Distributions. Raises ConfigError with the key and what is allowed.
    """
    t = config.tuning
    check_choice("tuning method", t.method, METHODS)
    check_int("tuning.rounds", t.rounds, low=1)  # as the config checks them (it may have
    check_workers("tuning.workers", t.workers)  # been changed since)
    if check_int("tuning.n_trials", t.n_trials, low=0, high=MAX_TRIALS) == 0:
        raise ConfigError(f"tuning.n_trials must be in [1, {MAX_TRIALS}] to tune (0: no "
                          f"search; set it in [tuning] or give --trials), got {t.n_trials}")
    base = space_from_config(t.space if space is None else space, config)
    if t.method in ADAPTIVE and t.rounds > 1:
        raise ConfigError(f"rounds = {t.rounds} (coarse to fine) works with method random or "
                          f"grid; {t.method} narrows the search by itself: use rounds = 1")
    if t.method == "grid":
        grid_points(base, t.n_trials)
    if t.prune != "none" and config.split.folds:
        raise ConfigError("--prune does not combine with [split] folds (a trial is k "
                          "trainings); drop one of them")
    if t.method == "cmaes" and importlib.util.find_spec("cmaes") is None:
        raise ConfigError("method 'cmaes' needs the 'cmaes' package: pip install cmaes")
    for name, dist in base.items():  # every value a trial may get is one the config accepts
        for value in (dist.grid(3) if dist.numeric else dist.grid()):
            apply(config, {name: value})
    return base


def with_tuning(config: Config, **given) -> Config:
    """``config`` with the given [tuning] settings (None: keep), validated like the TOML.

    >>> with_tuning(Config(), n_trials=8, method=None).tuning.n_trials
    8
    """
    merged = {**config_to_dict(config)["tuning"], **{k: v for k, v in given.items()
                                                   if v is not None}}
    return dataclasses.replace(config, tuning=config_from_dict({"tuning": merged}).tuning)
