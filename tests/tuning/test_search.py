"""Random search: reproducible draws, coarse to fine, resume after a kill, pruning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter

import numpy as np
import pytest

from deeprecipe.errors import ConfigError
from deeprecipe.runs.config import config_from_dict, load_config
from deeprecipe.tuning import IntUniform, LogUniform, StudyResult, tune
from _timeouts import GUARD, wait_until

SPACE = {"learning_rate": LogUniform(1e-3, 1.0), "hidden_units": IntUniform(2, 16)}
TINY = {"data": {"dataset": "moons", "n_samples": 300}, "model": {"hidden_layer_sizes": [8]},
        "training": {"epochs": 5, "early_stopping": False}}


def _config(**tuning):
    return config_from_dict({**TINY, "tuning": {"n_trials": 6, **tuning}})


def _configs(result: StudyResult):
    return [(t["round"], t["index"], t["params"]) for t in result.trials]


def test_same_seed_gives_the_same_trials_and_best(tmp_path):
    a = tune(_config(), run_dir=tmp_path / "a", space=SPACE, seed=3)
    b = tune(_config(), run_dir=tmp_path / "b", space=SPACE, seed=3)
    c = tune(_config(), run_dir=tmp_path / "c", space=SPACE, seed=4)
    assert _configs(a) == _configs(b) and len(a.trials) == 6
    assert [t["dev_error"] for t in a.trials] == [t["dev_error"] for t in b.trials]
    assert a.best["params"] == b.best["params"] and a.best_config == b.best_config
    assert _configs(a) != _configs(c)
    assert a.leaderboard(3)[0]["dev_error"] == a.best["dev_error"]
    # every trial is on the leaderboard; its order is the selection's (ties within the dev
    # set's noise go to the lower dev cost, then the smaller model: tuning._select)
    assert sorted(r["dev_error"] for r in a.leaderboard()) == sorted(
        t["dev_error"] for t in a.trials)


@pytest.mark.parametrize("metric", ["dev_rmse", "dev_mae"])
def test_a_regression_metric_on_classes_is_refused_before_any_trial(tmp_path, metric):
    with pytest.raises(ConfigError, match=f"metric '{metric}' needs a regression data set, "
                                          "and this one is for classification"):
        tune(_config(metric=metric), run_dir=tmp_path / "run", space=SPACE)
    assert not (tmp_path / "run").exists()  # nothing to clean up before the rerun


def test_a_regression_metric_ranks_a_regression_study(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    np.savez(tmp_path / "reg.npz", X=X, y=X @ np.array([1.0, -2.0, 0.5]) + 0.1)
    config = config_from_dict({**TINY, "data": {"dataset": str(tmp_path / "reg.npz")},
                               "tuning": {"n_trials": 3, "metric": "dev_rmse"}})
    result = tune(config, run_dir=tmp_path / "run", space=SPACE)
    rmse = [t["dev_rmse"] for t in result.trials]
    assert all(r > 0 for r in rmse) and result.best["dev_rmse"] == min(rmse)


def test_coarse_to_fine_rounds_are_visible_and_narrower(tmp_path):
    result = tune(_config(rounds=2), run_dir=tmp_path, space=SPACE, seed=0)
    assert Counter(t["round"] for t in result.trials) == {1: 6, 2: 6}  # rounds count from 1
    coarse, fine = (LogUniform.from_dict(s["learning_rate"]) for s in result.spaces)
    assert coarse.low <= fine.low and fine.high <= coarse.high
    assert fine.bounds[1] - fine.bounds[0] < coarse.bounds[1] - coarse.bounds[0]
    assert all(fine.low <= t["params"]["learning_rate"] <= fine.high
               for t in result.trials if t["round"] == 2)
    summary = result.to_dict()
    assert summary["rounds"] == 2 and len(summary["spaces"]) == 2
    assert all(len(t["curve"]["dev_error"]) == 5 for t in summary["trials"])


def test_best_config_toml_runs_as_is(tmp_path):
    result = tune(_config(), run_dir=tmp_path, space=SPACE, seed=1)
    loaded = load_config(tmp_path / "best_config.toml")
    assert loaded == result.best_config
    assert loaded.optimizer.learning_rate == result.best["params"]["learning_rate"]
    assert loaded.model.hidden_layer_sizes == [result.best["params"]["hidden_units"]]
    assert loaded.tuning.n_trials == 0  # running it trains, it does not search again


def test_pruning_stops_hopeless_trials(tmp_path):
    config = config_from_dict({**TINY, "training": {"epochs": 8, "early_stopping": False},
                               "tuning": {"n_trials": 12}})
    result = tune(config, run_dir=tmp_path, space=SPACE, seed=0, prune=True)
    states = Counter(t["state"] for t in result.trials)
    assert states["PRUNED"] >= 1 and states["COMPLETE"] >= 5
    assert sum(states.values()) == 12
    pruned = next(t for t in result.trials if t["state"] == "PRUNED")
    assert len(pruned["curve"]["dev_error"]) < 8


SCRIPT = textwrap.dedent("""
    import sys
    from deeprecipe.runs.config import config_from_dict
    from deeprecipe.tuning import IntUniform, LogUniform, tune
    config = config_from_dict({
        "data": {"dataset": "moons", "n_samples": 300}, "model": {"hidden_layer_sizes": [8]},
        "training": {"epochs": int(sys.argv[2]), "batch_size": 8, "early_stopping": False},
        "tuning": {"n_trials": 8}})
    tune(config, run_dir=sys.argv[1], seed=0,
         space={"learning_rate": LogUniform(1e-3, 1e-1), "hidden_units": IntUniform(2, 16)})
""")


def _trials(run_dir):
    import optuna

    from deeprecipe.tuning._storage import open_storage

    path = run_dir / "journal.log"
    if not path.exists():
        return []
    storage = open_storage(f"journal:{path}")
    try:
        study = optuna.load_study(study_name="run", storage=storage)
    except KeyError:
        return []
    return study.get_trials(deepcopy=False)


def test_resume_after_a_kill_keeps_every_finished_trial_once(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    run_dir = tmp_path / "study"
    proc = subprocess.Popen([sys.executable, str(script), str(run_dir), "150"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: any(t.state.name == "COMPLETE" for t in _trials(run_dir)),
                   "a complete trial", proc=proc, poll=0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    before = {(t.user_attrs["round"], t.user_attrs["index"]): t.number
              for t in _trials(run_dir) if t.state.name == "COMPLETE"}
    assert 1 <= len(before) < 8
    done = subprocess.run([sys.executable, str(script), str(run_dir), "150"],
                          capture_output=True, timeout=GUARD)
    assert done.returncode == 0, done.stderr.decode()
    complete = [t for t in _trials(run_dir) if t.state.name == "COMPLETE"]
    pairs = Counter((t.user_attrs["round"], t.user_attrs["index"]) for t in complete)
    assert pairs == Counter({(1, i): 1 for i in range(8)})
    after = {(t.user_attrs["round"], t.user_attrs["index"]): t.number for t in complete}
    assert all(after[key] == number for key, number in before.items())  # kept, not rerun
    assert load_config(run_dir / "best_config.toml").tuning.n_trials == 0


def test_a_changed_search_does_not_silently_mix_with_the_old_one(tmp_path):
    tune(_config(), run_dir=tmp_path, space=SPACE, seed=0)
    with pytest.raises(ConfigError, match="another configuration .*seed.* differ.*--force"):
        tune(_config(), run_dir=tmp_path, space=SPACE, seed=1)
    fresh = tune(_config(), run_dir=tmp_path, space=SPACE, seed=1, resume=False)
    assert len(fresh.trials) == 6 and len(list(tmp_path.glob("journal-*.log"))) == 1


def test_every_trial_gets_a_folder_with_its_config(tmp_path):
    from deeprecipe.runs.config import config_from_dict, load_config
    from deeprecipe.tuning import tune

    cfg = config_from_dict({"data": {"dataset": "moons", "n_samples": 150},
                            "model": {"hidden_layer_sizes": [4]},
                            "training": {"epochs": 2, "early_stopping": False},
                            "tuning": {"n_trials": 2, "space": {
                                "learning_rate": {"dist": "log_uniform", "low": 1e-3,
                                                  "high": 1e-1}}}})
    study = tune(cfg, run_dir=tmp_path / "study")
    folders = sorted((tmp_path / "study" / "trials").iterdir())
    assert [f.name for f in folders] == ["round-1-trial-0000", "round-1-trial-0001"]
    for folder, row in zip(folders, study.trials, strict=True):
        trial_cfg = load_config(folder / "config.toml")
        assert trial_cfg.optimizer.learning_rate == pytest.approx(row["params"]["learning_rate"])
        assert (folder / "trial.json").exists()


def test_grid_search_is_available_on_each_dimension_s_own_scale(tmp_path):
    from deeprecipe.runs.config import config_from_dict
    from deeprecipe.tuning import Choice, tune
    from deeprecipe.tuning.search import grid_points

    cfg = config_from_dict({"data": {"dataset": "moons", "n_samples": 150},
                            "model": {"hidden_layer_sizes": [4]},
                            "training": {"epochs": 2, "early_stopping": False},
                            "tuning": {"n_trials": 7, "method": "grid", "space": {
                                "learning_rate": {"dist": "log_uniform", "low": 1e-3,
                                                  "high": 1e-1},
                                "batch_size": {"dist": "choice", "choices": [32, 64]}}}})
    study = tune(cfg, run_dir=tmp_path / "study")
    tried = sorted((t["params"]["learning_rate"], t["params"]["batch_size"])
                   for t in study.trials)
    assert len(tried) == 6  # 3 learning rates x 2 batch sizes fit in 7 trials
    assert [lr for lr, _ in tried[::2]] == pytest.approx([1e-3, 1e-2, 1e-1])  # log scale
    assert {bs for _, bs in tried} == {32, 64}
    with pytest.raises(ConfigError, match="grid search needs n_trials >= 4"):
        grid_points({"a": Choice((1, 2)), "b": Choice((3, 4))}, 3)
