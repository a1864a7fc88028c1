"""Optuna's samplers and pruners by the names a config uses, and our spaces in Optuna's terms.

method: "random" and "grid" draw every trial from (seed, round, index) and enqueue it (see
``search.draw``), so they are reproducible serially and in parallel; "tpe" and "cmaes" ask
Optuna's TPESampler / CmaEsSampler (seeded), which learn from the finished trials. prune:
Optuna's pruners on the dev error reported after every epoch.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping

import optuna
import optuna.distributions as od

from deeprecipe.errors import ConfigError
from deeprecipe.tuning.checks import PRUNERS
from deeprecipe.tuning.spaces import Choice, Distribution, IntUniform, LogUniform

__all__ = ["make_sampler", "make_pruner",
           "optuna_distribution", "to_optuna", "from_optuna"]



def make_sampler(method: str, seed: int) -> optuna.samplers.BaseSampler:
    """RandomSampler for random/grid (their draws are enqueued), TPESampler or CmaEsSampler."""
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if method == "cmaes":
        if importlib.util.find_spec("cmaes") is None:
            raise ConfigError("method 'cmaes' needs the 'cmaes' package: pip install cmaes")
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(name: str, epochs: int = 50) -> optuna.pruners.BasePruner:
    """Median (5 startup trials, 1 warm-up epoch), successive halving or Hyperband (1..epochs
    epochs, reduction factor 3); "none": no pruning."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(1, epochs),
                                              reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--prune must be one of {', '.join(PRUNERS)}, got {name!r}")


def _encodes(dist: Distribution) -> bool:
    return isinstance(dist, Choice) and any(isinstance(o, (list, tuple, dict))
                                            for o in dist.options)


def optuna_distribution(dist: Distribution) -> od.BaseDistribution:
    """Optuna's distribution of ours; a Choice of lists (architectures) becomes a categorical
    of their JSON texts ("[128, 64]")."""
    if isinstance(dist, Choice):
        if _encodes(dist):
            return od.CategoricalDistribution([json.dumps(o) for o in dist.options])
        return od.CategoricalDistribution(dist.options)
    if isinstance(dist, IntUniform):
        return od.IntDistribution(dist.low, dist.high, log=dist.log)
    return od.FloatDistribution(dist.low, dist.high, log=isinstance(dist, LogUniform))


def to_optuna(space: Mapping[str, Distribution], params: Mapping) -> dict:
    """``params`` with list-valued choices as their JSON text (Optuna's categorical values)."""
    return {k: json.dumps(v) if k in space and _encodes(space[k]) else v
            for k, v in params.items()}


def from_optuna(space: Mapping[str, Distribution], params: Mapping) -> dict:
    """Inverse of ``to_optuna``."""
    return {k: json.loads(v) if k in space and _encodes(space[k]) and isinstance(v, str) else v
            for k, v in params.items()}
