"""Shared test settings: hypothesis without deadlines (no timed tests), fixed-seed Generators."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("deeprecipe", deadline=None, derandomize=True, max_examples=100)
settings.load_profile("deeprecipe")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh Generator with a fixed seed (never the global NumPy RNG)."""
    return np.random.default_rng(12345)
