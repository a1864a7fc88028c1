"""deeprecipe: improving deep neural networks, made real.

A NumPy network engine with verified backpropagation, and around it the basic recipe of applied
deep learning: data setup, regularization, optimization, bias/variance diagnosis and tuning.

Layers, bottom to top (an import only points down; import-linter checks it in CI):
engine -> optimize -> data -> persistence -> runs -> report -> tuning -> basic_recipe ->
workflows -> faces (estimator, prediction, cli). This module is the top face: the public API.
"""

from importlib import import_module as _import_module

from deeprecipe import data, persistence
from deeprecipe._version import __version__
from deeprecipe.engine import initializers, layers, losses, regularizers
from deeprecipe.engine.gradcheck import GradientCheckReport, gradient_check
from deeprecipe.engine.network import Cost, Sequential
from deeprecipe.errors import DeepRecipeError, DivergenceError
from deeprecipe.optimize import averages, callbacks, optimizers, schedules
from deeprecipe.optimize.history import History
from deeprecipe.optimize.trainer import Trainer, train
from deeprecipe.persistence import save
from deeprecipe.runs.config import Config, load_config
from deeprecipe.runs.diagnosis import Diagnosis, diagnose

# The faces and the tuner pull in scikit-learn and Optuna: import them on first use (PEP 562),
# so `import deeprecipe` and every CLI call stay fast.
_LAZY = {
    "DeepClassifier": "deeprecipe.estimator", "DeepRegressor": "deeprecipe.estimator",
    "Choice": "deeprecipe.tuning", "IntUniform": "deeprecipe.tuning",
    "LogUniform": "deeprecipe.tuning", "OneMinusLogUniform": "deeprecipe.tuning",
    "Uniform": "deeprecipe.tuning", "babysit": "deeprecipe.tuning", "tune": "deeprecipe.workflows",
    "run": "deeprecipe.workflows", "recipe": "deeprecipe.basic_recipe.loop",
    "export_onnx": "deeprecipe.export",
}


def load(path):
    """Read a model written by :func:`save` (a Sequential or a fitted estimator); no pickle.

    The estimators register themselves with persistence when imported, so they are imported
    here first (lazily: scikit-learn is heavy).
    """
    _import_module("deeprecipe.estimator")
    return persistence.load(path)


def __getattr__(name: str):
    if name == "tuning":
        return _import_module("deeprecipe.tuning")
    if name in _LAZY:
        return getattr(_import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deeprecipe' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, the lazy ones included (tab completion shows DeepClassifier)."""
    return sorted(set(__all__) | {k for k in globals() if not k.startswith("_")})


__all__ = [
    "__version__", "averages", "babysit", "callbacks", "Choice", "Config", "Cost", "data",
    "DeepClassifier",
    "DeepRecipeError", "DeepRegressor", "diagnose", "Diagnosis", "DivergenceError", "export_onnx",
    "gradient_check", "GradientCheckReport", "History", "initializers", "IntUniform", "layers",
    "load", "load_config", "LogUniform", "losses", "OneMinusLogUniform", "optimizers",
    "recipe", "regularizers", "run", "save", "schedules", "Sequential", "train", "Trainer",
    "tune", "tuning", "Uniform",
]
