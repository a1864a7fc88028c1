"""``deeprecipe tune`` as a whole workflow, run as real subprocesses: a model and a report at
the end, early validation, samplers and pruners, one process per run directory, and SIGKILL
of a two-worker study then ``resume`` (no trial lost or repeated)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from _timeouts import GUARD, wait_until

CLI = [sys.executable, "-m", "deeprecipe.cli"]

TUNE = """\
name = "tiny"
seed = 0

[data]
dataset = "moons"
n_samples = 200

[model]
hidden_layer_sizes = [8]

[training]
epochs = 4
early_stopping = false

[tuning]
n_trials = 4

[tuning.space]
learning_rate = { dist = "log_uniform", low = 1e-3, high = 1e-1 }
hidden_layer_sizes = { dist = "choice", choices = [[8], [16, 8]] }
"""


def _env() -> dict:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1", TERM="dumb", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("FORCE_COLOR", None)
    return env


def cli(*args, cwd: Path, timeout: float = GUARD) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_env())


# the CLI with Optuna and the generator of the moons data unimportable
NO_DATA_NO_OPTUNA = ("import runpy, sys; sys.modules['optuna'] = None; "
                     "sys.modules['sklearn.datasets'] = None; "
                     "sys.argv = ['deeprecipe', *sys.argv[1:]]; "
                     "runpy.run_module('deeprecipe.cli', run_name='__main__')")


def one_line_error(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


def test_tune_ends_with_a_model_a_study_and_a_report(tmp_path):
    (tmp_path / "t.toml").write_text(TUNE, encoding="utf-8")
    res = cli("tune", "t.toml", "--workers", "2", "--out", "runs/t", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run_dir = tmp_path / "runs" / "t"
    for name in ("config.toml", "model.npz", "model.json", "summary.json", "diagnosis.json",
                 "tuning.json", "report.html", "study/journal.log", "study/best_config.toml"):
        assert (run_dir / name).is_file(), name
    study = json.loads((run_dir / "tuning.json").read_text(encoding="utf-8"))
    assert study["states"] == {"COMPLETE": 4} and study["method"] == "random"
    assert sorted(t["round"] for t in study["trials"]) == [1, 1, 1, 1]
    best = study["best"]["params"]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    widths = [layer["n_out"] for layer in summary["network"]["config"]["layers"]
              if layer["type"] == "Dense"]
    assert widths == [*best["hidden_layer_sizes"], 1]  # the final model is the best trial's
    rebuilt = cli("report", "runs/t", cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Hyperparameter tuning" in html and "no tuning study" not in html
    np.save(tmp_path / "x.npy", np.zeros((3, 2), dtype=np.float32))
    pred = cli("predict", "runs/t", "--input", "x.npy", cwd=tmp_path)
    assert pred.returncode == 0, pred.stderr
    assert len(pred.stdout.split()) >= 3


def test_a_bad_space_fails_at_once_in_cli_words_and_blocks_no_rerun(tmp_path):
    bad = TUNE.replace('choices = [[8], [16, 8]]', 'values = [[8], [16, 8]]')
    (tmp_path / "bad.toml").write_text(bad, encoding="utf-8")
    (tmp_path / "typo.toml").write_text(TUNE.replace("learning_rate = {", "learnin_rate = {"),
                                        encoding="utf-8")
    # at once: no data, no Optuna (neither can be imported here, and the error is the same)
    res = subprocess.run([sys.executable, "-c", NO_DATA_NO_OPTUNA, "tune", "bad.toml", "--out",
                          "runs/t"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=GUARD, env=_env())
    line = one_line_error(res)
    assert "values" in line and "choices" in line
    assert not (tmp_path / "runs").exists()  # nothing left behind
    assert "unknown hyperparameter 'learnin_rate'" in one_line_error(
        cli("tune", "typo.toml", "--out", "runs/t", cwd=tmp_path))
    (tmp_path / "tpe.toml").write_text(TUNE, encoding="utf-8")
    assert "--budget" in one_line_error(
        cli("tune", "tpe.toml", "--budget", "ten minutes", "--out", "runs/t", cwd=tmp_path))
    assert "rounds = 2" in one_line_error(cli("tune", "tpe.toml", "--method", "tpe", "--rounds",
                                              "2", "--out", "runs/t", cwd=tmp_path))
    (tmp_path / "bad.toml").write_text(TUNE, encoding="utf-8")  # fixed: the rerun just works
    ok = cli("tune", "bad.toml", "--trials", "2", "--out", "runs/t", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    lines = [ln for ln in ok.stderr.splitlines() if ln.startswith("tuning round 1: trial")]
    assert len(lines) == 2  # no TTY: one log line per trial, with best so far, count and ETA
    assert "| best 0." in lines[1] and "| 2/2 | ETA" in lines[1]
    again = one_line_error(cli("tune", "bad.toml", "--out", "runs/t", cwd=tmp_path))
    assert "--force" in again and "resume" in again


def test_tpe_cmaes_and_the_pruners_run_through_the_cli(tmp_path):
    (tmp_path / "t.toml").write_text(TUNE.replace("epochs = 4", "epochs = 9"), encoding="utf-8")
    runs = {"tpe": ["--method", "tpe", "--prune", "hyperband", "--trials", "8"],
            "cmaes": ["--method", "cmaes", "--prune", "median", "--trials", "8"],
            "sha": ["--prune", "successive_halving", "--trials", "8", "--workers", "2"]}
    procs = {name: subprocess.Popen([*CLI, "tune", "t.toml", "--out", f"runs/{name}", "-q",
                                     *args], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for name, args in runs.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=GUARD)
        assert proc.returncode == 0, (name, err)
        study = json.loads((tmp_path / "runs" / name / "tuning.json").read_text("utf-8"))
        assert len(study["trials"]) == 8, name
        assert study["method"] == {"tpe": "tpe", "cmaes": "cmaes"}.get(name, "random")
        assert study["prune"] == {"tpe": "hyperband", "cmaes": "median"}.get(
            name, "successive_halving")
        assert study["best"]["state"] == "COMPLETE"
    pruned = sum(json.loads((tmp_path / "runs" / n / "tuning.json").read_text("utf-8"))[
        "states"].get("PRUNED", 0) for n in runs)
    assert pruned >= 1


def _complete_folders(run_dir: Path) -> dict[str, int]:
    """{"round-R-trial-IIII": trial number} of the study's COMPLETE trials (read from the
    journal, as optuna-dashboard would)."""
    import optuna

    from deeprecipe.tuning._storage import open_storage

    journal = run_dir / "study" / "journal.log"
    if not journal.exists():
        return {}
    try:
        study = optuna.load_study(study_name="tiny", storage=open_storage(f"journal:{journal}"))
    except KeyError:
        return {}
    return {f"round-{t.user_attrs['round']}-trial-{t.user_attrs['index']:04d}": t.number
            for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"}


def _start_slow_tune(tmp_path: Path) -> subprocess.Popen:
    slow = TUNE.replace("epochs = 4", "epochs = 300\nbatch_size = 4").replace(
        "n_trials = 4", "n_trials = 8")
    (tmp_path / "slow.toml").write_text(slow, encoding="utf-8")
    return subprocess.Popen([*CLI, "tune", "slow.toml", "--workers", "2", "--out", "runs/s",
                             "-q"], cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def test_sigkill_of_tune_workers_2_then_resume_loses_and_repeats_no_trial(tmp_path):
    proc = _start_slow_tune(tmp_path)
    run_dir = tmp_path / "runs" / "s"
    try:
        wait_until(lambda: len(_complete_folders(run_dir)) >= 2, "two complete trials",
                   proc=proc, poll=0.05)
        busy = cli("resume", "runs/s", cwd=tmp_path)  # a second process may not join in
        assert one_line_error(busy) == (
            f"error: runs/s is in use by another deeprecipe process (pid {proc.pid}); wait for "
            "it to finish (or stop it), then `deeprecipe resume runs/s` goes on from where it "
            "ended")
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its two workers
    finally:
        proc.wait()
    before = _complete_folders(run_dir)
    assert 2 <= len(before) < 8
    done = cli("resume", "runs/s", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    study = json.loads((run_dir / "tuning.json").read_text(encoding="utf-8"))
    pairs = Counter((t["round"], t["index"]) for t in study["trials"])
    assert pairs == Counter({(1, i): 1 for i in range(8)})
    assert study["states"] == {"COMPLETE": 8}
    after = {f"round-{t['round']}-trial-{t['index']:04d}": t["number"] for t in study["trials"]}
    assert all(after[name] == number for name, number in before.items())  # kept, not rerun
    assert (run_dir / "model.json").is_file()
