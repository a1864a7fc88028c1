"""Shared test settings: hypothesis without deadlines (no timed tests) and derandomized.

SCIPY_ARRAY_API=1 (set before scikit-learn/SciPy are imported) lets scikit-learn's
``check_array_api_input`` run on our estimators instead of skipping itself.
"""

from __future__ import annotations

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("deeprecipe", deadline=None, derandomize=True, max_examples=100)
settings.load_profile("deeprecipe")


@pytest.fixture
def torch():
    """PyTorch (CPU), the parity tests' reference: only the tests that use it skip without it."""
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install "
                                                "torch==2.13.0): it is the parity reference")
