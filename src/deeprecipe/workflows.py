"""Workflows: one run end to end — data, [tune ->] fit, save, report — the demo, and resume.

``run(config, run_dir)`` is what ``deeprecipe run`` and ``deeprecipe demo`` call;
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
from deeprecipe.errors import DeepRecipeError
from deeprecipe.report import write_report
from deeprecipe.runs import rundir
from deeprecipe.runs.build import build_network, fit
from deeprecipe.runs.config import Config, config_from_dict, dump_config, load_config
from deeprecipe.runs.finish import RunResult, save_run
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.runs.rundir import prepare_run_dir
from deeprecipe.tuning import tune
from deeprecipe.tuning.panda import BabysitResult
from deeprecipe.tuning.panda import resume as resume_babysit

__all__ = ["run", "resume", "demo_config", "gradcheck_for"]


def run(config: Config, run_dir: str | Path, *, verbose: bool = False, resume: bool = False,
        force: bool = False, report: bool = True) -> RunResult:
    """The main job: split, normalize, train, evaluate, diagnose, (tune), save, report."""
    start = time.perf_counter()
    run_dir = prepare_run_dir(run_dir, force=force, resume=resume, create=False)
    data = prepare_data(config)
    prepare_run_dir(run_dir, force=force, resume=resume)
    if not resume:  # a stale checkpoint of an overwritten run must never be resumed
        shutil.rmtree(run_dir / rundir.CHECKPOINTS, ignore_errors=True)
    fresh = not (resume and (run_dir / rundir.CONFIG).exists())
    if fresh:  # written before training, so an interrupted run can be resumed from its directory
        write_text_atomic(run_dir / rundir.CONFIG, dump_config(config))
    try:
        config, tuning, net, trainer = _tune_and_fit(config, data, run_dir, resume, verbose)
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


def _tune_and_fit(config: Config, data, run_dir: Path, resume: bool, verbose: bool):
    """(the trained config, the study as a dict or None, network, trainer)."""
    tuning = None
    if config.tuning.n_trials > 0:
        study = tune(config, run_dir=run_dir / rundir.STUDY, data=data, verbose=verbose,
                     resume=resume)
        tuning = study.to_dict()
        config = study.best_config
    net, trainer = fit(config, data, checkpoint_dir=run_dir / rundir.CHECKPOINTS, resume=resume,
                       verbose=verbose)
    return config, tuning, net, trainer


def _resumable(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds work a resume would continue (a checkpoint or a study)."""
    return any((run_dir / name).exists() and any((run_dir / name).iterdir())
               for name in (rundir.CHECKPOINTS, rundir.STUDY))


def resume(run_dir: str | Path, *, chunks: int | None = None, verbose: bool = False
           ) -> RunResult | RecipeResult | BabysitResult:
    """Continue what ``run_dir`` holds: a recipe, a babysat model (``chunks`` more; None:
    what an interrupted session had left, else 1) or a run."""
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
    """Gradient check of the network a config (or the default) builds on a few examples."""
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

