"""Locks that a crash cannot leave behind: ``flock`` on a file, released by the kernel when the
holding process dies (even by SIGKILL), so no stale lock ever needs a grace period.

``hold_run_dir`` keeps two processes from working in one run directory; ``FileLock`` guards
the writes to a study journal (see ``tuning``). Paths are made absolute on creation, so a
lock does not depend on the working directory of whoever takes it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from deeprecipe.errors import DeepRecipeError
from deeprecipe.runs import rundir

__all__ = ["FileLock", "RunDirBusyError", "hold_run_dir", "check_free"]


class RunDirBusyError(DeepRecipeError, RuntimeError):
    """Another process is working in the run directory."""


class FileLock:
    """An exclusive ``flock`` on ``path`` (created if missing); re-entrant is not supported.

    ``acquire(timeout)`` blocks (polling) until the lock is free or ``timeout`` seconds pass;
    the kernel drops the lock of a process that dies, so a killed holder never blocks anyone.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(os.path.abspath(path))
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True if taken."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def acquire(self, timeout: float | None = None) -> bool:
        """Wait for the lock (at most ``timeout`` seconds); True when held."""
        end = None if timeout is None else time.monotonic() + timeout
        pause = 0.001
        while not self.try_acquire():
            if end is not None and time.monotonic() >= end:
                return False
            time.sleep(pause)
            pause = min(2 * pause, 0.05)
        return True

    def release(self) -> None:
        """Let the lock go (a no-op when not held)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> str:
        """The pid written by the process that holds the lock, or '' when unknown."""
        try:
            return self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return ""


def _take(run_dir: Path) -> FileLock:
    lock = FileLock(Path(run_dir) / rundir.LOCK)
    if not lock.try_acquire():
        pid = lock.holder()
        raise RunDirBusyError(f"{run_dir} is in use by another deeprecipe process"
                              f"{f' (pid {pid})' if pid else ''}; wait for it to finish or "
                              "choose another --out")
    return lock


def check_free(run_dir: str | Path) -> None:
    """RunDirBusyError now if another process holds ``run_dir`` (a fast check before the data
    is loaded; ``hold_run_dir`` is what keeps it)."""
    if (Path(run_dir) / rundir.LOCK).exists():
        _take(Path(run_dir)).release()


@contextlib.contextmanager
def hold_run_dir(run_dir: str | Path) -> Iterator[None]:
    """Hold ``run_dir``'s lock file for the duration; RunDirBusyError if another process does."""
    lock = _take(Path(run_dir))
    try:
        os.ftruncate(lock._fd, 0)
        os.write(lock._fd, str(os.getpid()).encode())
        yield
    finally:
        lock.release()
