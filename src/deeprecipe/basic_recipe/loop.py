"""The basic recipe for machine learning, automated: train, read, judge, fix, repeat.

Round 1 trains the config as given, after a short log-scale search of α. Each round is read
orthogonally (bias from the best training error reached, variance from the early-stopped
model's dev error, and the training curve: not converged, oscillating, diverging or
plateau). The next step follows the readings (``steps``); its candidate gets its own α
search (and a variance step its own small search of L2 λ and keep_prob) and is kept only
when its dev error beats the accepted model's by more than the dev set's noise, sqrt(p (1 -
p) / n_dev). A step that was not kept is never tried again. On small data (fewer than 1,000
dev examples, ``folds="auto"``) the changes are judged by 5-fold cross-validation instead
(``folds``), and the architecture and regularization searches rank their trials by it.
Every round trains a fresh network with the config's seed, so the same config gives the
same rounds and decisions.

The rounds and the searches inside them share one wall-clock budget: training stops at the
end of the first epoch past it, with the best model so far. Interrupted work resumes: round N
checkpoints into ``run_dir/rounds/NN/checkpoints`` and saves its searches beside them;
``recipe(..., resume=True)`` (``deeprecipe resume RUN_DIR``) replays the finished rounds from
their checkpoints and saved searches, which gives the same decisions without retraining, and
continues the interrupted one where it stopped.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from deeprecipe._io import load_json, write_json_atomic
from deeprecipe._validation import check_in_range, check_int, check_workers
from deeprecipe.basic_recipe.budget import Budget
from deeprecipe.basic_recipe.folds import as_trained, check_folds, refit_pooled, resolve_folds
from deeprecipe.basic_recipe.more_data import more_data_estimate
from deeprecipe.basic_recipe.rounds import RecipeRound, Rounds
from deeprecipe.basic_recipe.searches import search_data
from deeprecipe.basic_recipe.steps import ALPHA_ACTIONS, BIAS_ACTIONS, VARIANCE_ACTIONS
from deeprecipe.errors import DeepRecipeError
from deeprecipe.report import write_report
from deeprecipe.runs import rundir
from deeprecipe.runs.config import Config, config_from_dict, config_to_dict
from deeprecipe.runs.diagnosis import diagnose
from deeprecipe.runs.finish import RunResult, save_run
from deeprecipe.runs.locks import check_free, hold_run_dir
from deeprecipe.runs.prepare import PreparedData, prepare_data
from deeprecipe.runs.rundir import prepare_run_dir
from deeprecipe.tuning.caviar import Runner

__all__ = ["RecipeRound", "RecipeResult", "recipe", "resume_recipe", "BIAS_ACTIONS",
           "VARIANCE_ACTIONS", "ALPHA_ACTIONS"]

_OUTPUTS = (rundir.CONFIG, rundir.HISTORY, rundir.MODEL_NPZ, rundir.MODEL_JSON, rundir.DIAGNOSIS,
            rundir.SUMMARY, rundir.RECIPE, rundir.REPORT)


@dataclass
class RecipeResult:
    """All rounds, the story they tell, and the accepted model as a RunResult."""

    rounds: list[RecipeRound]
    narrative: list[str]
    best_round: int
    result: RunResult
    final_config: Config
    stop_reason: str = ""
    tried: list[dict] = field(default_factory=list)
    targets: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    more_data: dict | None = None
    folds: int | None = None
    judged_by: str = ""

    def to_dict(self) -> dict:
        """The content of recipe.json."""
        return {"rounds": [r.to_dict() for r in self.rounds], "narrative": list(self.narrative),
                "best_round": self.best_round, "final_config": config_to_dict(self.final_config),
                "human_error": self.final_config.data.human_error, "targets": dict(self.targets),
                "stop_reason": self.stop_reason, "tried": list(self.tried),
                "warnings": list(self.warnings), "more_data": self.more_data,
                "folds": self.folds, "judged_by": self.judged_by,
                "metrics": self.result.metrics, "seconds": self.result.seconds}


_ARGS = rundir.RECIPE_ARGS  # the baseline config and options, for resuming


def _check_outputs(run_dir: Path, force: bool) -> None:
    present = [n for n in (*_OUTPUTS, rundir.ROUNDS) if (run_dir / n).exists()]
    if present and not force:
        raise DeepRecipeError(f"{run_dir} already holds {', '.join(present)}; continue an "
                              f"interrupted recipe with `deeprecipe resume {run_dir}`, pass "
                              "force=True (--force) to start over, or choose another directory")


def _saved_args(run_dir: Path) -> dict:
    """The config and options the recipe in ``run_dir`` was started with."""
    if not (run_dir / _ARGS).is_file():
        raise DeepRecipeError(f"{run_dir} holds no recipe to resume (no {_ARGS}); start one "
                              f"with `deeprecipe recipe CONFIG --out {run_dir}`")
    return load_json(run_dir / _ARGS)


def _check_resumable(run_dir: Path, args: dict) -> None:
    """The recipe in ``run_dir`` was started with ``args`` (the same config and options)."""
    saved = _saved_args(run_dir)
    now = json.loads(json.dumps(args))  # compare as JSON: tuples are lists there
    different = sorted(k for k in now if saved.get(k) != now[k])
    if different:
        raise DeepRecipeError(f"{run_dir} holds a recipe started with other {', '.join(different)}"
                              f"; resume it with `deeprecipe resume {run_dir}`, or pass "
                              "force=True (--force) to start over")


def resume_recipe(run_dir: str | Path, *, verbose: bool = False,
                  workers: int = 1) -> RecipeResult:
    """Continue the interrupted recipe in ``run_dir`` with the config and options it began with.

    Finished rounds are replayed from their checkpoints and saved searches (no retraining, the
    same decisions); the interrupted round continues from its last checkpoint; a time budget
    continues with what was left of it.
    """
    run_dir = Path(run_dir)
    args = _saved_args(run_dir)
    options = {k: args.get(k) for k in ("max_rounds", "time_budget", "bias_target",
                                         "variance_target", "folds")}
    return recipe(config_from_dict(args["config"]), run_dir, verbose=verbose, resume=True,
                  workers=workers, **options)


def recipe(config: Config, run_dir: str | Path, *, max_rounds: int = 5,
           time_budget: float | None = None, bias_target: float | None = None,
           variance_target: float | None = None, workers: int = 1,
           folds: int | str | None = "auto", data: PreparedData | None = None,
           verbose: bool = False, force: bool = False, resume: bool = False) -> RecipeResult:
    """Train, read (curve; bias = best train - human, variance = dev - train), fix, repeat.

    Parameters
    ----------
    config : Config
        The baseline; ``config.data.human_error`` is the proxy for Bayes error (0: not given,
        then bias steps are taken only while they pay on dev error).
    run_dir : str or Path
        Output directory: the run files of the accepted model, recipe.json, report.html.
    max_rounds : int
        Most models trained, the baseline included (>= 1).
    time_budget : float, optional
        Seconds of wall clock for everything (rounds and searches); training stops at the
        first epoch past it, keeping the best model so far. No round but the last takes more
        than half of the budget left, so a step always gets its turn.
    bias_target, variance_target : float, optional
        Largest acceptable avoidable bias and variance (fractions); default: twice the dev
        set's noise, 2 sqrt(p (1 - p) / n_dev), at least 0.005 (a gap the dev set can measure
        is worth a step while steps pay; one it cannot is not a problem).
    workers : int
        Processes for the short searches (α; L2 λ and keep_prob); the same results for any.
    folds : "auto", int or None
        Judge changes by k-fold cross-validation over the pooled train and dev sets (small
        data: noise sqrt(p (1 - p) / m) instead of sqrt(p (1 - p) / n_dev)). "auto" (default):
        5 folds when the dev set has fewer than 1,000 examples, else the dev set; 1 or None:
        the dev set.
    data : PreparedData, optional
        Already prepared data (default: ``prepare_data(config)``).
    verbose : bool
        Print one line per round to stderr.
    force, resume : bool
        Overwrite an earlier run in ``run_dir``; or continue the recipe it holds (started
        with the same config and options).

    Returns
    -------
    RecipeResult
        ``rounds``, ``narrative``, ``best_round`` (the accepted round), ``result`` (its
        RunResult), ``final_config``, ``stop_reason``, ``warnings`` (a dev set too small) and
        ``more_data`` (the expected gain of twice the data, when variance remains).

    Raises
    ------
    DeepRecipeError
        If ``run_dir`` holds output files and neither ``force`` nor ``resume`` is given, if
        ``resume`` finds no recipe or one started with other settings, or a value is invalid.
    DivergenceError
        If the baseline itself diverges (a later round that diverges is a step not kept).

    Examples
    --------
    >>> BIAS_ACTIONS, VARIANCE_ACTIONS  # the steps per problem
    (('longer', 'wider', 'deeper', 'adam'), ('augment', 'regularize', 'wider_dropout'))
    """
    max_rounds = check_int("max_rounds", max_rounds, low=1)
    workers = check_workers("workers", workers)
    folds = check_folds(folds)
    if time_budget is not None:
        time_budget = float(check_in_range("time_budget", time_budget, low=0.0,
                                           closed="neither"))
    tol, targets = _tolerances(bias_target, variance_target)
    run_dir = Path(run_dir)
    action = "resume" if resume else "start"
    if run_dir.is_dir():  # a live run, babysit or recipe: refused first, --force or not
        check_free(run_dir, action=action)
    args = {"config": config_to_dict(config), "max_rounds": max_rounds,
            "time_budget": time_budget, "bias_target": bias_target,
            "variance_target": variance_target, "folds": folds}
    if resume:
        _check_resumable(run_dir, args)
    else:
        _check_outputs(run_dir, force)
    run_dir.mkdir(parents=True, exist_ok=True)
    with hold_run_dir(run_dir, action=action):  # the whole recipe: one writer, as for run
        if not resume:  # never resume a stale round
            shutil.rmtree(run_dir / rundir.ROUNDS, ignore_errors=True)
            write_json_atomic(run_dir / _ARGS, args)
        budget = Budget(time_budget, _spent(run_dir) if resume else 0.0)  # data prep counts
        data = prepare_data(config) if data is None else data
        small = search_data(data, config.seed)
        k, judged_by = resolve_folds(folds, data)
        with Runner(workers, data=small) as runner:
            state = Rounds(config, run_dir, data, tol=tol, budget=budget,
                           runner=runner, small=small,
                           console=Console(stderr=True) if verbose else None,
                           max_rounds=max_rounds, folds=k)
            if judged_by:
                state.say(judged_by)
            _loop(state, max_rounds, resume)
        return _finish(state, targets, judged_by)


def _spent(run_dir: Path) -> float:
    path = run_dir / rundir.RECIPE_CLOCK
    return float(load_json(path)["spent"]) if path.is_file() else 0.0


def _loop(state: Rounds, max_rounds: int, resume: bool) -> None:
    """Rounds until a stop: searches, training, reading, the decision."""
    step = None
    for n in range(1, max_rounds + 1):
        t0 = time.perf_counter()
        while True:
            ready, cfg, evidence = state.prepare(n, step)
            if ready is not None or step is None:
                break
            step = state.step_after()  # the search found nothing better: the next step
            if step is None:
                return
        step = ready
        model = state.train(n, cfg, step, resume)
        seconds = time.perf_counter() - t0
        step = state.decide(model, step, evidence, seconds, max_rounds)
        write_json_atomic(state.run_dir / rundir.RECIPE_CLOCK, {"spent": state.budget.spent})
        if step is None:
            return


def _tolerances(bias_target: float | None, variance_target: float | None
                ) -> tuple[dict, dict]:
    """(diagnose's tolerance keywords given, the targets as recipe.json reports them: those
    given; the others are twice the dev set's noise, filled in at the end)."""
    tol, targets = {}, {}
    if bias_target is not None:
        tol["bias_tolerance"] = targets["avoidable_bias"] = check_in_range(
            "bias_target", bias_target, low=0.0, high=1.0)
    if variance_target is not None:
        tol["variance_tolerance"] = targets["variance"] = check_in_range(
            "variance_target", variance_target, low=0.0, high=1.0)
    return tol, targets


def _more_data(state: Rounds) -> dict | None:
    """The expected gain of twice the data, when variance remains and the budget allows."""
    acc = state.accepted
    if acc.diag.verdict not in ("high_variance", "high_bias_and_variance"):
        return None
    if state.budget.left < 0.6 * state.rounds[acc.n - 1].seconds:
        return None
    return more_data_estimate(acc.config, state.data, acc.metrics["dev_error"],
                              deadline=state.budget.deadline())


def _final_model(state: Rounds) -> tuple:
    """(net, trainer, data, metrics, the narrative's refit line or ""): with folds, the
    accepted config refit on the pooled train + dev sets when one more training of it fits
    the budget; else the accepted round's own model. The metrics keep the round's train and
    dev errors (what the recipe judged); the test error is the final model's."""
    acc = state.accepted
    own = acc.net, acc.trainer, state.data, acc.metrics, ""
    if not state.folds:
        return own
    n_pool = len(state.data.y_train) + len(state.data.y_dev)
    if state.budget.left < acc.seconds / (state.folds + 1):  # one training of its config
        return (*own[:4], f"final model: round {acc.n}'s own (no time left to refit it on the "
                          f"{n_pool} pooled train + dev examples)")
    config = as_trained(acc.config, acc.trainer)
    epochs = config.training.epochs
    net, trainer, data, pooled = refit_pooled(config)
    metrics = {**acc.metrics, "test_error": pooled["test_error"],
               "refit": {"examples": n_pool, "epochs": epochs,
                         "train_error": pooled["train_error"]}}
    return net, trainer, data, metrics, (
        f"final model: round {acc.n}'s config refit on the {n_pool} pooled train + dev "
        f"examples for {epochs} epochs, without early stopping (the folds judged the config; "
        "the dev set is now training data)")


def _finish(state: Rounds, targets: dict, judged_by: str = "") -> RecipeResult:
    """Save the accepted model like a run, with recipe.json and the report."""
    acc = state.accepted
    run_dir = prepare_run_dir(state.run_dir, force=True)  # checked before training
    tol = state.tolerances(acc.metrics["dev_error"])
    net, trainer, data, metrics, refit = _final_model(state)
    if refit:
        state.say(refit)
    diag = diagnose(train_error=acc.metrics["train_error"], dev_error=acc.metrics["dev_error"],
                    human_error=acc.config.data.human_error,
                    test_error=metrics["test_error"], **tol)
    targets = {"avoidable_bias": tol["bias_tolerance"], "variance": tol["variance_tolerance"],
               **targets}
    run_result = save_run(run_dir, acc.config, data, net, trainer, metrics=metrics,
                          diagnosis=diag, start=state.budget.start)
    more = _more_data(state)
    narrative = [judged_by] if judged_by else []
    narrative += [r.narrative for r in state.rounds]
    narrative += [f"warning: {w}" for w in state.warnings]
    narrative += [more["text"]] if more else []
    narrative += [refit] if refit else []
    cv = acc.metrics.get("cv_error")
    narrative.append(f"best: round {acc.n} with dev error {acc.metrics['dev_error']:.1%}"
                     + ("" if cv is None else f", cross-validated error {cv:.2%}"))
    result = RecipeResult(state.rounds, narrative, acc.n, run_result, acc.config,
                          state.stop_reason, state.tried, targets, state.warnings, more,
                          state.folds, judged_by)
    result.result.extra["recipe"] = {"best_round": acc.n, "rounds": len(state.rounds)}
    write_json_atomic(run_dir / rundir.RECIPE, result.to_dict())
    write_report(run_dir)
    state.say(f"{narrative[-1]}; saved to {run_dir}")
    return result
