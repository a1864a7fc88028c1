"""A babysat directory's session state (panda.json) and who may work on it.

``held(run_dir, command)`` is how ``resume`` and ``rollback`` open a session: under the run
directory's lock (``runs.locks.hold_run_dir``, the one ``run`` holds), so a live babysit, run or
recipe refuses them with RunDirBusyError; the kernel drops the lock of a process that dies,
even by SIGKILL. The ``running`` marker in panda.json tells ``status`` and ``nudge`` (which
take no lock) which process trains, trusted only while that process holds the lock
(``babysit_state``: a probe, never a refusal). Under the lock a marker is always a leftover:
the babysit that wrote it held the lock while it trained, so it has ended, whatever process
has its pid now; ``held`` clears it and logs it, and nothing needs ``--force`` to get past it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from deeprecipe._io import load_json, write_json_atomic
from deeprecipe.errors import CheckpointError, DeepRecipeError
from deeprecipe.runs import rundir
from deeprecipe.runs.locks import held_by, hold_run_dir

__all__ = ["state_path", "load_state", "check_state", "save_state", "event",
           "babysit_state", "thread_key", "held", "FORMAT", "STOPPED"]

FORMAT = "deeprecipe-panda/1"  # panda.json's format
STOPPED = "stopped (crashed or killed)"  # a babysit that left its running marker behind


def state_path(run_dir: Path) -> Path:
    return Path(run_dir) / rundir.PANDA


def load_state(run_dir: Path) -> dict:
    """panda.json, checked (``check_state``)."""
    path = state_path(run_dir)
    if not path.exists():
        raise DeepRecipeError(f"{run_dir} holds no panda session (no panda.json); start one "
                              "with babysit(config, run_dir)")
    state = load_json(path)
    check_state(state, path)
    return state


def _bad(path: Path, field: str, expected: str, value) -> CheckpointError:
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    return CheckpointError(f"{path}: the panda session's {field} must be {expected}, got "
                           f"{shown}; the file is damaged (start over with `deeprecipe "
                           "babysit CONFIG --out DIR --force`)")


def _is_int(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _named(value, names) -> bool:
    return isinstance(value, str) and value in names


def _inside(value) -> bool:
    """A relative path that stays inside the run directory."""
    if not isinstance(value, str) or not value or "\\" in value:
        return False
    parts = PurePosixPath(value).parts
    return not PurePosixPath(value).is_absolute() and ".." not in parts and parts != ()


def _check_branch(path: Path, name: str, branch, names) -> None:
    where = f"branches[{name!r}]"
    if not isinstance(branch, dict):
        raise _bad(path, where, "a table", branch)
    if branch.get("parent") is not None and not _named(branch.get("parent"), names):
        raise _bad(path, f"{where}.parent", "none or a branch", branch.get("parent"))
    if branch.get("from_chunk") is not None and not _is_int(branch.get("from_chunk"), 1):
        raise _bad(path, f"{where}.from_chunk", "none or a chunk number", branch["from_chunk"])
    if not _inside(branch.get("dir")):
        raise _bad(path, f"{where}.dir", "a path inside the run directory", branch.get("dir"))
    chunks = branch.get("chunks")
    if not isinstance(chunks, dict):
        raise _bad(path, f"{where}.chunks", "a table of chunks", chunks)
    for key, entry in chunks.items():
        if not (key.isdigit() and int(key) >= 1 and isinstance(entry, dict)
                and _inside(entry.get("checkpoint")) and _is_int(entry.get("epoch"), 0)):
            raise _bad(path, f"{where}.chunks[{key!r}]", "a chunk number >= 1 with a "
                       "checkpoint path inside the run directory and an epoch", entry)


def check_state(state, path: Path) -> None:
    """CheckpointError naming panda.json's first malformed field: the session's tables, its
    branches, their chunks (paths inside the run directory), the running marker, the target."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise _bad(path, "format", repr(FORMAT), state.get("format") if isinstance(
            state, dict) else state)
    if not isinstance(state.get("config"), dict):
        raise _bad(path, "config", "a table", state.get("config"))
    if not _is_int(state.get("epochs_per_chunk"), 1):
        raise _bad(path, "epochs_per_chunk", "an int >= 1", state.get("epochs_per_chunk"))
    if not isinstance(state.get("events"), list):
        raise _bad(path, "events", "a list", state.get("events"))
    branches = state.get("branches")
    if not isinstance(branches, dict) or not branches:
        raise _bad(path, "branches", "a table of branches", branches)
    for name, branch in branches.items():
        _check_branch(path, name, branch, branches)
    if not _named(state.get("active"), branches):
        raise _bad(path, "active", f"one of the branches {sorted(branches)}",
                   state.get("active"))
    running = state.get("running")
    if running is not None and not (isinstance(running, dict) and _is_int(running.get("pid"), 1)
                                    and isinstance(running.get("branch"), str)):
        raise _bad(path, "running", "none or a marker with a pid and a branch", running)
    target = state.get("target")
    if target is not None and not (isinstance(target, dict) and _named(target.get("branch"),
                                                                       branches)
                                   and _is_int(target.get("chunks"), 0)):
        raise _bad(path, "target", "none or a branch with a chunk count", target)


def save_state(run_dir: Path, state: dict) -> None:
    write_json_atomic(state_path(run_dir), state)


def event(state: dict, kind: str, message: str, **extra) -> None:
    state["events"].append({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "kind": kind,
                            "branch": state["active"], "message": message, **extra})


def babysit_state(run_dir: Path, state: dict) -> tuple[dict | None, str]:
    """(the ``running`` marker of a babysit that trains now, or None; what it is doing, in
    words): "running (pid N)", "stopped (crashed or killed)" or "not running".

    A marker is trusted only while the run directory's lock is held by the process it names:
    a babysit holds the lock for as long as it trains, and the kernel drops it when the process
    dies, so a free lock (or one another process holds) means the marker is a leftover, even
    if another live process has its pid now. Taking no lock, this never blocks a writer.
    """
    running = state.get("running")
    if not running:
        return None, "not running"
    holder = held_by(run_dir)
    if holder is None or holder not in ("", str(running["pid"])):  # '': not written yet
        return None, STOPPED
    return running, f"running (pid {running['pid']})"


def _clear_leftover(state: dict) -> None:
    """Clear the ``running`` marker of a babysit that ended without clearing it (killed, or
    crashed), logged; only called under the run directory's lock, which that babysit held."""
    running = state.get("running")
    if running:
        event(state, "stale_marker", f"the babysit of pid {running['pid']} ended without "
              "clearing its running marker (killed or crashed); cleared", pid=running["pid"])
        state["running"] = None


def thread_key() -> str:
    return f"{os.getpid()}-{threading.get_ident()}"


@contextlib.contextmanager
def held(run_dir: Path, command: str) -> Iterator[dict]:
    """The session's state, read and written under the run directory's lock (RunDirBusyError
    while another process, thread or call works there, its advice for ``command``: "resume"
    or "rollback"), a leftover ``running`` marker cleared."""
    if not state_path(run_dir).exists():
        load_state(run_dir)  # "no panda session", before a lock file is made
    with hold_run_dir(run_dir, action=command):
        state = load_state(run_dir)
        _clear_leftover(state)
        yield state
