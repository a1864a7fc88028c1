"""Hyperparameter tuning: spaces on the right scale, random search, coarse to fine, caviar, panda.

Random, not grid: with a budget of n trials a grid tries only n**(1/d) values of the one
hyperparameter that matters, random search tries n. Sample on the right scale (log for the
learning rate, log of 1 - beta for beta), zoom in on the best region (coarse to fine), and either
babysit one model (panda: ``babysit``, ``nudge``, ``rollback``, ``resume``) or train many at once
(caviar: ``tune(..., workers=N)`` or ``scheduler="tcp://host:8786"``).

Imports report, runs and below; never basic_recipe, workflows or the faces.
"""

from deeprecipe.tuning.hyperparameters import (
                                                DEFAULT_SPACE,
                                                HYPERPARAMETERS,
                                                apply,
                                                default_space,
                                                space_from_config,
)
from deeprecipe.tuning.panda import BabysitResult, babysit, nudge, resume, rollback, status
from deeprecipe.tuning.search import StudyResult, tune
from deeprecipe.tuning.spaces import (
                                                Choice,
                                                Distribution,
                                                IntUniform,
                                                LogUniform,
                                                OneMinusLogUniform,
                                                Uniform,
)

__all__ = ["LogUniform", "OneMinusLogUniform", "Uniform", "IntUniform", "Choice",
           "Distribution", "DEFAULT_SPACE", "HYPERPARAMETERS", "apply", "default_space",
           "space_from_config", "tune", "StudyResult", "babysit", "BabysitResult", "nudge",
           "rollback", "resume", "status"]
