"""deeprecipe: improving deep neural networks, made real.

A NumPy network engine with verified backpropagation, and around it the basic recipe of applied
deep learning: data setup, regularization, optimization, bias/variance diagnosis and tuning.
"""

from deeprecipe import initializers, layers, losses, regularizers
from deeprecipe.errors import DeepRecipeError, DivergenceError
from deeprecipe.gradcheck import GradientCheckReport, gradient_check
from deeprecipe.network import Cost, Sequential

__version__ = "0.1.0"

__all__ = [
    "Cost", "DeepRecipeError", "DivergenceError", "GradientCheckReport", "Sequential",
    "gradient_check", "initializers", "layers", "losses", "regularizers",
]
