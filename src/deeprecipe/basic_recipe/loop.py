"""The basic recipe for machine learning, automated: train, diagnose, fix, repeat.

After a baseline, each round reads avoidable bias (train - human) and variance (dev - train)
and applies the lecture's next step (``steps``: high bias first). A step that helped may be
taken again (a wider network still); a step that did not help is undone and never tried
again. Every round trains a fresh network with the config's seed, so the same config gives the
same rounds.

Interrupted work resumes: round N checkpoints into ``run_dir/rounds/NN/checkpoints`` (about 20
times per round and at its end; Ctrl-C saves the exact position; its last checkpoint is kept
when it ends). ``recipe(..., resume=True)`` (``deeprecipe resume RUN_DIR``)
replays the finished rounds from their checkpoints, which gives the same decisions without
retraining, and continues the interrupted one where it stopped.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from deeprecipe._io import load_json, write_json_atomic
from deeprecipe._validation import check_in_range, check_int
from deeprecipe.basic_recipe.steps import BIAS_ACTIONS, VARIANCE_ACTIONS, Step, helped, next_step
from deeprecipe.errors import DeepRecipeError, DivergenceError
from deeprecipe.optimize import checkpoints
from deeprecipe.report import write_report
from deeprecipe.runs import rundir
from deeprecipe.runs.build import fit
from deeprecipe.runs.config import Config, config_from_dict, config_to_dict
from deeprecipe.runs.diagnosis import Diagnosis, diagnose
from deeprecipe.runs.evaluate import evaluate
from deeprecipe.runs.finish import RunResult, save_run
from deeprecipe.runs.prepare import PreparedData, prepare_data
from deeprecipe.runs.rundir import prepare_run_dir

__all__ = ["RecipeRound", "RecipeResult", "recipe", "resume_recipe", "BIAS_ACTIONS",
           "VARIANCE_ACTIONS"]

_OUTPUTS = (rundir.CONFIG, rundir.HISTORY, rundir.MODEL_NPZ, rundir.MODEL_JSON, rundir.DIAGNOSIS,
            rundir.SUMMARY, rundir.RECIPE, rundir.REPORT)
_WORDS = {"ok": "ok", "high_bias": "high bias", "high_variance": "high variance",
          "high_bias_and_variance": "high bias and high variance"}


@dataclass(frozen=True)
class RecipeRound:
    """One trained model: what changed, its errors and reading, and what the recipe did next."""

    round: int
    changes: dict
    train_error: float | None
    dev_error: float | None
    test_error: float | None
    avoidable_bias: float | None
    variance: float | None
    verdict: str
    decision: str
    narrative: str
    helped: bool | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass
class RecipeResult:
    """All rounds, the story they tell, and the best model (by dev error) as a RunResult."""

    rounds: list[RecipeRound]
    narrative: list[str]
    best_round: int
    result: RunResult
    final_config: Config
    stop_reason: str = ""
    tried: list[dict] = field(default_factory=list)
    targets: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The content of recipe.json."""
        return {"rounds": [r.to_dict() for r in self.rounds], "narrative": list(self.narrative),
                "best_round": self.best_round, "final_config": config_to_dict(self.final_config),
                "human_error": self.final_config.data.human_error, "targets": dict(self.targets),
                "stop_reason": self.stop_reason, "tried": list(self.tried),
                "metrics": self.result.metrics, "seconds": self.result.seconds}


_ARGS = rundir.RECIPE_ARGS  # the baseline config and options, for resuming
_CHECKPOINTS_PER_ROUND = 20  # at most, plus the last epoch's (Ctrl-C saves the exact position)


def _round_checkpoints(config: Config) -> Config:
    """``config`` checkpointing at most ~20 times per round: long full-batch rounds (thousands
    of short epochs) would otherwise spend their time writing files."""
    t = config.training
    every = max(t.checkpoint_every, math.ceil(t.epochs / _CHECKPOINTS_PER_ROUND))
    return dataclasses.replace(config, training=dataclasses.replace(t, checkpoint_every=every))


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


def resume_recipe(run_dir: str | Path, *, verbose: bool = False) -> RecipeResult:
    """Continue the interrupted recipe in ``run_dir`` with the config and options it began with.

    Finished rounds are replayed from their checkpoints (no retraining, the same decisions);
    the interrupted round continues from its last checkpoint.
    """
    run_dir = Path(run_dir)
    args = _saved_args(run_dir)
    options = {k: args[k] for k in ("max_rounds", "time_budget", "bias_target",
                                     "variance_target")}
    return recipe(config_from_dict(args["config"]), run_dir, verbose=verbose, resume=True,
                  **options)


def recipe(config: Config, run_dir: str | Path, *, max_rounds: int = 5,
           time_budget: float | None = None, bias_target: float | None = None,
           variance_target: float | None = None, data: PreparedData | None = None,
           verbose: bool = False, force: bool = False, resume: bool = False) -> RecipeResult:
    """Train, diagnose (bias = train - human, variance = dev - train), fix, repeat.

    Round 1 trains the config as given. While the reading is not "ok" and the budget allows,
    the next round applies one step (high bias first, as in the lecture) to the last config
    that helped and trains a fresh network with the same seed. The best model by dev error
    is saved to ``run_dir`` like a run, with ``recipe.json`` and the report.

    Parameters
    ----------
    config : Config
        The baseline; ``config.data.human_error`` is the proxy for Bayes error.
    run_dir : str or Path
        Output directory: pipeline.save_run_files' files for the best model, recipe.json,
        report.html.
    max_rounds : int
        Most models trained, the baseline included (>= 1).
    time_budget : float, optional
        Seconds; no round starts once the last round's duration would exceed it.
    bias_target, variance_target : float, optional
        Largest acceptable avoidable bias and variance (fractions); default: diagnose's
        tolerances (0.02).
    data : PreparedData, optional
        Already prepared data (default: ``prepare_data(config)``).
    verbose : bool
        Print one line per round to stderr.
    force : bool
        Overwrite the output files of an earlier run in ``run_dir``.
    resume : bool
        Continue the recipe that ``run_dir`` holds, started with the same config and options:
        finished rounds are replayed from their checkpoints, the interrupted one continues.

    Returns
    -------
    RecipeResult
        ``rounds``, ``narrative``, ``best_round`` (1-based), ``result`` (a RunResult for the
        best model), ``final_config`` and ``stop_reason``.

    Raises
    ------
    DeepRecipeError
        If ``run_dir`` holds output files and neither ``force`` nor ``resume`` is given, if
        ``resume`` finds no recipe or one started with other settings, or a value is invalid.
    DivergenceError
        If the baseline itself diverges (a later round that diverges only counts as a step
        that did not help).

    Examples
    --------
    >>> BIAS_ACTIONS, VARIANCE_ACTIONS  # the order of the steps
    (('wider', 'deeper', 'longer', 'adam'), ('l2', 'dropout', 'augment'))
    >>> from deeprecipe.runs.config import Config, ModelConfig, TrainingConfig
    >>> cfg = Config(model=ModelConfig(hidden_layer_sizes=[2]),
    ...              training=TrainingConfig(epochs=10))
    >>> res = recipe(cfg, "runs/tiny", max_rounds=2)  # doctest: +SKIP
    >>> res.narrative[0]  # doctest: +SKIP
    'round 1: train error 88.6%, dev 88.9% → high bias → doubled hidden units [2] → [4]'
    """
    max_rounds = check_int("max_rounds", max_rounds, low=1)
    if time_budget is not None:
        check_in_range("time_budget", time_budget, low=0.0, closed="neither")
    tol, targets = _tolerances(bias_target, variance_target)
    run_dir = Path(run_dir)
    args = {"config": config_to_dict(config), "max_rounds": max_rounds,
            "time_budget": time_budget, "bias_target": bias_target,
            "variance_target": variance_target}
    if resume:
        _check_resumable(run_dir, args)
    else:
        _check_outputs(run_dir, force)
        shutil.rmtree(run_dir / rundir.ROUNDS, ignore_errors=True)  # never resume a stale round
        write_json_atomic(run_dir / _ARGS, args)
    state = _Rounds(config, run_dir, prepare_data(config) if data is None else data, tol,
                    Console(stderr=True) if verbose else None)
    cfg, step = config, None
    for n in range(1, max_rounds + 1):
        seconds = state.train(n, cfg, step, resume)
        step = state.decide(n, step, seconds, max_rounds, time_budget)
        if step is None:
            break
        cfg = step.config
    return state.finish(targets)


def _tolerances(bias_target: float | None, variance_target: float | None
                ) -> tuple[dict, dict]:
    """(diagnose's tolerance keywords, the targets as recipe.json reports them)."""
    tol = {}
    if bias_target is not None:
        tol["bias_tolerance"] = check_in_range("bias_target", bias_target, low=0.0, high=1.0)
    if variance_target is not None:
        tol["variance_tolerance"] = check_in_range("variance_target", variance_target,
                                                   low=0.0, high=1.0)
    defaults = inspect.signature(diagnose).parameters
    targets = {"avoidable_bias": tol.get("bias_tolerance", defaults["bias_tolerance"].default),
               "variance": tol.get("variance_tolerance",
                                   defaults["variance_tolerance"].default)}
    return tol, targets


class _Rounds:
    """The recipe's state across rounds: the accepted config and reading, the best model."""

    def __init__(self, config: Config, run_dir: Path, data: PreparedData, tol: dict,
                 console: Console | None) -> None:
        self.config, self.run_dir, self.data, self.tol = config, run_dir, data, tol
        self.console = console
        self.start = time.perf_counter()
        self.rounds: list[RecipeRound] = []
        self.tried: list[dict] = []
        self.failed: set[str] = set()
        self.accepted: tuple[int, Config, Diagnosis] | None = None
        self.best: tuple | None = None  # (dev_error, round, config, net, trainer, metrics, diag)
        self.stop_reason = ""
        self.last: tuple = (None, {}, "")  # this round's (diagnosis, metrics, divergence)

    def train(self, n: int, cfg: Config, step: Step | None, resume: bool) -> float:
        """Train round ``n`` (resumed from its checkpoints); returns its seconds."""
        t0 = time.perf_counter()
        round_checkpoints = self.run_dir / rundir.ROUNDS / f"{n:02d}" / rundir.CHECKPOINTS
        try:
            net, trainer = fit(_round_checkpoints(cfg), self.data,
                               checkpoint_dir=round_checkpoints, resume=resume)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"recipe interrupted in round {n}, its state saved in "
                                    f"{round_checkpoints}; continue with `deeprecipe resume "
                                    f"{self.run_dir}`") from None
        except DivergenceError as exc:
            if step is None:
                raise
            self.last = (None, {}, str(exc))
            return time.perf_counter() - t0
        checkpoints.prune(round_checkpoints, 1)  # its final state, enough to replay it
        metrics = evaluate(net, self.data)
        diag = diagnose(train_error=metrics["train_error"], dev_error=metrics["dev_error"],
                        human_error=cfg.data.human_error, test_error=metrics["test_error"],
                        **self.tol)
        if self.best is None or metrics["dev_error"] < self.best[0]:
            self.best = (metrics["dev_error"], n, cfg, net, trainer, metrics, diag)
        self.last = (diag, metrics, "")
        return time.perf_counter() - t0

    def _judge(self, n: int, cfg: Config, step: Step | None) -> tuple[bool | None, str]:
        """Did round ``n``'s step help? (None for the baseline) and the note that says so."""
        diag, _, error = self.last
        if step is None:
            self.accepted = (n, cfg, diag)
            return None, ""
        before = self.accepted[2]
        did_help = diag is not None and helped(step, before, diag)
        self.tried.append({"round": n, "action": step.kind, "text": step.text,
                           "helped": did_help})
        if did_help:
            self.accepted = (n, cfg, diag)
            return True, ""
        self.failed.add(step.kind)
        if diag is None:
            why = f"diverged ({error})"
        elif step.problem == "bias":
            why = (f"did not help (avoidable bias {before.avoidable_bias:.1%} → "
                   f"{diag.avoidable_bias:.1%})")
        else:
            why = (f"did not help (variance {before.variance:.1%} → {diag.variance:.1%}, dev "
                   f"{before.dev_error:.1%} → {diag.dev_error:.1%})")
        return False, f"{step.kind} step {why}, back to round {self.accepted[0]}'s config; "

    def decide(self, n: int, step: Step | None, seconds: float, max_rounds: int,
               time_budget: float | None) -> Step | None:
        """Record round ``n`` and choose the next step (None: stop, ``stop_reason`` says why)."""
        cfg = step.config if step is not None else self.config
        did_help, note = self._judge(n, cfg, step)
        _, acc_cfg, acc_diag = self.accepted
        elapsed = time.perf_counter() - self.start
        following = None
        if acc_diag.verdict == "ok":
            self.stop_reason = "both gaps are under the targets"
        elif n >= max_rounds:
            self.stop_reason = f"max_rounds={max_rounds} reached"
        elif time_budget is not None and elapsed + seconds > time_budget:
            self.stop_reason = f"time_budget={time_budget:g}s reached"
        else:
            following = next_step(acc_cfg, acc_diag, self.data, self.failed,
                                  self.config.training.epochs)
            if following is None:
                self.stop_reason = ("no automatic step left; next: more data or an "
                                    "architecture search")
        self._record(n, step, did_help, note, following, seconds)
        return following

    def _record(self, n: int, step: Step | None, did_help: bool | None, note: str,
                following: Step | None, seconds: float) -> None:
        diag, metrics, _ = self.last
        decision = following.text if following is not None else f"stop: {self.stop_reason}"
        verdict = "diverged" if diag is None else diag.verdict
        head = ("training diverged" if diag is None else f"train error {diag.train_error:.1%}, "
                f"dev {diag.dev_error:.1%} → {_WORDS[verdict]}")
        line = f"round {n}: {head} → {note}{decision}"
        self.rounds.append(RecipeRound(
            round=n, changes={} if step is None else step.changes,
            train_error=metrics.get("train_error"), dev_error=metrics.get("dev_error"),
            test_error=metrics.get("test_error"),
            avoidable_bias=None if diag is None else diag.avoidable_bias,
            variance=None if diag is None else diag.variance, verdict=verdict,
            decision=decision, narrative=line, helped=did_help, seconds=round(seconds, 3)))
        if self.console is not None:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def finish(self, targets: dict) -> RecipeResult:
        """Save the best model like a run, with recipe.json and the report."""
        _, best_n, best_cfg, net, trainer, metrics, diag = self.best
        run_dir = prepare_run_dir(self.run_dir, force=True)  # checked before training
        run_result = save_run(run_dir, best_cfg, self.data, net, trainer, metrics=metrics,
                              diagnosis=diag, start=self.start)
        narrative = [r.narrative for r in self.rounds]
        narrative.append(f"best: round {best_n} with dev error {metrics['dev_error']:.1%}")
        result = RecipeResult(self.rounds, narrative, best_n, run_result, best_cfg,
                              self.stop_reason, self.tried, targets)
        result.result.extra["recipe"] = {"best_round": best_n, "rounds": len(self.rounds)}
        write_json_atomic(run_dir / rundir.RECIPE, result.to_dict())
        write_report(run_dir)
        if self.console is not None:
            self.console.print(f"{narrative[-1]}; saved to {run_dir}", markup=False,
                               highlight=False, soft_wrap=True)
        return result
