"""Search on the right scale, coarse to fine, with Optuna as the resumable trial store.

Rounds are numbered from 1. Random and grid: trial i of round r is drawn from
``default_rng(SeedSequence([seed, r]).spawn(n_trials)[i])`` (or is grid point i), so its
configuration depends on (seed, r, i) alone: serial, process and Dask runs try the same
configurations. The draws go into the study with ``enqueue_trial`` (user attrs ``round`` and
``index``); the parent process asks, runs (see ``caviar``) and tells. TPE and CMA-ES ask Optuna's
sampler instead, one trial whenever a worker is free. A restarted search counts the finished
(round, index) pairs and runs only the missing ones; trials a killed process left RUNNING are
marked FAIL ("stale") and run again. Round r + 1 samples a box around the best max(2, 20%)
trials of round r, in each dimension's own scale (coarse to fine).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import optuna

from deeprecipe._io import write_json_atomic, write_text_atomic
from deeprecipe._validation import check_choice
from deeprecipe.errors import ConfigError
from deeprecipe.runs import rundir
from deeprecipe.runs.budget import Deadline
from deeprecipe.runs.config import Config, config_to_dict, dump_config
from deeprecipe.runs.folds import kfold_data
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.tuning import caviar
from deeprecipe.tuning._result import StudyResult, importances, trial_row
from deeprecipe.tuning._storage import clean_stale, finished, fingerprint, open_study
from deeprecipe.tuning._ticker import Ticker
from deeprecipe.tuning.hyperparameters import apply, space_to_dict
from deeprecipe.tuning.checks import ADAPTIVE, PRUNERS, check_search
from deeprecipe.tuning.draws import Space, draw, grid_points, zoom_space
from deeprecipe.tuning.samplers import (
    from_optuna,
    make_pruner,
    make_sampler,
    optuna_distribution,
    to_optuna,
)

__all__ = ["tune", "check_search", "StudyResult", "draw", "grid_points", "zoom_space"]


def _as_pruner_name(prune) -> str:
    if prune is True:
        return "median"
    if prune is False or prune is None:
        return "none"
    return check_choice("--prune", prune, PRUNERS)


_RESULT_KEYS = ("curve", "dev_error", "train_error", "dev_cost", "train_cost", "dev_rmse",
                "dev_mae", "n_params", "n_dev", "epochs_run", "error", "seconds",
                "cpu_seconds")


def _job(config: Config, params: dict, r: int, i: int, extra: dict) -> dict:
    return {"config": config_to_dict(config), "params": params, "round": r, "index": i,
            "epochs": config.tuning.epochs, "metric": config.tuning.metric, **extra}


class _Search:
    """One study being run: makes the jobs of a round lazily, tells Optuna the results."""

    def __init__(self, study, config: Config, base: Space, spec: str, study_name: str,
                 runner, deadline: Deadline, verbose: bool, out_dir: Path) -> None:
        self.study, self.config, self.base, self.spec = study, config, base, spec
        self.study_name, self.runner, self.deadline = study_name, runner, deadline
        self.verbose, self.out_dir = verbose, out_dir
        self.fixed = {name: optuna_distribution(d) for name, d in base.items()}
        self.live: dict[tuple, object] = {}
        self.ran, self.stopped = 0, None
        self.durations: list[float] = []

    @property
    def remote(self) -> bool:
        return self.runner.workers > 1 or bool(self.runner.scheduler)

    def _out_of_time(self) -> bool:
        """True when the budget cannot fit one more trial and the retraining of the best."""
        if self.deadline.seconds is None:
            return False
        typical = statistics.median(self.durations) if self.durations else 0.0
        t = self.config.tuning
        final = typical * self.config.training.epochs / (t.epochs or self.config.training.epochs)
        if self.deadline.remaining() <= final + typical / max(1, self.runner.workers):
            self.stopped = "budget"
            return True
        return False

    def _ask(self, r: int, i: int, params: dict | None) -> tuple[object, dict]:
        if params is not None:
            self.study.enqueue_trial(to_optuna(self.base, params),
                                     user_attrs={"round": r, "index": i})
        trial = self.study.ask(self.fixed)
        params = from_optuna(self.base, trial.params)
        if self.config.tuning.method in ADAPTIVE:
            trial.set_user_attr("round", r)
            trial.set_user_attr("index", i)
        trial.set_user_attr("params", params)
        return trial, params

    def jobs(self, space: Space, r: int) -> Iterator[dict]:
        """The unfinished trials of round r, made when a worker is free (TPE/CMA-ES ask then)."""
        t, seed = self.config.tuning, self.config.seed
        done = finished(self.study, r)
        n_points = len(grid_points(space, t.n_trials)) if t.method == "grid" else t.n_trials
        for i in range(n_points):
            if i in done:
                continue
            if self._out_of_time():
                return
            params = None if t.method in ADAPTIVE else draw(space, seed, r, t.n_trials, i,
                                                           t.method)
            trial, params = self._ask(r, i, params)
            self.live[(r, i)] = trial
            extra = {"prune": t.prune}
            if t.prune != "none" and self.remote:
                extra.update(storage=self.spec, study_name=self.study_name,
                             trial_id=trial._trial_id)
            yield _job(self.config, params, r, i, extra)

    def tell(self, result: dict) -> None:
        trial = self.live.pop((result["round"], result["index"]))
        # one journal write: pruned and failed (deterministic) trials are final, not rerun
        trial.set_user_attr("result", {**{k: result.get(k) for k in _RESULT_KEYS},
                                       "final": result["status"] != "complete"})
        if result["status"] == "complete":
            self.study.tell(trial, float(result["value"]))
        else:
            state = "PRUNED" if result["status"] == "pruned" else "FAIL"
            self.study.tell(trial, state=optuna.trial.TrialState[state])
        self.ran += 1

    def run_round(self, space: Space, r: int) -> None:
        t = self.config.tuning
        total = len(grid_points(space, t.n_trials)) if t.method == "grid" else t.n_trials
        todo = total - len(finished(self.study, r))
        with Ticker(todo, f"tuning round {r}", self.verbose, t.metric) as ticker:
            for result in self.runner.run(self.jobs(space, r),
                                          trials=self.live if t.prune != "none" else None,
                                          ahead=0 if t.method in ADAPTIVE else 1):
                start = time.monotonic()
                self.tell(result)
                self.durations.append(result.get("seconds") or time.monotonic() - start)
                values = [tr.value for tr in self.study.get_trials(
                    deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
                ticker.tick(result, min(values) if values else None)


def _write_trial(out_dir: Path, config: Config, row: dict) -> None:
    """trials/round-R-trial-IIII/: trial.json (metrics, curve) and its config.toml."""
    folder = out_dir / rundir.TRIALS / f"round-{row['round']}-trial-{row['index']:04d}"
    write_json_atomic(folder / "trial.json", row)
    epochs = {"epochs": config.tuning.epochs} if config.tuning.epochs else {}
    write_text_atomic(folder / rundir.CONFIG, dump_config(apply(config, {**row["params"],
                                                                          **epochs})))


def _next_space(study, space: Space, seed: int, r: int, n_trials: int, margin: float,
                method: str) -> Space:
    """Round r's space: round r - 1's zoomed to its best max(2, 20%) completed trials."""
    done = sorted((tr for tr in finished(study, r - 1).values() if tr.state.name == "COMPLETE"),
                  key=lambda tr: (tr.value, tr.user_attrs["index"]))
    if not done:
        return space
    k = max(2, math.ceil(0.2 * n_trials))
    top = [draw(space, seed, r - 1, n_trials, tr.user_attrs["index"], method)
           for tr in done[:k]]
    return zoom_space(space, top, margin)


def _study_spec(out_dir: Path, storage: str | None, resume: bool) -> str:
    if storage is not None:
        return storage
    path = out_dir / rundir.JOURNAL
    if path.exists() and not resume:  # set aside, never deleted
        path.rename(out_dir / f"journal-{time.strftime('%Y%m%d-%H%M%S')}.log")
    return f"journal:{path.resolve()}"


def tune(config: Config, *, run_dir: str | Path, data=None, n_trials: int | None = None,
         rounds: int | None = None, workers: int | None = None, scheduler: str | None = None,
         space: dict | None = None, seed: int | None = None, prune: str | bool | None = None,
         verbose: bool = False, resume: bool = True, storage: str | None = None,
         study_name: str | None = None, margin: float = 0.1, method: str | None = None,
         metric: str | None = None, deadline: Deadline | None = None) -> StudyResult:
    """The study only: search, record the trials in ``run_dir``, return them (no final model;
    ``dr.tune`` / ``deeprecipe tune`` also retrain the best, see ``workflows.tune``).

    Parameters
    ----------
    config : the base Config; unset arguments come from ``config.tuning``.
    run_dir : folder of the study (journal.log, best_config.toml, study.json, trials/).
    data : PreparedData to reuse (the forked workers inherit it); with ``[split] folds`` the
        k folds are made from the config.
    n_trials, rounds : trials per round; rounds > 1 is coarse to fine (random and grid).
    method : "random" (default, as the notes argue), "grid" (at most n_trials points), "tpe" or
        "cmaes" (Optuna's samplers). prune : "median", "successive_halving", "hyperband" or
        "none", on dev error per epoch. metric : dev_error (default), dev_cost, dev_rmse,
        dev_mae. workers, scheduler : local processes, or a Dask scheduler ("caviar").
    space : {name: Distribution or TOML table}; default ``config.tuning.space`` or the
        default space. seed : default ``config.seed``.
    resume : continue the study in run_dir (False: set an old journal aside, start anew).
    storage : an Optuna storage URL instead of the journal file in run_dir.
    deadline : stop starting trials when the budget cannot fit one more and the retraining.

    Returns
    -------
    StudyResult (``extra``: "ran" trials run now, "stopped" = "budget" or None, "importance")

    Raises
    ------
    ConfigError : unknown hyperparameter, bad space, n_trials < 1, another config or data
        than the study was started with.
    SchedulerUnreachableError : the scheduler address did not answer within seconds.
    """
    start = time.perf_counter()
    t = original = config.tuning
    overrides = {"n_trials": n_trials, "rounds": rounds, "workers": workers,
                 "scheduler": scheduler, "method": method, "metric": metric,
                 "prune": None if prune is None else _as_pruner_name(prune)}
    config = dataclasses.replace(config, seed=config.seed if seed is None else seed,
                                 tuning=dataclasses.replace(t, **{
                                     k: v for k, v in overrides.items() if v is not None}))
    t = config.tuning
    base = check_search(config, space)
    if config.split.folds:
        data = kfold_data(config)
    elif data is None:
        data = prepare_data(config, check_distribution=False)
    task = (data[0] if isinstance(data, list) else data).task
    if t.metric in ("dev_rmse", "dev_mae") and task != "regression":
        raise ConfigError(f"metric {t.metric!r} needs a regression data set, and this one is "
                          f"for {task}; use dev_error or dev_cost")
    out_dir = Path(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = _study_spec(out_dir, storage, resume)
    study_name = study_name or config.name
    setup = {**fingerprint(config, data), "space": space_to_dict(base), "margin": margin}
    study = open_study(spec, study_name, make_sampler(t.method, config.seed),
                       make_pruner(t.prune, t.epochs or config.training.epochs), setup)
    clean_stale(study)
    spaces = [base]
    warm = _job(config, draw(base, config.seed, 1, t.n_trials, 0, "random"), 1, 0, {})
    with caviar.Runner(t.workers, t.scheduler, data, warm=warm) as runner:
        if runner.workers > 1 or runner.scheduler:  # idle here while workers train: load
            threading.Thread(target=importances, args=(None, 0), daemon=True).start()  # now
        search = _Search(study, config, base, spec, study_name, runner,
                         deadline or Deadline(None), verbose, out_dir)
        for r in range(1, t.rounds + 1):
            if r > 1:
                spaces.append(_next_space(study, spaces[-1], config.seed, r, t.n_trials,
                                          margin, t.method))
            study.set_user_attr(f"space_round_{r}", space_to_dict(spaces[-1]))
            search.run_round(spaces[-1], r)
            if search.stopped:
                break
    where = {"workers": original.workers, "scheduler": original.scheduler}  # not the study's
    config = dataclasses.replace(config, tuning=dataclasses.replace(config.tuning, **where))
    return _finish(study, config, spaces, out_dir, spec, study_name, search, start)


def _finish(study, config: Config, spaces: list, out_dir: Path, spec: str, study_name: str,
            search: _Search, start: float) -> StudyResult:
    rows = {}
    for r in range(1, len(spaces) + 1):
        for tr in finished(study, r).values():
            rows[(r, tr.user_attrs["index"])] = trial_row(tr)
    extra = {"ran": search.ran, "stopped": search.stopped,
             "start_cpu_seconds": search.runner.start_cpu_seconds,
             "importance": importances(study, config.seed)}
    result = StudyResult(config, [rows[key] for key in sorted(rows)],
                         [space_to_dict(s) for s in spaces], out_dir, spec, study_name,
                         config.seed, config.tuning.n_trials, config.tuning.epochs,
                         time.perf_counter() - start, extra)
    for row in result.trials:
        _write_trial(out_dir, config, row)
    if result.completed:
        write_text_atomic(out_dir / rundir.BEST_CONFIG, result.best_config_toml())
    write_json_atomic(out_dir / rundir.STUDY_JSON, result.to_dict())
    return result
