"""Random search on the right scale, coarse to fine, with Optuna as the resumable trial store.

Trial i of round r is drawn from ``default_rng(SeedSequence([seed, r]).spawn(n_trials)[i])``,
so its configuration depends on (seed, r, i) alone: serial, process and Dask runs try the same
configurations. The draws go into the study with ``enqueue_trial`` (user attrs ``round`` and
``index``); the parent process asks, runs (see ``caviar``) and tells. A restarted search counts
the finished (round, index) pairs and runs only the missing ones; trials a killed process left
RUNNING are marked FAIL ("stale") and run again. Round r + 1 samples a box around the best
max(2, 20%) trials of round r, in each dimension's own scale (coarse to fine).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
import optuna.distributions as od

from deeprecipe._io import write_json_atomic, write_text_atomic
from deeprecipe._progress import progress_bar
from deeprecipe._validation import check_choice
from deeprecipe.errors import ConfigError, DeepRecipeError
from deeprecipe.runs import rundir
from deeprecipe.runs.config import Config, config_to_dict, dump_config
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.tuning import caviar
from deeprecipe.tuning.hyperparameters import apply, space_from_config, space_to_dict
from deeprecipe.tuning.spaces import Choice, Distribution, IntUniform, LogUniform

__all__ = ["tune", "StudyResult", "draw", "zoom_space"]

Space = dict[str, Distribution]


def draw(space: Space, seed: int, round_: int, n_trials: int, index: int,
         method: str = "random") -> dict:
    """Trial ``index``'s configuration: one draw per dimension, in the space's order (random),
    or point ``index`` of ``grid_points`` (grid)."""
    if method == "grid":
        return grid_points(space, n_trials)[index]
    child = np.random.SeedSequence([seed, round_]).spawn(n_trials)[index]
    rng = np.random.default_rng(child)
    return {name: dist.sample(rng) for name, dist in space.items()}


def grid_points(space: Space, n_trials: int) -> list[dict]:
    """A full grid of at most ``n_trials`` points, each axis on its own scale.

    Every option of a Choice is kept; the numeric dimensions get levels raised one at a time,
    in the space's order of importance, while the grid still fits (one level is the middle of
    the range). With d dimensions a grid tries only about n**(1/d) values of each: the notes'
    reason to prefer random search, which tries n.

    >>> from deeprecipe.tuning import Choice, LogUniform
    >>> [p["learning_rate"] for p in grid_points({"learning_rate": LogUniform(1e-3, 1e-1),
    ...                                           "batch_size": Choice((32, 64))}, 6)][::2]
    [0.001, 0.01, 0.1]
    """
    options = {name: d.grid() for name, d in space.items() if not d.numeric}
    fixed = math.prod(len(v) for v in options.values())
    if n_trials < fixed:
        raise ConfigError(f"grid search needs n_trials >= {fixed} (every combination of the "
                          f"Choice options), got {n_trials}")
    levels = {name: 1 for name, d in space.items() if d.numeric}
    grew = True
    while grew:
        grew = False
        for name in levels:
            if fixed * math.prod(levels.values()) // levels[name] * (levels[name] + 1) \
                    <= n_trials:
                levels[name] += 1
                grew = True
    axes = {name: options[name] if name in options else
            list(dict.fromkeys(d.grid(levels[name]) if levels[name] > 1 else d.grid(3)[1:2]))
            for name, d in space.items()}
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def zoom_space(space: Space, top_params: list[dict], margin: float = 0.1) -> Space:
    """Each numeric dimension narrowed to the box around ``top_params`` (Choice kept)."""
    return {name: (dist.zoom([p[name] for p in top_params], margin) if dist.numeric else dist)
            for name, dist in space.items()}


def _optuna_distribution(dist: Distribution):
    if isinstance(dist, Choice):
        return od.CategoricalDistribution(dist.options)
    if isinstance(dist, IntUniform):
        return od.IntDistribution(dist.low, dist.high, log=dist.log)
    return od.FloatDistribution(dist.low, dist.high, log=isinstance(dist, LogUniform))


@dataclass
class StudyResult:
    """The trials of a search (sorted by round, index), the best one and its Config."""

    config: Config
    trials: list[dict]
    spaces: list[dict]
    run_dir: Path
    storage: str
    study_name: str
    seed: int
    n_trials: int
    epochs: int | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def completed(self) -> list[dict]:
        return [t for t in self.trials if t["state"] == "COMPLETE"]

    @property
    def best(self) -> dict:
        """The completed trial with the lowest dev error (ties: earliest round, index)."""
        done = self.completed
        if not done:
            raise DeepRecipeError("no trial of the study completed; look at the trials' "
                                  "'error' entries (diverged? try a smaller learning_rate)")
        return min(done, key=lambda t: (t["dev_error"], t["round"], t["index"]))

    @property
    def best_config(self) -> Config:
        """The base config with the best params, and no further tuning (ready to run)."""
        cfg = apply(self.config, self.best["params"])
        return dataclasses.replace(cfg, tuning=dataclasses.replace(cfg.tuning, n_trials=0))

    def leaderboard(self, k: int = 10) -> list[dict]:
        """The k best completed trials, best first: rank, round, index, dev/train error, params."""
        rows = sorted(self.completed, key=lambda t: (t["dev_error"], t["round"], t["index"]))
        return [{"rank": n + 1, **{key: t[key] for key in ("number", "round", "index",
                                                          "dev_error", "train_error",
                                                          "params")}}
                for n, t in enumerate(rows[:k])]

    def best_config_toml(self) -> str:
        """TOML of ``best_config`` (also written to run_dir/best_config.toml)."""
        return dump_config(self.best_config)

    def to_dict(self) -> dict:
        """JSON-able summary for the report: trials with curves, per-round spaces, best."""
        best = self.best if self.completed else None
        states: dict[str, int] = {}
        for t in self.trials:
            states[t["state"]] = states.get(t["state"], 0) + 1
        return {"study_name": self.study_name, "storage": self.storage, "seed": self.seed,
                "n_trials": self.n_trials, "rounds": len(self.spaces), "epochs": self.epochs,
                "spaces": self.spaces, "states": states, "trials": self.trials,
                "best": best, "leaderboard": self.leaderboard(),
                "best_config": config_to_dict(self.best_config) if best else None,
                "seconds": self.seconds}


def _state(t) -> str:
    return t.state.name


def _finished(study, round_: int) -> dict[int, object]:
    """index -> the finished trial of ``round_`` (COMPLETE, PRUNED, or FAIL that is final)."""
    out: dict[int, object] = {}
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        if a.get("round") != round_ or "index" not in a:
            continue
        final = _state(t) in ("COMPLETE", "PRUNED") or (_state(t) == "FAIL"
                                                        and a.get("final"))
        if final and a["index"] not in out:
            out[a["index"]] = t
    return out


def _clean_stale(study) -> int:
    """Mark trials a killed process left RUNNING or WAITING as FAIL (stale); return how many."""
    n = 0
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(t._trial_id, "stale", True)
        study.tell(t.number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        n += 1
    while study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)):
        trial = study.ask()
        trial.set_user_attr("stale", True)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        n += 1
    return n


def _open_study(run_dir: Path, storage: str | None, study_name: str, prune: bool,
                resume: bool, setup: dict):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is None:
        path = run_dir / rundir.JOURNAL
        if path.exists() and not resume:
            path.rename(run_dir / f"journal-{time.strftime('%Y%m%d-%H%M%S')}.log")  # kept
        spec = f"journal:{path}"
    else:
        spec = storage
    kwargs = dict(study_name=study_name, storage=caviar.open_storage(spec),
                  pruner=caviar.make_pruner(prune), direction="minimize",
                  sampler=optuna.samplers.RandomSampler(seed=setup["seed"]))
    try:
        study = optuna.create_study(load_if_exists=True, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any storage failure, told plainly
        raise DeepRecipeError(f"cannot open the Optuna storage {spec!r}: {exc}") from None
    saved = study.user_attrs.get("setup")
    if saved is None:
        study.set_user_attr("setup", setup)
    elif saved != setup:
        if not resume:
            raise DeepRecipeError(f"study {study_name!r} in {spec} already exists; use "
                                  "another study_name/run_dir or resume=True")
        changed = sorted(k for k in setup if saved.get(k) != setup[k])
        raise ConfigError(f"the study in {spec} was started with other settings "
                          f"({', '.join(changed)} differ); resume with the same settings or "
                          "use another run_dir")
    return study, spec


def _record(study, trial, result: dict) -> None:
    for key in ("curve", "train_error", "dev_cost", "train_cost", "epochs_run", "error"):
        if result.get(key) is not None:
            trial.set_user_attr(key, result[key])
    if result["status"] == "complete":
        study.tell(trial, float(result["dev_error"]))
    elif result["status"] == "pruned":
        trial.set_user_attr("final", True)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        trial.set_user_attr("final", True)  # deterministic failure: do not rerun
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _trial_row(t) -> dict:
    a = t.user_attrs
    return {"number": t.number, "round": a["round"], "index": a["index"],
            "params": dict(t.params), "state": _state(t),
            "dev_error": t.value if _state(t) == "COMPLETE" else None,
            "train_error": a.get("train_error"), "dev_cost": a.get("dev_cost"),
            "curve": a.get("curve", {}), "error": a.get("error")}


def _next_space(study, space: Space, seed: int, r: int, n_trials: int,
                margin: float, method: str = "random") -> Space:
    """Round r's space: round r - 1's zoomed to its best max(2, 20%) completed trials."""
    done = sorted((tr for tr in _finished(study, r - 1).values() if _state(tr) == "COMPLETE"),
                  key=lambda tr: (tr.value, tr.user_attrs["index"]))
    if not done:
        return space
    k = max(2, math.ceil(0.2 * n_trials))
    top = [draw(space, seed, r - 1, n_trials, tr.user_attrs["index"], method)
           for tr in done[:k]]
    return zoom_space(space, top, margin)


def _run_round(study, runner, config: Config, space: Space, fixed: dict, seed: int, r: int,
               n_trials: int, prune: bool, spec: str, study_name: str, verbose: bool,
               method: str = "random") -> None:
    """Enqueue and run the trials of round r that have not finished yet."""
    finished = _finished(study, r)
    live, jobs = {}, []
    remote = runner.workers > 1 or bool(runner.scheduler)
    n_points = len(grid_points(space, n_trials)) if method == "grid" else n_trials
    for i in range(n_points):
        if i in finished:
            continue
        params = draw(space, seed, r, n_trials, i, method)
        study.enqueue_trial(params, user_attrs={"round": r, "index": i})
        trial = study.ask(fixed)
        live[(r, i)] = trial
        job = {"config": config_to_dict(config), "params": params, "round": r, "index": i,
               "epochs": config.tuning.epochs}
        if prune and remote:
            job.update(storage=spec, study_name=study_name, trial_id=trial._trial_id)
        jobs.append(job)
    with progress_bar(len(jobs), f"tuning round {r + 1}", enabled=verbose) as bar:
        for result in runner.run(jobs, trials=live if prune else None):
            _record(study, live[(result["round"], result["index"])], result)
            shown = "-" if result["dev_error"] is None else f"{result['dev_error']:.4f}"
            bar.advance(f"trial {result['index']} {result['status']} dev_error {shown}")


def tune(config: Config, *, run_dir: str | Path, data=None, n_trials: int | None = None,
         rounds: int | None = None, workers: int | None = None, scheduler: str | None = None,
         space: dict | None = None, seed: int | None = None, prune: bool = False,
         verbose: bool = False, resume: bool = True, storage: str | None = None,
         study_name: str | None = None, margin: float = 0.1,
         method: str | None = None) -> StudyResult:
    """Random search: trial i of round r ~ space, from SeedSequence([seed, r]).spawn(n)[i].

    Parameters
    ----------
    config : the base Config; unset arguments come from ``config.tuning``.
    run_dir : folder of the study (journal.log, best_config.toml, study.json).
    data : PreparedData to reuse in serial runs (workers prepare their own from the config).
    n_trials, rounds : trials per round; rounds > 1 is coarse to fine.
    method : "random" (default, as the notes argue) or "grid" (``grid_points``: at most
        n_trials points).
    workers, scheduler : local processes, or a Dask scheduler address ("caviar").
    space : {name: Distribution or TOML table}; default ``config.tuning.space`` or the
        default space. seed : default ``config.seed``. prune : MedianPruner on dev error.
    resume : continue the study in run_dir (False: set an old journal aside, start anew).
    storage : an Optuna storage URL instead of the journal file in run_dir.

    Returns
    -------
    StudyResult

    Raises
    ------
    ConfigError : unknown hyperparameter, bad space, n_trials < 1.
    SchedulerUnreachableError : the scheduler address did not answer within seconds.
    """
    start = time.perf_counter()
    t = config.tuning
    n_trials = t.n_trials if n_trials is None else n_trials
    method = check_choice("tuning method", t.method if method is None else method,
                          ("random", "grid"))
    rounds = t.rounds if rounds is None else rounds
    workers = t.workers if workers is None else workers
    scheduler = t.scheduler if scheduler is None else scheduler
    seed = config.seed if seed is None else seed
    for name, value, low in (("n_trials", n_trials, 1), ("rounds", rounds, 1),
                             ("workers", workers, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"tuning {name} must be an int >= {low}, got {value!r}")
    if space is None:
        space = t.space
    base = space_from_config(space, config)  # names and tables checked
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    study_name = study_name or config.name
    setup = {"seed": seed, "n_trials": n_trials, "method": method,
             "space": space_to_dict(base),
             "epochs": t.epochs, "margin": margin}
    study, spec = _open_study(run_dir, storage, study_name, prune, resume, setup)
    _clean_stale(study)
    if data is None:
        data = prepare_data(config, check_distribution=False)
    fixed = {name: _optuna_distribution(d) for name, d in base.items()}
    spaces = [base]
    with caviar.Runner(workers, scheduler, data) as runner:
        for r in range(rounds):
            if r > 0:
                spaces.append(_next_space(study, spaces[-1], seed, r, n_trials, margin,
                                          method))
            study.set_user_attr(f"space_round_{r}", space_to_dict(spaces[r]))
            _run_round(study, runner, config, spaces[r], fixed, seed, r, n_trials, prune,
                       spec, study_name, verbose, method)
    rows: dict[tuple, dict] = {}
    for r in range(rounds):
        for tr in _finished(study, r).values():
            rows[(r, tr.user_attrs["index"])] = _trial_row(tr)
    result = StudyResult(config, [rows[key] for key in sorted(rows)],
                         [space_to_dict(s) for s in spaces], run_dir, spec, study_name, seed,
                         n_trials, t.epochs, time.perf_counter() - start)
    if result.completed:
        write_text_atomic(run_dir / rundir.BEST_CONFIG, result.best_config_toml())
    write_json_atomic(run_dir / "study.json", result.to_dict())
    for row in result.trials:  # one folder per trial: its configuration, metrics and curve
        folder = run_dir / rundir.TRIALS / f"round-{row['round']}-trial-{row['index']:04d}"
        write_json_atomic(folder / "trial.json", row)
        write_text_atomic(folder / rundir.CONFIG,
                          dump_config(apply(config, {**row["params"], **(
                              {"epochs": t.epochs} if t.epochs else {})})))
    return result
