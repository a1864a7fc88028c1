"""deeprecipe: improving deep neural networks, made real.

A NumPy network engine with verified backpropagation, and around it the basic recipe of applied
deep learning: data setup, regularization, optimization, bias/variance diagnosis and tuning.
"""

from deeprecipe import (averages, callbacks, data, initializers, layers, losses, optimizers,
                        regularizers, schedules, tuning)
from deeprecipe.config import Config, load_config
from deeprecipe.diagnosis import Diagnosis, diagnose
from deeprecipe.errors import DeepRecipeError, DivergenceError
from deeprecipe.estimator import DeepClassifier, DeepRegressor
from deeprecipe.persistence import load, save
from deeprecipe.tuning import (Choice, IntUniform, LogUniform, OneMinusLogUniform, Uniform,
                               babysit, tune)
from deeprecipe.gradcheck import GradientCheckReport, gradient_check
from deeprecipe.history import History
from deeprecipe.network import Cost, Sequential
from deeprecipe.pipeline import run
from deeprecipe.basic_recipe import recipe
from deeprecipe.training import Trainer, train

__version__ = "0.1.0"

__all__ = [
    "averages", "babysit", "callbacks", "Choice", "Config", "Cost", "data", "DeepClassifier",
    "DeepRecipeError", "DeepRegressor", "diagnose", "Diagnosis", "DivergenceError",
    "gradient_check", "GradientCheckReport", "History", "initializers", "IntUniform", "layers",
    "load", "load_config", "LogUniform", "losses", "OneMinusLogUniform", "optimizers",
    "recipe", "regularizers", "run", "save", "schedules", "Sequential", "train", "Trainer",
    "tune", "tuning", "Uniform",
]
