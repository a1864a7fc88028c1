"""Locks a crash cannot leave behind: a writer SIGKILLed while it holds the journal lock, and
the dangling relative symlink lock Optuna's JournalFileSymlinkLock left (which made a resumed
study spin at 100% CPU), block nobody."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from deeprecipe.runs.locks import FileLock, RunDirBusyError, check_free, hold_run_dir

HOLDER = textwrap.dedent("""
    import sys, time
    from deeprecipe.tuning._storage import open_storage
    storage = open_storage("journal:" + sys.argv[1])
    backend = storage._backend
    backend._lock.acquire()               # as append_logs does, then killed mid-write
    with open(sys.argv[1], "ab") as f:
        f.write(b'{"op_code": 0, "worker_id": "x", "study_name": "half')
        f.flush()
    print("holding", flush=True)
    time.sleep(600)
""")


def test_a_journal_writer_killed_mid_write_blocks_no_one(tmp_path):
    journal = tmp_path / "study" / "journal.log"
    journal.parent.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(journal)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding"
        lock = FileLock(journal.with_name("journal.log.flock"))
        assert not lock.acquire(timeout=0.2)  # really held while the writer lives
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        start = time.monotonic()
        assert lock.acquire(timeout=5)  # the kernel let go with the process: no grace period
        assert time.monotonic() - start < 1.0
        lock.release()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_study_resumes_past_a_killed_writers_leftovers_with_a_relative_path(tmp_path,
                                                                                monkeypatch):
    import optuna

    from deeprecipe.tuning._storage import open_storage

    monkeypatch.chdir(tmp_path)
    study_dir = tmp_path / "runs" / "r" / "study"
    study_dir.mkdir(parents=True)
    # what a killed Optuna symlink lock left: a dangling link with a relative target
    os.symlink("runs/r/study/journal.log", study_dir / "journal.log.lock")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent("""
            import optuna
            from deeprecipe.tuning._storage import open_storage
            study = optuna.create_study(study_name="s", storage=open_storage(
                "journal:runs/r/study/journal.log"))
            study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
        """)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="s",
                              storage=open_storage("journal:runs/r/study/journal.log"))
    assert len(study.trials) == 3


def test_one_process_per_run_directory(tmp_path):
    with hold_run_dir(tmp_path):
        holder = subprocess.run(
            [sys.executable, "-c", "import sys; from deeprecipe.runs.locks import check_free; "
             "check_free(sys.argv[1])", str(tmp_path)], capture_output=True, text=True,
            timeout=60)
        assert holder.returncode != 0 and "in use by another deeprecipe process" in \
            holder.stderr and f"pid {os.getpid()}" in holder.stderr
    check_free(tmp_path)  # released on exit
    with hold_run_dir(tmp_path), pytest.raises(RunDirBusyError, match="choose another --out"):
        with hold_run_dir(tmp_path):
            pass
