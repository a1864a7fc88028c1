"""Every error a user can cause is a DeepRecipeError (plus the natural builtin kind).

Messages say what was wrong and what was expected:
``keep_prob must be in (0.0, 1.0], got 1.5``.
"""

from __future__ import annotations

__all__ = [
    "DeepRecipeError",
    "InvalidValueError",
    "InvalidTypeError",
    "DataError",
    "ConfigError",
    "CheckpointError",
    "DivergenceError",
    "NotFittedError",
]


class DeepRecipeError(Exception):
    """Base class of every error deeprecipe raises for a user's input."""


class InvalidValueError(DeepRecipeError, ValueError):
    """A value is out of its allowed range or set."""


class InvalidTypeError(DeepRecipeError, TypeError):
    """A value has the wrong type."""


class DataError(DeepRecipeError, ValueError):
    """Data (arrays or files) are malformed: shapes, NaN/inf, labels, missing columns."""


class ConfigError(DeepRecipeError, ValueError):
    """A configuration (TOML or keyword) names an unknown key or holds a bad value."""


class CheckpointError(DeepRecipeError, ValueError):
    """A checkpoint or saved model is corrupt or does not match the network."""


class DivergenceError(DeepRecipeError, FloatingPointError):
    """The cost became NaN/inf or exploded; the message suggests a smaller learning rate."""


class NotFittedError(DeepRecipeError, RuntimeError):
    """A method needs a fitted/built model (or a training forward) first."""
