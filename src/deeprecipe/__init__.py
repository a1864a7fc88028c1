"""deeprecipe: improving deep neural networks, made real.

A NumPy network engine with verified backpropagation, and around it the basic recipe of applied
deep learning: data setup, regularization, optimization, bias/variance diagnosis and tuning.
"""

from deeprecipe import (averages, callbacks, data, initializers, layers, losses, optimizers,
                        regularizers, schedules)
from deeprecipe.diagnosis import Diagnosis, diagnose
from deeprecipe.errors import DeepRecipeError, DivergenceError
from deeprecipe.gradcheck import GradientCheckReport, gradient_check
from deeprecipe.history import History
from deeprecipe.network import Cost, Sequential
from deeprecipe.training import Trainer, train

__version__ = "0.1.0"

__all__ = [
    "Cost", "DeepRecipeError", "Diagnosis", "diagnose", "data", "DivergenceError", "GradientCheckReport", "History",
    "Sequential", "Trainer", "averages", "callbacks", "gradient_check", "initializers", "layers",
    "losses", "optimizers", "regularizers", "schedules", "train",
]
