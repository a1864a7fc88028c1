"""The basic recipe for machine learning, automated: train, diagnose, fix, repeat.

After a baseline, each round reads avoidable bias (train - human) and variance (dev - train)
and applies the lecture's next step. High bias comes first: a wider network (hidden units
x2), a deeper one (one more hidden layer), training longer (epochs x2), Adam. Then high
variance: L2 with lambda on the lecture's (lambda / 2m) ||W||^2 scale (a ladder of
lambda / m = 0.005, 0.02, 0.08), dropout (keep_prob 0.8, then 0.6), data augmentation for
images. A step that helped may be taken again (a wider network still); a step that did not
help is undone and never tried again. Every round trains a fresh network with the config's
seed, so the same config gives the same rounds.

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

from deeprecipe import checkpoints
from deeprecipe._io import load_json, write_json_atomic
from deeprecipe._validation import check_in_range, check_int
from deeprecipe.config import Config, config_from_dict, config_to_dict
from deeprecipe.diagnosis import Diagnosis, diagnose
from deeprecipe.errors import DeepRecipeError, DivergenceError
from deeprecipe.pipeline import (
    PreparedData,
    RunResult,
    evaluate,
    fit,
    prepare_data,
    prepare_run_dir,
    save_run,
)

__all__ = ["RecipeRound", "RecipeResult", "recipe", "resume_recipe", "BIAS_ACTIONS",
           "VARIANCE_ACTIONS"]

#: The order in which the recipe tries its steps, per problem.
BIAS_ACTIONS = ("wider", "deeper", "longer", "adam")
VARIANCE_ACTIONS = ("l2", "dropout", "augment")

_L2_PER_EXAMPLE = (0.005, 0.02, 0.08)  # lambda / m: weight decay per step is lr * lambda / m
_KEEP_PROBS = (0.8, 0.6)
_MAX_UNITS, _MAX_LAYERS, _MAX_EPOCHS = 1024, 6, 100_000
_OUTPUTS = ("config.toml", "history.jsonl", "model.npz", "model.json", "diagnosis.json",
            "summary.json", "recipe.json", "report.html")
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


@dataclass(frozen=True)
class _Step:
    kind: str
    problem: str  # "bias" or "variance"
    config: Config
    changes: dict
    text: str


def _set(config: Config, changes: dict, section: str, name: str, value) -> Config:
    """config with config.<section>.<name> = value; the change is recorded in ``changes``."""
    part = getattr(config, section)
    changes[f"{section}.{name}"] = {"from": getattr(part, name), "to": value}
    return dataclasses.replace(config, **{section: dataclasses.replace(part, **{name: value})})


def _propose(kind: str, config: Config, data: PreparedData, base_epochs: int):
    """(new config, changes, text) for one step, or None when it does not apply."""
    ch: dict = {}
    hidden = list(config.model.hidden_layer_sizes)
    if kind == "wider":
        if not hidden or max(hidden) >= _MAX_UNITS:
            return None
        new = [min(2 * h, _MAX_UNITS) for h in hidden]
        return _set(config, ch, "model", "hidden_layer_sizes", new), ch, \
            f"doubled hidden units {hidden} → {new}"
    if kind == "deeper":
        if len(hidden) >= _MAX_LAYERS:
            return None
        new = hidden + [hidden[-1] if hidden else 16]
        return _set(config, ch, "model", "hidden_layer_sizes", new), ch, \
            f"added a hidden layer {hidden} → {new}"
    if kind == "longer":
        t = config.training
        epochs = 2 * t.epochs
        if epochs > max(8 * base_epochs, 1) or epochs > _MAX_EPOCHS:
            return None
        new = _set(config, ch, "training", "epochs", epochs)
        if t.early_stopping:  # otherwise early stopping ends the longer run where it began
            new = _set(new, ch, "training", "patience", 2 * t.patience)
        return new, ch, f"trained longer: epochs {t.epochs} → {epochs}"
    if kind == "adam":
        o = config.optimizer
        if o.name == "adam":
            return None
        new = _set(config, ch, "optimizer", "name", "adam")
        lr = min(o.learning_rate, 0.01)
        if lr != o.learning_rate:
            new = _set(new, ch, "optimizer", "learning_rate", lr)
        return new, ch, f"switched optimizer {o.name} → Adam (learning_rate {lr:g})"
    if kind == "l2":
        m, old = len(data.X_train), config.regularization.l2
        ladder = [float(f"{r * m:.2g}") for r in _L2_PER_EXAMPLE]
        lam = next((v for v in ladder if v > 1.5 * old), None) if old > 0 else ladder[0]
        if lam is None:
            return None
        text = f"added L2 λ={lam:g}" if old == 0 else f"raised L2 λ {old:g} → {lam:g}"
        return _set(config, ch, "regularization", "l2", lam), ch, \
            f"{text} (λ/m={lam / m:.2g})"
    if kind == "dropout":
        old = config.model.keep_prob
        keep = next((k for k in _KEEP_PROBS if k < old - 1e-9), None)
        if keep is None or not hidden:
            return None
        text = "added dropout" if old == 1.0 else f"lowered keep_prob {old:g} →"
        return _set(config, ch, "model", "keep_prob", keep), ch, f"{text} keep_prob={keep:g}"
    if kind == "augment":
        if data.image_shape is None or config.regularization.augment:
            return None
        return _set(config, ch, "regularization", "augment", True), ch, \
            "added data augmentation (flips, crops, noise)"
    raise ValueError(f"unknown recipe action {kind!r}")


def _next_step(config: Config, diag: Diagnosis, data: PreparedData, failed: set[str],
               base_epochs: int) -> _Step | None:
    """The first applicable, not yet failed step for the problem the diagnosis shows."""
    problem, kinds = (("bias", BIAS_ACTIONS) if diag.avoidable_bias > 0 and
                      diag.verdict in ("high_bias", "high_bias_and_variance")
                      else ("variance", VARIANCE_ACTIONS))
    for kind in kinds:
        if kind in failed:
            continue
        proposal = _propose(kind, config, data, base_epochs)
        if proposal is not None:
            return _Step(kind, problem, *proposal)
    return None


def _helped(step: _Step, before: Diagnosis, after: Diagnosis) -> bool:
    """A bias step must shrink the avoidable bias; a variance step the variance, without a
    worse dev error. A round that reads "ok" always counts as help."""
    if after.verdict == "ok":
        return True
    if step.problem == "bias":
        return after.avoidable_bias < before.avoidable_bias - 1e-9
    return (after.variance < before.variance - 1e-9
            and after.dev_error <= before.dev_error + 1e-9)


_ARGS = "rounds/recipe_args.json"  # the baseline config and options, for resuming
_CHECKPOINTS_PER_ROUND = 20  # at most, plus the last epoch's (Ctrl-C saves the exact position)


def _round_checkpoints(config: Config) -> Config:
    """``config`` checkpointing at most ~20 times per round: long full-batch rounds (thousands
    of short epochs) would otherwise spend their time writing files."""
    t = config.training
    every = max(t.checkpoint_every, math.ceil(t.epochs / _CHECKPOINTS_PER_ROUND))
    return dataclasses.replace(config, training=dataclasses.replace(t, checkpoint_every=every))


def _check_outputs(run_dir: Path, force: bool) -> None:
    present = [n for n in (*_OUTPUTS, "rounds") if (run_dir / n).exists()]
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
    >>> from deeprecipe.config import Config, ModelConfig, TrainingConfig
    >>> cfg = Config(model=ModelConfig(hidden_layer_sizes=[2]),
    ...              training=TrainingConfig(epochs=10))
    >>> res = recipe(cfg, "runs/tiny", max_rounds=2)  # doctest: +SKIP
    >>> res.narrative[0]  # doctest: +SKIP
    'round 1: train error 88.6%, dev 88.9% → high bias → doubled hidden units [2] → [4]'
    """
    max_rounds = check_int("max_rounds", max_rounds, low=1)
    if time_budget is not None:
        check_in_range("time_budget", time_budget, low=0.0, closed="neither")
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
    run_dir = Path(run_dir)
    args = {"config": config_to_dict(config), "max_rounds": max_rounds,
            "time_budget": time_budget, "bias_target": bias_target,
            "variance_target": variance_target}
    if resume:
        _check_resumable(run_dir, args)
    else:
        _check_outputs(run_dir, force)
        shutil.rmtree(run_dir / "rounds", ignore_errors=True)  # never resume a stale round
        write_json_atomic(run_dir / _ARGS, args)
    start = time.perf_counter()
    console = None
    if verbose:
        from rich.console import Console

        console = Console(stderr=True)
    data = prepare_data(config) if data is None else data

    rounds: list[RecipeRound] = []
    tried: list[dict] = []
    failed: set[str] = set()
    accepted: tuple[int, Config, Diagnosis] | None = None
    best: tuple | None = None  # (dev_error, round, config, net, trainer, metrics, diagnosis)
    cfg, step, stop_reason = config, None, ""
    for n in range(1, max_rounds + 1):
        t0 = time.perf_counter()
        round_checkpoints = run_dir / "rounds" / f"{n:02d}" / "checkpoints"
        try:
            net, trainer = fit(_round_checkpoints(cfg), data, checkpoint_dir=round_checkpoints,
                               resume=resume)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"recipe interrupted in round {n}, its state saved in "
                                    f"{round_checkpoints}; continue with `deeprecipe resume "
                                    f"{run_dir}`") from None
        except DivergenceError as exc:
            if step is None:
                raise
            net, diag, metrics = None, None, {}
            error = str(exc)
        else:
            checkpoints.prune(round_checkpoints, 1)  # its final state, enough to replay it
            metrics = evaluate(net, data)
            diag = diagnose(train_error=metrics["train_error"], dev_error=metrics["dev_error"],
                            human_error=cfg.data.human_error,
                            test_error=metrics["test_error"], **tol)
            if best is None or metrics["dev_error"] < best[0]:
                best = (metrics["dev_error"], n, cfg, net, trainer, metrics, diag)
        seconds = time.perf_counter() - t0

        helped, note = None, ""
        if step is not None:
            helped = diag is not None and _helped(step, accepted[2], diag)
            tried.append({"round": n, "action": step.kind, "text": step.text,
                          "helped": helped})
            if not helped:
                failed.add(step.kind)
                before = accepted[2]
                if diag is None:
                    why = f"diverged ({error})"
                elif step.problem == "bias":
                    why = (f"did not help (avoidable bias {before.avoidable_bias:.1%} → "
                           f"{diag.avoidable_bias:.1%})")
                else:
                    why = (f"did not help (variance {before.variance:.1%} → "
                           f"{diag.variance:.1%}, dev {before.dev_error:.1%} → "
                           f"{diag.dev_error:.1%})")
                note = f"{step.kind} step {why}, back to round {accepted[0]}'s config; "
        if helped is not False:
            accepted = (n, cfg, diag)
        changes = {} if step is None else step.changes

        _, acc_cfg, acc_diag = accepted
        step = None
        elapsed = time.perf_counter() - start
        if acc_diag.verdict == "ok":
            stop_reason = "both gaps are under the targets"
        elif n >= max_rounds:
            stop_reason = f"max_rounds={max_rounds} reached"
        elif time_budget is not None and elapsed + seconds > time_budget:
            stop_reason = f"time_budget={time_budget:g}s reached"
        else:
            step = _next_step(acc_cfg, acc_diag, data, failed, config.training.epochs)
            if step is None:
                stop_reason = ("no automatic step left; next: more data or an architecture "
                               "search")
        decision = step.text if step is not None else f"stop: {stop_reason}"
        verdict = "diverged" if diag is None else diag.verdict
        head = ("training diverged" if diag is None else f"train error {diag.train_error:.1%}, "
                f"dev {diag.dev_error:.1%} → {_WORDS[verdict]}")
        line = f"round {n}: {head} → {note}{decision}"
        rounds.append(RecipeRound(
            round=n, changes=changes, train_error=metrics.get("train_error"),
            dev_error=metrics.get("dev_error"), test_error=metrics.get("test_error"),
            avoidable_bias=None if diag is None else diag.avoidable_bias,
            variance=None if diag is None else diag.variance, verdict=verdict,
            decision=decision, narrative=line, helped=helped, seconds=round(seconds, 3)))
        if console is not None:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if step is None:
            break
        cfg = step.config

    _, best_n, best_cfg, net, trainer, metrics, diag = best
    run_dir = prepare_run_dir(run_dir, force=True)  # _check_outputs guarded it before training
    run_result = save_run(run_dir, best_cfg, data, net, trainer, metrics=metrics,
                          diagnosis=diag, start=start)
    narrative = [r.narrative for r in rounds]
    narrative.append(f"best: round {best_n} with dev error {metrics['dev_error']:.1%}")
    result = RecipeResult(rounds, narrative, best_n, run_result, best_cfg, stop_reason, tried,
                          targets)
    result.result.extra["recipe"] = {"best_round": best_n, "rounds": len(rounds)}
    write_json_atomic(run_dir / "recipe.json", result.to_dict())
    from deeprecipe.report import write_report

    write_report(run_dir)
    if console is not None:
        console.print(f"{narrative[-1]}; saved to {run_dir}", markup=False, highlight=False,
                      soft_wrap=True)
    return result
