"""``deeprecipe recipe``: a time budget, and a recipe killed with SIGKILL that resumes to the
same rounds and decisions as an uninterrupted one (real subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from _timeouts import GUARD, wait_until

CLI = [sys.executable, "-m", "deeprecipe.cli"]
CONFIG = """name = "r"
seed = 0
[data]
dataset = "digits"
[model]
hidden_layer_sizes = [16]
[optimizer]
learning_rate = 0.01
[training]
epochs = {epochs}
batch_size = "full"
early_stopping = false
"""


def _env() -> dict:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    env.pop("FORCE_COLOR", None)
    return env


def _cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=GUARD, env=_env())


def _rounds(run_dir: Path) -> list[dict]:
    doc = json.loads((run_dir / "recipe.json").read_text(encoding="utf-8"))
    return [{k: v for k, v in r.items() if k != "seconds"} for r in doc["rounds"]]


def test_budget_stops_the_recipe_cleanly(tmp_path):
    (tmp_path / "r.toml").write_text(CONFIG.format(epochs=100_000), encoding="utf-8")
    res = _cli("recipe", "r.toml", "--budget", "6s", "--out", "b", "--quiet", "--folds", "1",
               cwd=tmp_path)  # on the dev set: every round runs until the budget cuts it
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "b" / "recipe.json").read_text(encoding="utf-8"))
    assert doc["stop_reason"] == "time budget of 6s reached"
    assert (tmp_path / "b" / "model.npz").is_file()
    bad = _cli("recipe", "r.toml", "--budget", "10x", "--out", "c", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "--budget must be a positive duration such as 90s, 10m or 1h" in bad.stderr


def test_small_data_is_cross_validated_within_the_budget(tmp_path):
    """The default --folds auto: digits' 359 dev images -> 5 folds, and the budget holds."""
    (tmp_path / "r.toml").write_text(CONFIG.format(epochs=100_000), encoding="utf-8")
    res = _cli("recipe", "r.toml", "--budget", "6s", "--out", "cv", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "cv" / "recipe.json").read_text(encoding="utf-8"))
    assert doc["folds"] == 5 and "5-fold cross-validation" in doc["narrative"][0]
    assert "--folds 1 turns it off" in res.stderr
    assert all(r["evidence"]["cv_error"] is not None for r in doc["rounds"])
    clock = json.loads((tmp_path / "cv" / "rounds" / "clock.json").read_text(encoding="utf-8"))
    assert clock["spent"] < 2 * 6  # the recipe's own clock (rounds and searches): the budget
    # plus at most the epoch that crossed it, whatever the machine's load did to start-up
    for bad in ("0", "x", "-3", "2.5"):
        res = _cli("recipe", "r.toml", "--folds", bad, "--out", "bad", cwd=tmp_path)
        assert res.returncode == 2 and res.stderr.strip().count("\n") == 0, res.stderr
        assert "--folds takes auto, 1 (judge on the dev set) or a number k >= 2" in res.stderr
        assert not (tmp_path / "bad").exists()


def test_a_recipe_killed_mid_round_resumes_to_the_same_decisions(tmp_path):
    (tmp_path / "r.toml").write_text(CONFIG.format(epochs=120), encoding="utf-8")
    args = ("r.toml", "--rounds", "2", "--quiet")
    proc = subprocess.Popen([*CLI, "recipe", *args, "--out", "killed"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    round_2 = tmp_path / "killed" / "rounds" / "02" / "checkpoints"
    try:
        wait_until(lambda: any(round_2.glob("epoch-*.json")), "round 2's first checkpoint",
                   proc=proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed" / "recipe.json").exists()  # killed before it ended
    resumed = _cli("resume", "killed", "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    reference = _cli("recipe", *args, "--out", "ref", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    assert _rounds(tmp_path / "killed") == _rounds(tmp_path / "ref")
    assert len(_rounds(tmp_path / "ref")) == 2


def test_targets_from_the_command_line(tmp_path):
    """Loose targets make the baseline 'ok' (one round); a bad target is one line, exit 2."""
    (tmp_path / "r.toml").write_text(CONFIG.format(epochs=30), encoding="utf-8")
    res = _cli("recipe", "r.toml", "--bias-target", "0.9", "--variance-target", "0.9",
               "--out", "t", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "t" / "recipe.json").read_text(encoding="utf-8"))
    assert doc["targets"] == {"avoidable_bias": 0.9, "variance": 0.9}
    assert len(doc["rounds"]) == 1 and doc["stop_reason"] == "both gaps are under the targets"
    bad = _cli("recipe", "r.toml", "--bias-target", "2", "--out", "u", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "bias_target" in bad.stderr and not (tmp_path / "u").exists()
