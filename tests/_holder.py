"""Another process that holds a run directory's lock (``runs.locks.hold_run_dir``) while a test
tries to write there: a stand-in for a live ``run``, ``babysit`` or ``recipe``."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from _timeouts import GUARD

HOLDER = """\
import sys
from deeprecipe.runs.locks import hold_run_dir
with hold_run_dir(sys.argv[1]):
    print("holding", flush=True)
    sys.stdin.readline()
"""


@contextlib.contextmanager
def held_elsewhere(run_dir: Path) -> Iterator[int]:
    """Hold ``run_dir``'s lock in a child process for the block; yields the child's pid."""
    run_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == "holding"
        yield proc.pid
    finally:
        proc.stdin.close()  # ends the readline: the holder lets go and exits
        try:
            proc.wait(timeout=GUARD)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
