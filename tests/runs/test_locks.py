"""Locks a crash cannot leave behind: a writer SIGKILLed while it holds the journal lock, and
the dangling relative symlink lock Optuna's JournalFileSymlinkLock left (which made a resumed
study spin at 100% CPU), block nobody. The run directory's lock says who holds it (another
process with its pid, or this one) and what to do for the action at hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from _holder import ADVICE, busy, held_elsewhere
from _timeouts import GUARD

from deeprecipe.runs.locks import ACTIONS, FileLock, RunDirBusyError, check_free, hold_run_dir

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
        proc.wait(timeout=GUARD)
        assert lock.try_acquire()  # the kernel let go with the process: no grace period
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
        """)], cwd=tmp_path, capture_output=True, text=True, timeout=GUARD)
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="s",
                              storage=open_storage("journal:runs/r/study/journal.log"))
    assert len(study.trials) == 3


# -- the run directory's lock: who holds it, and what to do ---------------------------------
def test_every_action_has_its_advice():
    assert sorted(ACTIONS) == sorted(ADVICE)
    for action in ("resume", "rollback"):  # they work on an existing run: no other --out
        assert "--out" not in ACTIONS[action]
    with pytest.raises(ValueError, match="action must be one of .*'start'.* got 'run'"):
        check_free("anywhere", action="run")


@pytest.mark.parametrize("action", sorted(ADVICE))
def test_another_process_is_named_with_its_pid_and_the_action_s_advice(tmp_path, action):
    with held_elsewhere(tmp_path) as pid:
        with pytest.raises(RunDirBusyError) as refused:
            check_free(tmp_path, action=action)
        assert str(refused.value) == busy(tmp_path, action, pid)
        with pytest.raises(RunDirBusyError) as refused, hold_run_dir(tmp_path, action=action):
            pass
        assert str(refused.value) == busy(tmp_path, action, pid)
    with hold_run_dir(tmp_path, action=action):  # free once the holder has ended
        assert (tmp_path / ".lock").read_text() == str(os.getpid())


def test_a_child_process_is_told_this_parent_holds_the_directory(tmp_path):
    with hold_run_dir(tmp_path):
        child = subprocess.run(
            [sys.executable, "-c", "import sys; from deeprecipe.runs.locks import check_free; "
             "check_free(sys.argv[1], action='resume')", str(tmp_path)], capture_output=True,
            text=True, timeout=GUARD)
        assert child.returncode != 0
        assert child.stderr.strip().splitlines()[-1] == (
            "deeprecipe.runs.locks.RunDirBusyError: "
            + busy(tmp_path, "resume", os.getpid()))
    check_free(tmp_path)  # released on exit


@pytest.mark.parametrize("action", sorted(ADVICE))
def test_a_nested_call_is_told_this_process_holds_the_directory(tmp_path, action):
    with hold_run_dir(tmp_path):
        for attempt in (lambda: check_free(tmp_path, action=action),
                        lambda: hold_run_dir(tmp_path, action=action).__enter__()):
            with pytest.raises(RunDirBusyError) as refused:
                attempt()
            assert str(refused.value) == busy(tmp_path, action)
    check_free(tmp_path)


def test_another_thread_is_told_this_process_holds_the_directory(tmp_path):
    """A real second holder in this process: flock on a second open file of the same lock
    conflicts within one process too, and the message must not call us another process."""
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with hold_run_dir(tmp_path):
            holding.set()
            done.wait(timeout=GUARD)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(timeout=GUARD)
        for action in ADVICE:
            with pytest.raises(RunDirBusyError) as refused:
                check_free(tmp_path, action=action)
            assert str(refused.value) == busy(tmp_path, action)
            assert str(os.getpid()) not in str(refused.value)
    finally:
        done.set()
        holder.join(timeout=GUARD)
    check_free(tmp_path)  # the thread let go


def test_a_forked_child_names_its_parent_as_the_other_process(tmp_path):
    """The holder's pid is ours only in the process that took the lock: a child that inherits
    the table of held locks (fork) still names its parent as another process."""
    with hold_run_dir(tmp_path):
        pid = os.fork()
        if pid == 0:  # the child: report and leave at once, whatever happens
            try:
                check_free(tmp_path)
                code = 1
            except RunDirBusyError as exc:
                code = 0 if str(exc) == busy(tmp_path, "start", os.getppid()) else 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


# -- a probe (check_free) is no holder ------------------------------------------------------
@pytest.fixture
def paused_probe(tmp_path, monkeypatch):
    """A thread whose ``check_free(tmp_path)`` stops just after its flock succeeded: another
    writer's probe caught in the moment it holds the lock. Yields (inside, go): the probe is
    inside once ``inside`` is set, and finishes when ``go`` is."""
    from deeprecipe.runs import locks

    inside, go = threading.Event(), threading.Event()
    real = locks.fcntl.flock
    prober = threading.Thread(target=check_free, args=(tmp_path,))

    def flock(fd, op):
        real(fd, op)
        if threading.current_thread() is prober and not op & locks.fcntl.LOCK_UN:
            inside.set()
            go.wait(timeout=GUARD)

    monkeypatch.setattr(locks.fcntl, "flock", flock)
    (tmp_path / ".lock").touch()
    prober.start()
    try:
        assert inside.wait(timeout=GUARD)
        yield inside, go
    finally:
        go.set()
        prober.join(timeout=GUARD)


def test_a_probe_does_not_refuse_another_probe(tmp_path, paused_probe):
    check_free(tmp_path)  # two writers started at the same instant: neither is refused
    for action in ADVICE:
        check_free(tmp_path, action=action)


def test_a_holder_waits_out_a_probe_instead_of_being_refused(tmp_path, paused_probe):
    _, go = paused_probe
    threading.Timer(0.2, go.set).start()  # the probe ends a moment later, as a real one does
    with hold_run_dir(tmp_path):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())


PROBER = textwrap.dedent("""
    import os, sys, time
    from deeprecipe.runs.locks import RunDirBusyError, check_free
    print("ready", flush=True)
    while not os.path.exists(sys.argv[2]):  # start together
        time.sleep(0.001)
    refused = 0
    for _ in range(2000):
        try:
            check_free(sys.argv[1])
        except RunDirBusyError:
            refused += 1
    print(refused)
""")


def test_two_processes_probing_at_the_same_time_are_never_refused(tmp_path):
    (tmp_path / ".lock").touch()
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", PROBER, str(tmp_path), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        go.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=GUARD)
            assert proc.returncode == 0, err
            assert out.strip() == "0"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_real_holder_is_still_refused_to_a_probe_and_to_a_second_holder(tmp_path):
    with held_elsewhere(tmp_path) as pid:
        with pytest.raises(RunDirBusyError) as refused:
            check_free(tmp_path)
        assert str(refused.value) == busy(tmp_path, "start", pid)
        with pytest.raises(RunDirBusyError), hold_run_dir(tmp_path):
            pass


# -- a lock file that is a FIFO or huge: one line, never a hang or a huge read --------------
LOCKER = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # a huge read fails, not swaps
    from deeprecipe.errors import DeepRecipeError
    from deeprecipe.runs.locks import check_free, hold_run_dir
    for attempt in (lambda: check_free(sys.argv[1]),
                    lambda: hold_run_dir(sys.argv[1]).__enter__()):
        try:
            attempt()
            print("taken")
        except DeepRecipeError as exc:
            print(f"{type(exc).__name__}: {exc}")
""")


def _lockers(run_dir) -> list[str]:
    done = subprocess.run([sys.executable, "-c", LOCKER, str(run_dir)], capture_output=True,
                          text=True, timeout=GUARD)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_lock_file_that_is_a_fifo_is_refused_in_one_line(tmp_path):
    os.mkfifo(tmp_path / ".lock")
    line = (f"CheckpointError: {tmp_path / '.lock'}: is a named pipe (FIFO), not a regular "
            "file; expected the run directory's lock file")
    assert _lockers(tmp_path) == [line, line]


def test_a_huge_lock_file_is_never_read_whole(tmp_path):
    with held_elsewhere(tmp_path):
        os.truncate(tmp_path / ".lock", 2 << 30)  # sparse: no disk used
        lines = _lockers(tmp_path)
    assert len(lines) == 2 and all(line.startswith(
        f"RunDirBusyError: {tmp_path} is in use by another deeprecipe process") for line in lines)
    os.truncate(tmp_path / ".lock", 2 << 30)
    assert _lockers(tmp_path) == ["taken", "taken"]  # free: the holder rewrites it
