"""Workflows: one run end to end — data, [tune ->] fit, save, report — the demo, and resume.

``run(config, run_dir)`` is what ``deeprecipe run`` and ``deeprecipe demo`` call;
``tune(config, run_dir)`` (``deeprecipe tune``, ``dr.tune``) is a run whose search must happen;
``resume(run_dir)`` continues whatever a directory holds (a run, a recipe or a babysat model).
Layer: above tuning/, recipe/, report/ and run/, which it composes; only the faces import it.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from deeprecipe._io import write_json_atomic, write_text_atomic
from deeprecipe._validation import check_in_range, check_int
from deeprecipe.basic_recipe.loop import RecipeResult, resume_recipe
from deeprecipe.engine.gradcheck import gradient_check
from deeprecipe.errors import ConfigError, DeepRecipeError
from deeprecipe.report import write_report
from deeprecipe.runs import rundir
from deeprecipe.runs.budget import Deadline
from deeprecipe.runs.build import build_network, fit
from deeprecipe.runs.config import (
    Config,
    config_from_dict,
    dump_config,
    load_config,
)
from deeprecipe.runs.finish import RunResult, save_run
from deeprecipe.runs.locks import RunDirBusyError, check_free, hold_run_dir
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.runs.rundir import prepare_run_dir
from deeprecipe.tuning.checks import check_search, with_tuning
from deeprecipe.tuning.search import tune as search
from deeprecipe.tuning.panda import BabysitResult
from deeprecipe.tuning.panda import resume as resume_babysit

__all__ = ["run", "tune", "resume", "demo_config", "gradcheck_for"]


def run(config: Config, run_dir: str | Path, *, verbose: bool = False, resume: bool = False,
        force: bool = False, report: bool = True, budget: str | float | None = None
        ) -> RunResult:
    """The main job: split, normalize, (tune,) train, evaluate, diagnose, save, report.

    Everything that can be checked without data (the config, the search space, ``budget``) is
    checked before the data is loaded; a start that fails leaves no directory behind.
    ``budget`` ("10m"): the search stops in time to retrain its best within it.
    """
    start = time.perf_counter()
    deadline = Deadline.from_budget(budget)
    if config.tuning.n_trials > 0:
        check_search(config)
    run_dir = Path(run_dir)
    action = "resume" if resume else "start"
    if run_dir.is_dir():  # a live run, babysit or recipe: refused first, --force or not
        check_free(run_dir, action=action)
    run_dir = prepare_run_dir(run_dir, force=force, resume=resume, create=False)
    created = not run_dir.exists()
    data = prepare_data(config)
    prepare_run_dir(run_dir, force=force, resume=resume)
    try:
        with hold_run_dir(run_dir, action=action):
            return _run_in(config, run_dir, data, start, deadline, verbose=verbose,
                           resume=resume, report=report)
    except RunDirBusyError:  # another process made the directory meanwhile: it is theirs
        raise
    except DeepRecipeError:
        if created and not (run_dir / rundir.CHECKPOINTS).exists() and \
                not (run_dir / rundir.STUDY).exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing was done: do not block a rerun
        raise


def _run_in(config: Config, run_dir: Path, data, start: float, deadline: Deadline, *,
            verbose: bool, resume: bool, report: bool) -> RunResult:
    if not resume:  # a stale checkpoint of an overwritten run must never be resumed
        shutil.rmtree(run_dir / rundir.CHECKPOINTS, ignore_errors=True)
    fresh = not (resume and (run_dir / rundir.CONFIG).exists())
    if fresh:  # written before training, so an interrupted run can be resumed from its directory
        write_text_atomic(run_dir / rundir.CONFIG, dump_config(config))
    try:
        config, tuning, net, trainer = _tune_and_fit(config, data, run_dir, deadline, resume,
                                                     verbose)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(f"interrupted; its state is saved in {run_dir}; continue with "
                                f"`deeprecipe resume {run_dir}`") from None
    except DeepRecipeError:
        if fresh and not _resumable(run_dir):  # a late validation error: nothing to resume,
            (run_dir / rundir.CONFIG).unlink(missing_ok=True)  # so nothing blocks a rerun
        raise
    result = save_run(run_dir, config, data, net, trainer, start=start)
    result.tuning = tuning
    if tuning is not None:
        write_json_atomic(run_dir / rundir.TUNING, tuning)
    if report:
        write_report(run_dir)
    return result


def tune(config: Config, run_dir: str | Path, *, n_trials: int | None = None,
         rounds: int | None = None, method: str | None = None, workers: int | None = None,
         scheduler: str | None = None, prune: str | None = None, metric: str | None = None,
         budget: str | float | None = None, verbose: bool = False, force: bool = False,
         resume: bool = False, report: bool = True) -> RunResult:
    """Search, then retrain the best configuration: ``run``'s directory plus the study.

    The arguments override ``config.tuning`` (and are saved in ``config.toml``, so
    ``deeprecipe resume RUN_DIR`` continues with them). The result's ``tuning`` is the study
    (``tuning.json``); ``report RUN_DIR`` shows it with the final model's curves.

    Raises
    ------
    ConfigError : no trials, a bad space, method, metric or budget (before any data is read).
    """
    config = with_tuning(config, n_trials=n_trials, rounds=rounds, method=method,
                         workers=workers, scheduler=scheduler, prune=prune, metric=metric)
    if config.tuning.n_trials < 1:
        raise ConfigError("tune needs trials: set [tuning] n_trials >= 1 or pass --trials N")
    return run(config, run_dir, verbose=verbose, resume=resume, force=force, report=report,
               budget=budget)


def _tune_and_fit(config: Config, data, run_dir: Path, deadline: Deadline, resume: bool,
                  verbose: bool):
    """(the trained config, the study as a dict or None, network, trainer)."""
    tuning = None
    if config.tuning.n_trials > 0:
        study = search(config, run_dir=run_dir / rundir.STUDY, data=data, verbose=verbose,
                       resume=resume, deadline=deadline)
        tuning = study.to_dict()
        if study.extra["ran"]:  # the best may have changed: retrain it from scratch
            shutil.rmtree(run_dir / rundir.CHECKPOINTS, ignore_errors=True)
        config = study.best_config
    net, trainer = fit(config, data, checkpoint_dir=run_dir / rundir.CHECKPOINTS, resume=resume,
                       verbose=verbose)
    return config, tuning, net, trainer


def _resumable(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds work a resume would continue (a checkpoint or a study)."""
    return any((run_dir / name).exists() and any((run_dir / name).iterdir())
               for name in (rundir.CHECKPOINTS, rundir.STUDY))


def resume(run_dir: str | Path, *, chunks: int | None = None, verbose: bool = False,
           force: bool = False) -> RunResult | RecipeResult | BabysitResult:
    """Continue what ``run_dir`` holds: a recipe, a babysat model (``chunks`` more; None:
    what an interrupted session had left, else 1) or a run. Each holds the directory's lock
    (RunDirBusyError while another process works there). ``force`` is accepted and ignored: it
    used to clear a crashed babysit's leftover ``running`` marker, which the lock now tells
    apart from a live babysit by itself."""
    run_dir = Path(run_dir)
    if (run_dir / rundir.RECIPE_ARGS).exists():
        return resume_recipe(run_dir, verbose=verbose)
    if (run_dir / rundir.PANDA).exists():
        return resume_babysit(run_dir, chunks=chunks, verbose=verbose)
    if not (run_dir / rundir.CONFIG).exists():
        raise DeepRecipeError(f"{run_dir} holds nothing to resume (no {rundir.CONFIG} or "
                              f"{rundir.PANDA}); start it with `deeprecipe run CONFIG --out "
                              f"{run_dir}`")
    return run(load_config(run_dir / rundir.CONFIG), run_dir, verbose=verbose, resume=True)


def demo_config() -> Config:
    """The demo: digits, Adam, L2, dropout and BatchNorm, and a short random search."""
    return config_from_dict({
        "name": "demo", "seed": 0,
        "data": {"dataset": "digits", "human_error": 0.005},
        "model": {"hidden_layer_sizes": [64, 32], "batch_norm": True, "keep_prob": 0.9},
        "regularization": {"l2": 0.5},
        "optimizer": {"name": "adam", "learning_rate": 3e-3},
        "schedule": {"name": "inverse_time", "decay_rate": 0.02},
        "training": {"epochs": 40, "batch_size": 64, "early_stopping": True, "patience": 10},
        "tuning": {"n_trials": 6, "rounds": 1, "epochs": 10, "space": {
            "learning_rate": {"dist": "log_uniform", "low": 3e-4, "high": 3e-2},
            "l2": {"dist": "log_uniform", "low": 1e-2, "high": 3.0}}},
    })


def gradcheck_for(*, dataset: str = "moons", config_path: str | Path | None = None,
                  l2: float = 0.7, samples: int = 8, max_components: int | None = 2000):
    """Gradient check of the network a config (or the default) builds on its first
    ``samples`` training examples (all of them when the training set holds fewer: the report's
    ``examples`` says how many)."""
    samples = check_int("samples", samples, low=1)
    l2 = check_in_range("l2", l2, low=0.0)
    if config_path is not None:
        config = load_config(config_path)
        l2, l1 = config.regularization.l2, config.regularization.l1
    else:
        config = config_from_dict({"data": {"dataset": dataset},
                                   "model": {"hidden_layer_sizes": [5, 3], "batch_norm": True,
                                             "activation": "tanh"}})
        l1 = 0.0
    data = prepare_data(config, check_distribution=False)
    net = build_network(config, data)
    rows = min(samples, len(data.X_train))
    return gradient_check(net, data.X_train[:rows], data.y_train[:rows], loss=data.loss, l2=l2,
                          l1=l1, max_components=max_components, freeze_dropout=True)

