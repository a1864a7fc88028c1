"""Another process that holds a run directory's lock (``runs.locks.hold_run_dir``) while a test
tries to write there: a stand-in for a live ``run``, ``babysit`` or ``recipe``; and the exact
refusal a user then reads (``busy``)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from _timeouts import GUARD

ADVICE = {  # what each action's refusal tells the user to do, as they read it
    "start": "wait for it to finish or choose another --out",
    "resume": "wait for it to finish (or stop it), then `deeprecipe resume {run_dir}` goes on "
              "from where it ended",
    "rollback": "wait for it to finish (or stop it), then roll back; `deeprecipe nudge "
                "{run_dir}` changes a live babysit's course without waiting",
}


def busy(run_dir: Path, action: str, pid: int | None = None) -> str:
    """The RunDirBusyError message for ``action``: held by process ``pid``, or (None) by this
    process (another thread or an unfinished call)."""
    who = ("this process already (another thread or an unfinished call works in it)"
           if pid is None else f"another deeprecipe process (pid {pid})")
    return f"{run_dir} is in use by {who}; " + ADVICE[action].format(run_dir=run_dir)


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
