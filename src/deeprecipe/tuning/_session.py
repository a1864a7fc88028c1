"""A babysat directory's session state (panda.json) and who may work on it.

``held(run_dir, command, force)`` is how ``resume`` and ``rollback`` open a session: under the
run directory's lock (``runs.locks.hold_run_dir``, the one ``run`` holds), so a live babysit,
run or recipe refuses them with RunDirBusyError whatever ``force`` says; the kernel drops the
lock of a process that dies, even by SIGKILL. The ``running`` marker in panda.json tells
``status`` and ``nudge`` which process trains; ``force`` clears one that names a pid another,
unrelated process reuses after a crash.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from deeprecipe._io import load_json, write_json_atomic
from deeprecipe.errors import DeepRecipeError
from deeprecipe.runs import rundir
from deeprecipe.runs.locks import hold_run_dir

__all__ = ["state_path", "load_state", "save_state", "event", "started", "alive",
           "thread_key", "held"]


def state_path(run_dir: Path) -> Path:
    return Path(run_dir) / rundir.PANDA


def load_state(run_dir: Path) -> dict:
    path = state_path(run_dir)
    if not path.exists():
        raise DeepRecipeError(f"{run_dir} holds no panda session (no panda.json); start one "
                              "with babysit(config, run_dir)")
    return load_json(path)


def save_state(run_dir: Path, state: dict) -> None:
    write_json_atomic(state_path(run_dir), state)


def event(state: dict, kind: str, message: str, **extra) -> None:
    state["events"].append({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "kind": kind,
                            "branch": state["active"], "message": message, **extra})


def started(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, /proc), None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:].split()[19]
    except (OSError, ValueError, IndexError):
        return None


def alive(running: dict) -> bool:
    """Whether the recorded babysit process still runs (not another process that reuses its
    pid: the start times must agree where they are known)."""
    pid = running["pid"]
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError, OSError):
        return False
    recorded, now = running.get("started"), started(pid)
    return recorded is None or now is None or recorded == now


def _refuse_if_running(run_dir: Path, state: dict, command: str, force: bool) -> None:
    """DeepRecipeError if the ``running`` marker names a live process (not this thread);
    ``force`` takes the directory over instead (a pid reused by an unrelated process)."""
    running = state.get("running")
    if not (running and alive(running) and running.get("thread") != thread_key()):
        return
    pid = running["pid"]
    if not force:
        raise DeepRecipeError(
            f"cannot {command}: a babysit is running (pid {pid}, branch {running['branch']}); "
            f"nudge it or wait for it to end; if pid {pid} is not that babysit (it crashed and "
            f"another process has the pid now), take over with `deeprecipe {command} {run_dir} "
            "--force`")
    event(state, "takeover", f"took over from pid {pid} (--force): its running marker was "
          "stale", pid=pid)
    state["running"] = None


def thread_key() -> str:
    return f"{os.getpid()}-{threading.get_ident()}"


@contextlib.contextmanager
def held(run_dir: Path, command: str, force: bool) -> Iterator[dict]:
    """The session's state, read and written under the run directory's lock (RunDirBusyError
    while another process works there, ``force`` or not; ``force`` only clears a stale
    ``running`` marker whose pid another process reuses)."""
    if not state_path(run_dir).exists():
        load_state(run_dir)  # "no panda session", before a lock file is made
    with hold_run_dir(run_dir):
        state = load_state(run_dir)
        _refuse_if_running(run_dir, state, command, force)
        yield state
