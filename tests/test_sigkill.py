"""SIGKILL suite (#16): ``run``, ``recipe`` and ``babysit`` are killed at seeded random
moments, some of them inside atomic writes (DEEPRECIPE_TEST_WRITE_DELAY stretches every write),
then resumed; each ends bit for bit where an uninterrupted run ends, and nothing hangs (every
process has a hang guard, tests/_timeouts.py).

A kill before the first file leaves nothing to resume: then the original command is run
again, as a user would. Any other refusal of ``resume`` is a lost run and fails the test.
Bounded: DEEPRECIPE_SIGKILL_TRIALS kills per command (default 2).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _timeouts import GUARD

CLI = [sys.executable, "-m", "deeprecipe.cli"]
TRIALS = int(os.environ.get("DEEPRECIPE_SIGKILL_TRIALS", "2"))

CONFIG = """\
name = "k"
seed = 3

[data]
dataset = "moons"
n_samples = 400

[model]
hidden_layer_sizes = [16, 8]

[optimizer]
learning_rate = 0.01

[training]
epochs = 12
batch_size = 32
early_stopping = false
"""

COMMANDS = {
    "run": ["run", "c.toml", "-q"],
    "recipe": ["recipe", "c.toml", "--rounds", "2", "-q"],
    "babysit": ["babysit", "c.toml", "--chunks", "3", "-q"],
}


def _env(delay: float = 0.0) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NO_COLOR="1", TERM="dumb")
    env.pop("DEEPRECIPE_TEST_WRITE_DELAY", None)
    if delay:
        env["DEEPRECIPE_TEST_WRITE_DELAY"] = str(delay)
    return env


def _cli(args, cwd: Path, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=GUARD, env=env or _env())


def _model(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / "model.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def references(tmp_path_factory) -> dict[str, tuple[dict, float]]:
    """{command: (model arrays, seconds)} of uninterrupted runs."""
    refs = {}
    for name, args in COMMANDS.items():
        home = tmp_path_factory.mktemp(f"ref-{name}")
        (home / "c.toml").write_text(CONFIG, encoding="utf-8")
        t0 = time.monotonic()
        done = _cli([*args, "--out", home / "r"], home)
        assert done.returncode == 0, done.stderr
        refs[name] = (_model(home / "r"), time.monotonic() - t0)
    return refs


def _kill_at(args, cwd: Path, seconds: float, delay: float) -> bool:
    """Start the command and SIGKILL it after ``seconds``; False if it had already ended."""
    proc = subprocess.Popen([*CLI, *map(str, args)], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=_env(delay))
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=GUARD)
        return True


def _finished_babysit(run_dir: Path) -> bool:
    """A babysit killed after its session ended (only its report left to write): resuming
    it would train one more chunk, so it needs none."""
    panda = run_dir / "panda.json"
    return (panda.exists() and json.loads(panda.read_text())["target"] is None
            and (run_dir / "model.npz").exists())


def _resume(args, cwd: Path, run_dir: Path) -> subprocess.CompletedProcess:
    if _finished_babysit(run_dir):
        return subprocess.CompletedProcess(args, 0, "", "")
    done = _cli(["resume", run_dir, "-q"], cwd)
    if done.returncode == 2 and "nothing to resume" in done.stderr:
        done = _cli([*args, "--out", run_dir], cwd)  # killed before it wrote anything
    return done


@pytest.mark.parametrize("command", list(COMMANDS))
def test_killed_at_random_moments_resumes_bit_for_bit(tmp_path, references, command):
    reference, seconds = references[command]
    rng = np.random.default_rng(16 + list(COMMANDS).index(command))
    (tmp_path / "c.toml").write_text(CONFIG, encoding="utf-8")
    killed = 0
    for trial in range(TRIALS):
        delay = float(rng.choice([0.0, 0.02]))  # half the trials stretch every write
        at = float(rng.uniform(0.3, 0.95) * seconds * (1.5 if delay else 1.0))
        args = COMMANDS[command]
        for attempt in range(4):  # it ended first (the machine sped up): kill it earlier
            run_dir = tmp_path / f"t{trial}-{attempt}"
            if _kill_at([*args, "--out", run_dir], tmp_path, at, delay):
                break
            at /= 2
        else:
            continue
        killed += 1
        done = _resume(args, tmp_path, run_dir)
        assert done.returncode == 0, (trial, at, delay, done.stderr)
        assert "Traceback" not in done.stderr
        resumed = _model(run_dir)
        assert sorted(resumed) == sorted(reference)
        for key, value in reference.items():
            np.testing.assert_array_equal(resumed[key], value, err_msg=f"{command} trial "
                                          f"{trial} killed at {at:.2f}s: {key} differs")
    assert killed >= 1, "no trial was killed before it finished: the kill times are too late"


def test_killed_twice_in_a_row_still_resumes(tmp_path, references):
    """A kill of the resume itself (the second crash) loses nothing either."""
    reference, seconds = references["run"]
    (tmp_path / "c.toml").write_text(CONFIG, encoding="utf-8")
    run_dir = tmp_path / "r"
    _kill_at([*COMMANDS["run"], "--out", run_dir], tmp_path, 0.6 * seconds, 0.0)
    if (run_dir / "config.toml").exists():
        _kill_at(["resume", run_dir, "-q"], tmp_path, 0.5 * seconds, 0.02)
    done = _resume(COMMANDS["run"], tmp_path, run_dir)
    assert done.returncode == 0, done.stderr
    for key, value in reference.items():
        np.testing.assert_array_equal(_model(run_dir)[key], value)
