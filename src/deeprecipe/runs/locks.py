"""Locks that a crash cannot leave behind: ``flock`` on a file, released by the kernel when the
holding process dies (even by SIGKILL), so no stale lock ever needs a grace period.

``hold_run_dir`` keeps two processes (or two threads, or two nested calls) from working in one
run directory; ``FileLock`` guards the writes to a study journal (see ``tuning``). Paths are
made absolute on creation, so a lock does not depend on the working directory of whoever takes
it. A refusal says who holds the directory (another process and its pid, or this very process)
and what to do for the action at hand (``ACTIONS``): start elsewhere, or wait and go on.

A holder takes the lock exclusively; ``check_free`` only probes it with a shared lock for a
moment, so two writers that start at the same instant never refuse each other, and a holder
that finds only probes waits them out (``PROBE_WAIT``) instead of being refused. The lock file
holds the holder's pid; it is opened only if it is a regular file and read only in part, so a
FIFO or a huge file planted there is one line, never a hang or a huge read.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from deeprecipe._io import check_regular_file
from deeprecipe.errors import CheckpointError, DeepRecipeError
from deeprecipe.runs import rundir

__all__ = ["FileLock", "RunDirBusyError", "hold_run_dir", "check_free", "held_by", "ACTIONS"]

PROBE_WAIT = 2.0  # seconds a holder waits out probes (each holds the lock for microseconds)
_PID_BYTES = 32  # the most of a lock file ever read: a pid

#: What a refused command can do, by what it was about to do in the run directory ("it" is
#: whoever holds the directory).
ACTIONS = {
    "start": "wait for it to finish or choose another --out",
    "resume": "wait for it to finish (or stop it), then `deeprecipe resume {run_dir}` goes on "
              "from where it ended",
    "rollback": "wait for it to finish (or stop it), then roll back; `deeprecipe nudge "
                "{run_dir}` changes a live babysit's course without waiting",
}

# path -> pid, for every FileLock this process holds (the pid: a forked child inherits the
# table, and its parent's entries are not its own)
_HELD: dict[Path, int] = {}
_HELD_GUARD = threading.Lock()


class RunDirBusyError(DeepRecipeError, RuntimeError):
    """Another process, or another thread or call of this one, works in the run directory."""


class FileLock:
    """An exclusive ``flock`` on ``path`` (created if missing); re-entrant is not supported.

    ``acquire(timeout)`` blocks (polling) until the lock is free or ``timeout`` seconds pass;
    the kernel drops the lock of a process that dies, so a killed holder never blocks anyone.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(os.path.abspath(path))
        self._fd: int | None = None

    def _open(self, flags: int) -> int:
        check_regular_file(self.path, CheckpointError, expected="the run directory's lock file"
                           if self.path.name == rundir.LOCK else "a lock file")
        return os.open(self.path, flags | os.O_NONBLOCK, 0o644)  # a FIFO made since: no hang

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True if taken."""
        fd = self._open(os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        with _HELD_GUARD:
            _HELD[self.path] = os.getpid()
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
            with _HELD_GUARD:
                _HELD.pop(self.path, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def taken(self) -> bool:
        """Whether a holder has the lock (in any process, this one included), judged by a
        shared lock taken for a moment: probes never exclude each other. A missing file is a
        free lock (and is not created)."""
        try:
            fd = self._open(os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # lets the shared lock go
        return False

    def holder(self) -> str:
        """The pid written by the process that holds the lock, or '' when unknown."""
        try:
            fd = self._open(os.O_RDONLY)
        except (OSError, CheckpointError):
            return ""
        try:
            text = os.read(fd, _PID_BYTES).decode("ascii", "replace").strip()
        except OSError:
            return ""
        finally:
            os.close(fd)
        return text if text.isdigit() else ""

    def held_here(self) -> bool:
        """Whether this process holds the lock (through another ``FileLock`` on the same
        file: another thread, or a call that has not returned)."""
        with _HELD_GUARD:
            return _HELD.get(self.path) == os.getpid()


def _check_action(action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {sorted(ACTIONS)}, got {action!r}")
    return action


def _take(run_dir: Path, action: str) -> FileLock:
    """The run directory's lock, taken; RunDirBusyError if a holder has it. Probes
    (``check_free``) in the way are waited out for up to PROBE_WAIT seconds."""
    lock = FileLock(Path(run_dir) / rundir.LOCK)
    end, pause = time.monotonic() + PROBE_WAIT, 0.001
    while not lock.try_acquire():
        if lock.taken() or time.monotonic() >= end:
            _refuse(run_dir, action, lock)
        time.sleep(pause)
        pause = min(2 * pause, 0.05)
    return lock


def _refuse(run_dir: Path, action: str, lock: FileLock) -> NoReturn:
    hint = ACTIONS[action].format(run_dir=run_dir)
    pid = lock.holder()
    if lock.held_here() or pid == str(os.getpid()):
        raise RunDirBusyError(f"{run_dir} is in use by this process already (another "
                              f"thread or an unfinished call works in it); {hint}")
    raise RunDirBusyError(f"{run_dir} is in use by another deeprecipe process"
                          f"{f' (pid {pid})' if pid else ''}; {hint}")


def check_free(run_dir: str | Path, *, action: str = "start") -> None:
    """RunDirBusyError now if another process (or this one) holds ``run_dir``: a fast check
    before the data is loaded; ``hold_run_dir`` is what keeps it. ``action`` as there."""
    _check_action(action)
    lock = FileLock(Path(run_dir) / rundir.LOCK)
    if lock.taken():
        _refuse(Path(run_dir), action, lock)


def held_by(run_dir: str | Path) -> str | None:
    """Who holds ``run_dir``'s lock: None when no one does (a probe, as ``check_free``), else
    the holder's pid as written in the lock file ('' while it is not written yet)."""
    lock = FileLock(Path(run_dir) / rundir.LOCK)
    return lock.holder() if lock.taken() else None


@contextlib.contextmanager
def hold_run_dir(run_dir: str | Path, *, action: str = "start") -> Iterator[None]:
    """Hold ``run_dir``'s lock file for the duration; RunDirBusyError if another process, or
    another thread or call of this one, does.

    ``action`` is what the caller is about to do there, one of ``ACTIONS``: "start" (run, tune,
    babysit, recipe: new work), "resume" (continue a run, recipe or babysat model),
    "rollback"; the refusal's advice fits it.
    """
    lock = _take(Path(run_dir), _check_action(action))
    try:
        os.ftruncate(lock._fd, 0)
        os.write(lock._fd, str(os.getpid()).encode())
        yield
    finally:
        lock.release()
