"""Panda: babysit one model in chunks, nudge it, roll back, resume; nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from _cli import _env, assert_one_line_error, cli, cli_many
from _holder import busy, held_elsewhere

from deeprecipe.errors import CheckpointError, DeepRecipeError
from deeprecipe.optimize import checkpoints
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.persistence import load
from deeprecipe.runs.config import config_from_dict, config_to_dict, dump_config
from deeprecipe.runs.locks import RunDirBusyError, check_free
from deeprecipe.tuning import babysit, nudge, resume, rollback, status
from deeprecipe.tuning import panda
from deeprecipe.workflows import resume as resume_workflow
from deeprecipe.workflows import run
from _timeouts import GUARD

STOPPED = "stopped (crashed or killed)"
CONFIG = config_from_dict({"data": {"dataset": "digits", "n_samples": 300},
                           "model": {"hidden_layer_sizes": [8]},
                           "optimizer": {"learning_rate": 0.01}, "training": {"epochs": 6}})


def test_a_panda_session_keeps_both_branches_and_every_event(tmp_path):
    first = babysit(CONFIG, tmp_path, chunks=3, epochs_per_chunk=2)
    assert sorted(first.chunks) == ["1", "2", "3"] and len(first.history) == 6
    assert nudge(tmp_path, scale_learning_rate=0.5)["running"] is False
    assert rollback(tmp_path, chunk=1)["epoch"] == 2
    final = resume(tmp_path, chunks=1)
    assert final.branch != "main" and len(final.history) == 4
    assert [e["kind"] for e in final.history.events] == ["rollback", "nudge"]
    assert [r["learning_rate"] for r in final.history.epochs] == pytest.approx(
        [0.01, 0.01, 0.005, 0.005])
    report = status(tmp_path)
    assert set(report["branches"]) == {"main", final.branch}
    assert len(report["branches"]["main"]["epochs"]) == 6  # the old branch is kept
    assert report["branches"][final.branch]["parent"] == "main"
    assert [e["kind"] for e in report["events"]].count("rollback") == 1
    assert report["pending_nudges"] == [] and report["applied_nudges"] == 1
    ckpt = checkpoints.list_checkpoints(tmp_path / "branches" / "main" / "checkpoints")
    assert len(ckpt) == 6
    model = load(tmp_path / "model")
    _, arrays = checkpoints.load_checkpoint(
        tmp_path / report["branches"][final.branch]["chunks"]["2"]["checkpoint"])
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, arrays[f"param/{name}"])


class _Gate(Callback):
    """Holds training at the end of epoch 2 until the test has written its nudge."""

    def __init__(self) -> None:
        self.reached, self.go = threading.Event(), threading.Event()

    def on_epoch_end(self, trainer, record) -> None:
        if record["epoch"] == 2:
            self.reached.set()
            self.go.wait(timeout=GUARD)


def test_a_nudge_reaches_a_running_babysit_at_the_next_epoch_boundary(tmp_path):
    gate = _Gate()
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault(
        "result", babysit(CONFIG, tmp_path, chunks=2, epochs_per_chunk=2, callbacks=(gate,))))
    worker.start()
    try:
        assert gate.reached.wait(timeout=GUARD)
        assert status(tmp_path)["running"] is not None
        with pytest.raises(RunDirBusyError) as refused:  # the babysit is a thread of ours
            rollback(tmp_path, chunk=1)
        assert str(refused.value) == busy(tmp_path, "rollback")
        sent = nudge(tmp_path, learning_rate=0.002, l2=0.1)
        assert sent["running"] is True
    finally:
        gate.go.set()
        worker.join(timeout=GUARD)
    history = box["result"].history
    (event,) = [e for e in history.events if e["kind"] == "nudge"]
    assert event["epoch"] == 2 and event["changes"]["learning_rate"] == [0.01, 0.002]
    assert [r["learning_rate"] for r in history.epochs] == pytest.approx(
        [0.01, 0.01, 0.002, 0.002])
    assert status(tmp_path)["running"] is None and not list((tmp_path / "nudges").glob("*.json"))


def test_bad_requests_are_clear_errors(tmp_path):
    with pytest.raises(DeepRecipeError, match="no panda session"):
        nudge(tmp_path, learning_rate=0.1)
    babysit(CONFIG, tmp_path, chunks=1, epochs_per_chunk=1)
    with pytest.raises(DeepRecipeError, match="at least one of"):
        nudge(tmp_path)
    with pytest.raises(DeepRecipeError, match="momentum"):
        nudge(tmp_path, beta=0.95)
    with pytest.raises(DeepRecipeError, match=r"has chunks \[1\], got chunk=4"):
        rollback(tmp_path, chunk=4)
    with pytest.raises(DeepRecipeError, match="already holds a panda session"):
        babysit(CONFIG, tmp_path)


# -- #16 ------------------------------------------------------------------------------------
def test_babysit_never_overwrites_a_finished_run_without_force(tmp_path):
    run(CONFIG, tmp_path, report=False)
    before = (tmp_path / "model.npz").read_bytes()
    with pytest.raises(DeepRecipeError, match=f"pass --force .* `deeprecipe resume {tmp_path}`"):
        babysit(CONFIG, tmp_path, chunks=1, epochs_per_chunk=1)
    assert (tmp_path / "model.npz").read_bytes() == before and not (tmp_path / "panda.json"
                                                                    ).exists()
    forced = babysit(CONFIG, tmp_path, chunks=1, epochs_per_chunk=1, force=True)
    assert len(forced.history) == 1 and (tmp_path / "panda.json").exists()
    with pytest.raises(DeepRecipeError, match=f"`deeprecipe resume {tmp_path}`"):
        babysit(CONFIG, tmp_path, chunks=1)
    again = babysit(CONFIG, tmp_path, chunks=2, epochs_per_chunk=1, force=True)
    assert sorted(again.chunks) == ["1", "2"] and status(tmp_path)["active"] == "main"


class _CrashInFinalSave(Exception):
    pass


def test_a_crash_during_the_final_save_resumes_without_an_extra_chunk(tmp_path, monkeypatch):
    babysit(CONFIG, tmp_path / "ref", chunks=2, epochs_per_chunk=2)

    def crash(*args, **kwargs):
        raise _CrashInFinalSave
    monkeypatch.setattr(panda, "_save_run", crash)
    with pytest.raises(_CrashInFinalSave):
        babysit(CONFIG, tmp_path / "cut", chunks=2, epochs_per_chunk=2)
    monkeypatch.undo()
    assert not (tmp_path / "cut" / "model.npz").exists()
    done = resume(tmp_path / "cut")  # finishes the session: no chunk is trained
    assert sorted(done.chunks) == ["1", "2"] and len(done.history) == 4
    for name in ("model.npz",):
        ref = np.load(tmp_path / "ref" / name)
        cut = np.load(tmp_path / "cut" / name)
        for key in ref.files:
            np.testing.assert_array_equal(ref[key], cut[key])
    assert len(resume(tmp_path / "cut").history) == 6  # later: one more chunk, as before


def test_a_reused_pid_does_not_block_resume_or_rollback(tmp_path):
    babysit(CONFIG, tmp_path, chunks=2, epochs_per_chunk=1)
    state = json.loads((tmp_path / "panda.json").read_text())
    # a crashed babysit whose pid now belongs to another (live) process: this one
    state["running"] = {"pid": os.getpid(), "thread": "1-2", "branch": "main",
                        "since": "2020-01-01T00:00:00"}
    (tmp_path / "panda.json").write_text(json.dumps(state))
    assert status(tmp_path)["running"] is None
    assert rollback(tmp_path, chunk=1)["chunk"] == 1
    assert len(resume(tmp_path, chunks=1).history) == 2


def test_a_pending_nudge_follows_a_rollback_and_is_logged_in_panda_json(tmp_path):
    babysit(CONFIG, tmp_path, chunks=2, epochs_per_chunk=1)
    nudge(tmp_path, learning_rate=0.003)
    done = rollback(tmp_path, chunk=1)
    assert "1 pending nudge(s) of 'main' will apply to" in done["message"]
    final = resume(tmp_path, chunks=1)
    assert final.history.epochs[-1]["learning_rate"] == pytest.approx(0.003)
    events = json.loads((tmp_path / "panda.json").read_text())["events"]
    kinds = [e["kind"] for e in events]
    assert "nudge_carried" in kinds and "nudge" in kinds
    (applied,) = [e for e in events if e["kind"] == "nudge"]
    assert applied["branch"] == final.branch and applied["changes"]["learning_rate"][1] == 0.003


@pytest.fixture
def unrelated_process():
    """A live process that is not a babysit (``sleep 30``), ended after the test."""
    proc = subprocess.Popen(["sleep", "30"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_crashed_babysit_s_marker_is_cleared_under_the_lock_even_if_its_pid_lives_on(
        tmp_path, unrelated_process):
    """A crashed babysit's marker (no start time recorded, as an older session wrote it) whose
    pid is now a live unrelated process: the lock is free, so no babysit runs; resume and
    rollback clear the marker and log it, without --force. force=True is accepted and changes
    nothing."""
    babysit(CONFIG, tmp_path, chunks=2, epochs_per_chunk=1)

    def crash_marker() -> None:
        state = json.loads((tmp_path / "panda.json").read_text())
        state["running"] = {"pid": unrelated_process, "thread": "1-2",
                            "branch": state["active"], "since": "2020-01-01T00:00:00"}
        (tmp_path / "panda.json").write_text(json.dumps(state))

    def cleared() -> list[dict]:
        state = json.loads((tmp_path / "panda.json").read_text())
        assert state["running"] is None
        return [e for e in state["events"] if e["kind"] == "stale_marker"]

    crash_marker()
    assert status(tmp_path)["running"] is None  # the lock is free: no babysit runs
    assert status(tmp_path)["babysit"] == STOPPED
    assert rollback(tmp_path, chunk=1)["chunk"] == 1
    (first,) = cleared()
    assert first["pid"] == unrelated_process and "ended without clearing" in first["message"]
    crash_marker()
    assert len(resume(tmp_path, chunks=1).history) == 2
    assert len(cleared()) == 2
    crash_marker()
    assert rollback(tmp_path, chunk=1, force=True)["chunk"] == 1  # accepted, ignored
    crash_marker()
    assert len(resume(tmp_path, chunks=1, force=True).history) == 2
    assert len(cleared()) == 4 and status(tmp_path)["running"] is None


# -- one writer per directory: a babysit holds the run directory's lock, as run does ----------
BABYSITTER = """\
import json, sys
from deeprecipe.optimize.callbacks import Callback
from deeprecipe.runs.config import config_from_dict
from deeprecipe.tuning import babysit


class Hold(Callback):
    def on_epoch_end(self, trainer, record):
        if record["epoch"] == 3:  # chunk 1 is saved, chunk 2 under way: park until told
            print("holding", flush=True)
            sys.stdin.readline()


babysit(config_from_dict(json.loads(sys.argv[2])), sys.argv[1], chunks=2, epochs_per_chunk=2,
        callbacks=(Hold(),))
"""


@pytest.fixture
def live_babysit(tmp_path):
    """(run_dir, process): a real babysit in another process, parked at the end of epoch 3;
    writing a line to its stdin lets it finish."""
    run_dir = tmp_path / "p"
    proc = subprocess.Popen([sys.executable, "-c", BABYSITTER, str(run_dir),
                             json.dumps(config_to_dict(CONFIG))], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout.readline().strip() == "holding"
        yield run_dir, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_live_babysit_refuses_every_other_writer_and_still_takes_nudges(tmp_path,
                                                                          live_babysit):
    run_dir, proc = live_babysit
    (tmp_path / "c.toml").write_text(dump_config(CONFIG), encoding="utf-8")
    writers = {("run", "c.toml", "--out", run_dir, "-q"): "start",
               ("run", "c.toml", "--out", run_dir, "-q", "--force"): "start",
               ("run", "c.toml", "--out", run_dir, "-q", "--resume"): "resume",
               ("babysit", "c.toml", "--out", run_dir, "-q", "--force"): "start",
               ("recipe", "c.toml", "--out", run_dir, "-q", "--force", "--rounds", "1"): "start",
               ("resume", run_dir, "-q"): "resume",
               ("resume", run_dir, "-q", "--force"): "resume",
               ("rollback", run_dir, "--chunk", "1"): "rollback",
               ("rollback", run_dir, "--chunk", "1", "--force"): "rollback"}
    *refused, nudged = cli_many([*writers, ["nudge", run_dir, "--learning-rate", "0.002"]],
                                cwd=tmp_path)
    for (args, action), result in zip(writers.items(), refused, strict=True):
        line = assert_one_line_error(result)
        assert line == "error: " + busy(run_dir, action, proc.pid), args
    assert nudged.returncode == 0, nudged.stderr
    assert nudged.stdout.strip() == (f"nudge queued for {run_dir}: the babysit running (pid "
                                     f"{proc.pid}) applies it at its next epoch boundary")
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert proc.wait(timeout=GUARD) == 0
    state = json.loads((run_dir / "panda.json").read_text())
    assert state["running"] is None and sorted(state["branches"]) == ["main"]
    assert sorted(state["branches"]["main"]["chunks"]) == ["1", "2"]
    kinds = [e["kind"] for e in state["events"]]
    assert kinds.count("babysit") == 1 and "resume" not in kinds and "takeover" not in kinds
    (applied,) = [e for e in state["events"] if e["kind"] == "nudge"]
    assert applied["epoch"] == 3 and applied["changes"]["learning_rate"][1] == 0.002
    assert not (run_dir / "rounds").exists()  # the recipe never started


def _mark(run_dir, pid: int) -> None:
    """panda.json's running marker names ``pid``, as when a crashed babysit's pid is reused by
    another live process."""
    state = json.loads((run_dir / "panda.json").read_text())
    state["running"].update(pid=pid)
    (run_dir / "panda.json").write_text(json.dumps(state))


def test_status_and_nudge_call_a_sigkilled_babysit_stopped_though_its_pid_lives_on(
        tmp_path, live_babysit, unrelated_process):
    run_dir, proc = live_babysit
    assert status(run_dir)["babysit"] == f"running (pid {proc.pid})"
    assert status(run_dir)["running"]["pid"] == proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=GUARD)
    marker = json.loads((run_dir / "panda.json").read_text())["running"]
    assert marker["pid"] == proc.pid
    assert sorted(marker) == ["branch", "pid", "since", "thread"]  # no unread start time
    for pid in (proc.pid, unrelated_process, os.getpid()):  # dead, reused, this very process
        if pid != proc.pid:
            _mark(run_dir, pid)
        report = status(run_dir)
        assert report["running"] is None and report["babysit"] == STOPPED, pid
        sent = nudge(run_dir, learning_rate=0.002)
        assert sent["running"] is False and sent["babysit"] == STOPPED, pid
    done = cli("nudge", run_dir, "--learning-rate", "0.003", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"nudge queued for {run_dir}: its babysit {STOPPED}; "
                                   f"`deeprecipe resume {run_dir}` applies it")


def test_a_babysit_of_this_process_is_running_and_none_is_not_running(tmp_path):
    gate = _Gate()
    worker = threading.Thread(target=babysit, args=(CONFIG, tmp_path),
                              kwargs={"chunks": 1, "epochs_per_chunk": 3, "callbacks": (gate,)})
    worker.start()
    try:
        assert gate.reached.wait(timeout=GUARD)
        assert status(tmp_path)["babysit"] == f"running (pid {os.getpid()})"
        assert nudge(tmp_path, l2=0.1)["babysit"] == f"running (pid {os.getpid()})"
    finally:
        gate.go.set()
        worker.join(timeout=GUARD)
    assert status(tmp_path)["babysit"] == "not running"
    assert nudge(tmp_path, l2=0.2) | {"file": None} == {
        "file": None, "request": {"l2": 0.2}, "running": False, "babysit": "not running"}


def test_a_killed_babysit_leaves_no_lock_behind(tmp_path, live_babysit):
    run_dir, proc = live_babysit
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=GUARD)
    check_free(run_dir)  # the kernel let go with the process: no grace period, no --force
    done = cli("resume", run_dir, "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    state = json.loads((run_dir / "panda.json").read_text())
    assert state["running"] is None and sorted(state["branches"]["main"]["chunks"]) == ["1", "2"]
    assert "takeover" not in [e["kind"] for e in state["events"]]


def test_every_writer_refuses_a_babysat_directory_another_process_holds(tmp_path):
    babysit(CONFIG, tmp_path, chunks=1, epochs_per_chunk=1)
    files = lambda: {p.name: p.read_bytes() for p in tmp_path.iterdir()  # noqa: E731
                     if p.is_file() and p.name != ".lock"}  # .lock: the holder's pid
    before = files()
    with held_elsewhere(tmp_path) as pid:
        for write, action in ((lambda: babysit(CONFIG, tmp_path, chunks=1, force=True), "start"),
                              (lambda: babysit(CONFIG, tmp_path, chunks=1), "start"),
                              (lambda: resume(tmp_path, chunks=1), "resume"),
                              (lambda: resume_workflow(tmp_path, chunks=1), "resume"),
                              (lambda: resume(tmp_path, chunks=1, force=True), "resume"),
                              (lambda: rollback(tmp_path, chunk=1), "rollback"),
                              (lambda: rollback(tmp_path, chunk=1, force=True), "rollback"),
                              (lambda: run(CONFIG, tmp_path, force=True, report=False), "start")):
            with pytest.raises(RunDirBusyError) as info:
                write()
            assert str(info.value) == busy(tmp_path, action, pid)
        assert nudge(tmp_path, scale_learning_rate=0.5)["running"] is False  # only queued
    assert files() == before
    assert len(resume(tmp_path, chunks=1).history) == 2  # free again: the nudge applies


def test_a_corrupt_branch_checkpoint_is_one_line_for_rollback_status_and_resume(tmp_path):
    babysit(CONFIG, tmp_path, chunks=2, epochs_per_chunk=1)
    chunks = json.loads((tmp_path / "panda.json").read_text())["branches"]["main"]["chunks"]
    first, last = (tmp_path / chunks[k]["checkpoint"] for k in ("1", "2"))
    for path in (first, last):
        meta = json.loads(path.read_text())
        meta["history"]["events"] = "none"
        path.write_text(json.dumps(meta))
    wrong = "the checkpoint's history.events must be a list, got 'none'"
    for call, path in ((lambda: rollback(tmp_path, chunk=1), first),
                       (lambda: status(tmp_path), last),
                       (lambda: resume(tmp_path, chunks=1), last)):
        with pytest.raises(CheckpointError) as info:
            call()
        assert str(info.value) == f"{path}: {wrong}"
    state = json.loads((tmp_path / "panda.json").read_text())
    assert sorted(state["branches"]) == ["main"] and state["running"] is None
    assert sorted(p.name for p in (tmp_path / "branches").iterdir()) == ["main"]
