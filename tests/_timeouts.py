"""How long a test waits on a child process, a thread or a server: a guard against a hang,
never a speed assertion.

Every such wait uses ``GUARD``: ten minutes, times ``DEEPRECIPE_TEST_TIMEOUT_SCALE`` (default
1; CI on a loaded machine may raise it). The slowest child (training from a memory-mapped file
under a memory limit) takes about 100 s on a busy two-core machine, so a slow machine only
makes a test slower; a hang still fails it, with the child killed. pytest-timeout's limit per
test (pyproject: twice GUARD) bounds a whole test; ``conftest.py`` scales it by the same
factor.

``wait_until`` waits for a child to reach a state (a checkpoint file written, a lock held)
with the same deadline, and fails at once, with the child's stderr, if the child ends first:
never a fixed sleep that guesses how fast the child is.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

__all__ = ["SCALE", "GUARD", "wait_until"]


def _scale() -> float:
    text = os.environ.get("DEEPRECIPE_TEST_TIMEOUT_SCALE", "1")
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"DEEPRECIPE_TEST_TIMEOUT_SCALE must be a number > 0, got {text!r}")
    return value


SCALE = _scale()
GUARD = 600.0 * SCALE  # seconds: any one wait on a child, a thread or a server


def wait_until(condition: Callable[[], object], what: str, *,
               proc: subprocess.Popen | None = None, timeout: float = GUARD,
               poll: float = 0.01) -> None:
    """Return as soon as ``condition()`` is true; AssertionError naming ``what`` if ``proc``
    ends first (with its stderr, when piped) or after ``timeout`` seconds (a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr is not None else ""
            raise AssertionError(f"the child process ended (rc={proc.returncode}) before "
                                 f"{what}: {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"hang guard: no {what} after {timeout:.0f} s")
        time.sleep(poll)
