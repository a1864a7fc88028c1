"""Hyperparameter tuning: spaces on the right scale, random search, coarse to fine, caviar, panda.

Random, not grid: with a budget of n trials a grid tries only n**(1/d) values of the one
hyperparameter that matters, random search tries n. Sample on the right scale (log for the
learning rate, log of 1 - beta for beta), zoom in on the best region (coarse to fine), and either
babysit one model (panda: ``babysit``, ``nudge``, ``rollback``, ``resume``) or train many at once
(caviar: ``tune(..., workers=N)`` or ``scheduler="tcp://host:8786"``). ``tune`` here is the
study alone; ``dr.tune`` (workflows) also trains the best model.

Imports report, runs and below; never basic_recipe, workflows or the faces. The names load on
first use (PEP 562): Optuna is heavy, and ``tuning.checks`` must stay fast to import.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "DEFAULT_SPACE": "hyperparameters", "HYPERPARAMETERS": "hyperparameters",
    "apply": "hyperparameters", "default_space": "hyperparameters",
    "space_from_config": "hyperparameters", "BabysitResult": "panda", "babysit": "panda",
    "nudge": "panda", "resume": "panda", "rollback": "panda", "status": "panda",
    "StudyResult": "search", "tune": "search", "Choice": "spaces", "Distribution": "spaces",
    "IntUniform": "spaces", "LogUniform": "spaces", "OneMinusLogUniform": "spaces",
    "Uniform": "spaces",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"deeprecipe.tuning.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'deeprecipe.tuning' has no attribute {name!r}")


__all__ = ["LogUniform", "OneMinusLogUniform", "Uniform", "IntUniform", "Choice",
           "Distribution", "DEFAULT_SPACE", "HYPERPARAMETERS", "apply", "default_space",
           "space_from_config", "tune", "StudyResult", "babysit", "BabysitResult", "nudge",
           "rollback", "resume", "status"]
