"""deeprecipe: improving deep neural networks, made real.

A NumPy network engine with verified backpropagation, and around it the basic recipe of applied
deep learning: data setup, regularization, optimization, bias/variance diagnosis and tuning.
"""

import importlib

from deeprecipe import (
    averages,
    callbacks,
    data,
    initializers,
    layers,
    losses,
    optimizers,
    regularizers,
    schedules,
)
from deeprecipe.config import Config, load_config
from deeprecipe.diagnosis import Diagnosis, diagnose
from deeprecipe.errors import DeepRecipeError, DivergenceError
from deeprecipe.gradcheck import GradientCheckReport, gradient_check
from deeprecipe.history import History
from deeprecipe.network import Cost, Sequential
from deeprecipe.persistence import load, save
from deeprecipe.training import Trainer, train

__version__ = "0.1.0"

# The faces and the tuner pull in scikit-learn and Optuna: import them on first use (PEP 562),
# so `import deeprecipe` and every CLI call stay fast.
_LAZY = {
    "DeepClassifier": "deeprecipe.estimator", "DeepRegressor": "deeprecipe.estimator",
    "Choice": "deeprecipe.tuning", "IntUniform": "deeprecipe.tuning",
    "LogUniform": "deeprecipe.tuning", "OneMinusLogUniform": "deeprecipe.tuning",
    "Uniform": "deeprecipe.tuning", "babysit": "deeprecipe.tuning", "tune": "deeprecipe.tuning",
    "run": "deeprecipe.pipeline", "recipe": "deeprecipe.basic_recipe",
    "export_onnx": "deeprecipe.export",
}


def __getattr__(name: str):
    if name == "tuning":
        return importlib.import_module("deeprecipe.tuning")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deeprecipe' has no attribute {name!r}")


__all__ = [
    "averages", "babysit", "callbacks", "Choice", "Config", "Cost", "data", "DeepClassifier",
    "DeepRecipeError", "DeepRegressor", "diagnose", "Diagnosis", "DivergenceError", "export_onnx",
    "gradient_check", "GradientCheckReport", "History", "initializers", "IntUniform", "layers",
    "load", "load_config", "LogUniform", "losses", "OneMinusLogUniform", "optimizers",
    "recipe", "regularizers", "run", "save", "schedules", "Sequential", "train", "Trainer",
    "tune", "tuning", "Uniform",
]
