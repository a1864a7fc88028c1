"""Shared test settings: hypothesis without deadlines (no timed tests) and derandomized.

SCIPY_ARRAY_API=1 (set before scikit-learn/SciPy are imported) lets scikit-learn's
``check_array_api_input`` run on our estimators instead of skipping itself.
"""

from __future__ import annotations

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402
from _timeouts import SCALE  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("deeprecipe", deadline=None, derandomize=True, max_examples=100)
settings.load_profile("deeprecipe")


def pytest_collection_modifyitems(config, items):
    """pytest-timeout's limit per test (pyproject's ``timeout``, or a test's own mark) grows
    with DEEPRECIPE_TEST_TIMEOUT_SCALE, as every wait on a child does (tests/_timeouts.py)."""
    if SCALE == 1:
        return
    default = float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        seconds = float(marker.args[0]) if marker is not None and marker.args else default
        if seconds > 0:
            item.add_marker(pytest.mark.timeout(seconds * SCALE))


@pytest.fixture
def torch():
    """PyTorch (CPU), the parity tests' reference: only the tests that use it skip without it."""
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install "
                                                "torch==2.13.0): it is the parity reference")
