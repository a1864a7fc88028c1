"""Commands for tuning and babysitting: tune, babysit, nudge, rollback, resume, recipe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deeprecipe.cli._common import (
    parse_out,
    OUT_HELP,
    Force,
    Quiet,
    TakeOver,
    _command,
    check_count,
    check_workers_option,
    _load,
    _print_result,
    _run_dir,
    app,
    out,
    parse_assignments,
)
from deeprecipe.errors import DeepRecipeError


@app.command()
@_command
def tune(config_path: Annotated[Path, typer.Argument(
             help="A TOML config with a [tuning] table.")],
         trials: Annotated[int | None, typer.Option(help="Trials per round.")] = None,
         rounds: Annotated[int | None, typer.Option(help="Coarse-to-fine rounds.")] = None,
         method: Annotated[str | None, typer.Option(
             help="random (default), grid, tpe or cmaes.")] = None,
         prune: Annotated[str | None, typer.Option(
             help="median, successive_halving or hyperband (on dev error per epoch).")] = None,
         metric: Annotated[str | None, typer.Option(
             help="dev_error (default), dev_cost, dev_rmse or dev_mae.")] = None,
         budget: Annotated[str | None, typer.Option(
             help="Wall-clock budget, e.g. 90s, 10m, 1h: stop in time to train the best.")]
         = None,
         workers: Annotated[int | None, typer.Option(help="Parallel processes.")] = None,
         scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, "
                                                          "e.g. tcp://host:8786.")] = None,
         out_dir: Annotated[Path | None, typer.Option(
        "--out", parser=parse_out, help=OUT_HELP)] = None,
         quiet: Quiet = False, force: Force = False) -> None:
    """Search on the right scales ("caviar"), then train the best configuration: the run
    directory of `run` plus the study (report.html shows both). Continue an interrupted one
    with `deeprecipe resume RUN_DIR`.

    Example: deeprecipe tune my.toml --trials 20 --rounds 2 --workers 2 --budget 10m
    """
    from deeprecipe.runs.budget import parse_budget  # loaded on use: keeps the CLI fast
    from deeprecipe.runs.config import MAX_TRIALS  # loaded on use: keeps the CLI fast
    from deeprecipe.tuning.checks import check_search, with_tuning  # light, no Optuna

    check_count("--trials", trials, high=MAX_TRIALS)
    check_count("--rounds", rounds)
    check_workers_option(workers)
    config = with_tuning(_load(config_path), n_trials=trials, rounds=rounds, method=method,
                         prune=prune, metric=metric, workers=workers, scheduler=scheduler)
    check_search(config)  # a bad space fails here, before Optuna or any data is loaded
    parse_budget(budget)
    from deeprecipe.workflows import tune as run_tune  # heavy: loaded on use

    run_dir = _run_dir(config, out_dir)
    result = run_tune(config, run_dir, budget=budget, verbose=not quiet, force=force)
    _print_study(result.tuning, quiet)
    if result.tuning.get("stopped") == "budget":
        out.print(f"the budget ran out after {len(result.tuning['trials'])} trials; continue "
                  f"with: deeprecipe resume {run_dir}", markup=False, soft_wrap=True)
    _print_result(result, quiet)


def _print_study(study: dict, quiet: bool) -> None:
    rows = study["leaderboard"]
    metric = study.get("metric", "dev_error")
    if quiet:  # one JSON object per line, for scripts
        for row in rows:
            out.print(json.dumps(row, default=str), markup=False, soft_wrap=True)
        return
    from rich.table import Table  # loaded on use: keeps the CLI fast

    table = Table(title=f"best {len(rows)} trials ({metric}, lower is better; = : tied "
                        "within the dev set's noise)")
    for col in ("rank", "round", "trial", metric, "dev cost", "weights", "hyperparameters"):
        table.add_column(col)
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    for row in rows:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row["params"].items())
        table.add_row(f"{row['rank']}{' =' if row.get('tied') else ''}", str(row["round"]),
                      str(row["index"]), fmt(row["value"]), fmt(row.get("dev_cost")),
                      str(row.get("n_params") or "-"), params)
    out.print(table)


@app.command()
@_command
def babysit(config_path: Annotated[Path, typer.Argument(help="A TOML config.")],
            chunks: Annotated[int, typer.Option(help="Chunks ('days') to train.")] = 3,
            epochs_per_chunk: Annotated[int | None, typer.Option(
                help="Epochs per chunk (default: training.epochs // chunks).")] = None,
            out_dir: Annotated[Path | None, typer.Option(
                "--out", parser=parse_out, help="Run directory (default: runs/<name>).")] = None,
            quiet: Quiet = False, force: Force = False) -> None:
    """Babysit one model ("panda"): train in chunks with a checkpoint after each.

    While it runs, `deeprecipe nudge RUN_DIR --scale-learning-rate 0.5` changes α at the next
    epoch; `deeprecipe rollback RUN_DIR --chunk 1` branches from an earlier chunk.

    Example: deeprecipe babysit my.toml --chunks 3 --out runs/panda
    """
    from deeprecipe.tuning import babysit as run_babysit  # loaded on use: keeps the CLI fast

    check_count("--chunks", chunks)
    check_count("--epochs-per-chunk", epochs_per_chunk)
    config = _load(config_path)
    result = run_babysit(config, _run_dir(config, out_dir), chunks=chunks,
                         epochs_per_chunk=epochs_per_chunk, verbose=not quiet, force=force)
    out.print(str(result), markup=False, soft_wrap=True)


@app.command()
@_command
def nudge(run_dir: Annotated[Path, typer.Argument(help="A babysat run directory.")],
          learning_rate: Annotated[float | None, typer.Option(
              "--learning-rate", help="Set α to this value.")] = None,
          scale_learning_rate: Annotated[float | None, typer.Option(
              "--scale-learning-rate", help="Multiply α by this factor.")] = None,
          beta: Annotated[float | None, typer.Option(help="Momentum's β.")] = None,
          keep_prob: Annotated[float | None, typer.Option(
              help="Dropout keep probability.")] = None,
          l2: Annotated[float | None, typer.Option(help="L2 penalty λ.")] = None,
          set_: Annotated[list[str] | None, typer.Option(
              "--set", help="Any knob that can change mid-training, as NAME=VALUE "
                            "(repeatable), e.g. --set l1=0.01.")] = None) -> None:
    """Change α (or β, keep_prob, λ, any live knob) of a babysat model at its next epoch
    boundary.

    Example: deeprecipe nudge runs/panda --scale-learning-rate 0.5
    """
    from deeprecipe.tuning import nudge as run_nudge  # heavy (Optuna): loaded on use

    values = {"learning_rate": learning_rate, "beta": beta, "keep_prob": keep_prob, "l2": l2,
              **parse_assignments(set_ or [])}
    sent = run_nudge(run_dir, scale_learning_rate=scale_learning_rate, **values)
    if sent["running"]:
        then = f"the babysit {sent['babysit']} applies it at its next epoch boundary"
    else:
        then = ("no babysit runs" if sent["babysit"] == "not running"
                else f"its babysit {sent['babysit']}")
        then += f"; `deeprecipe resume {run_dir}` applies it"
    out.print(f"nudge queued for {run_dir}: {then}", markup=False, soft_wrap=True)


@app.command()
@_command
def rollback(run_dir: Annotated[Path, typer.Argument(help="A babysat run directory.")],
             chunk: Annotated[int, typer.Option(help="Branch from the end of this chunk.")],
             force: TakeOver = False) -> None:
    """Roll a babysat model back to an earlier chunk (a new branch; history is kept).

    Example: deeprecipe rollback runs/panda --chunk 1
    """
    from deeprecipe.tuning import rollback as run_rollback  # loaded on use: keeps the CLI fast

    done = run_rollback(run_dir, chunk=chunk, force=force)
    out.print(f"{done['message']}: new branch {done['branch']!r} is active (the history of "
              f"{done['parent']!r} is kept); continue with: deeprecipe resume {run_dir}",
              markup=False, soft_wrap=True)


@app.command()
@_command
def resume(run_dir: Annotated[Path, typer.Argument(
               help="A run, recipe or babysat run directory.")],
           chunks: Annotated[int | None, typer.Option(
               help="More chunks (babysat runs; default: what an interrupted babysit had "
                    "left, else 1).")] = None,
           quiet: Quiet = False, force: TakeOver = False) -> None:
    """Continue an interrupted run or recipe (or a babysat model for more chunks).

    Example: deeprecipe resume runs/first
    """
    from deeprecipe.workflows import resume as resume_workflow  # heavy: loaded on use

    check_count("--chunks", chunks)
    result = resume_workflow(run_dir, chunks=chunks, verbose=not quiet, force=force)
    if hasattr(result, "rounds"):
        _print_recipe(result, run_dir, quiet)
    elif hasattr(result, "branch"):
        out.print(str(result), markup=False, soft_wrap=True)
    else:
        _print_result(result, quiet)


@app.command()
@_command
def recipe(config_path: Annotated[Path, typer.Argument(help="A TOML config.")],
           rounds: Annotated[int | None, typer.Option(
               help="At most this many rounds (default 5; 50 with --budget).")] = None,
           out_dir: Annotated[Path | None, typer.Option(
        "--out", parser=parse_out, help=OUT_HELP)] = None,
           budget: Annotated[str | None, typer.Option(
               help="Wall-clock budget for all rounds and searches, e.g. 90s, 10m, 1h.")]
           = None,
           workers: Annotated[int, typer.Option(help="Processes for the short searches.")]
           = 1,
           folds: Annotated[str, typer.Option(
               help="Judge changes by k-fold cross-validation: auto (5 folds when the dev "
                    "set has < 1,000 examples), a number k >= 2, or 1 (the dev set).")]
           = "auto",
           bias_target: Annotated[float | None, typer.Option(
               help="Largest acceptable avoidable bias, a fraction (default: twice the dev "
                    "set's noise, at least 0.005).")] = None,
           variance_target: Annotated[float | None, typer.Option(
               help="Largest acceptable variance (dev - train error), a fraction (default: "
                    "twice the dev set's noise, at least 0.005).")] = None,
           resume: Annotated[bool, typer.Option(
               help="Continue an interrupted recipe (same config and --rounds).")] = False,
           quiet: Quiet = False, force: Force = False) -> None:
    """The automated basic recipe: read the curves, tune α, decide on dev error, repeat.

    Example: deeprecipe recipe my.toml --budget 10m --workers 2
    """
    from deeprecipe.basic_recipe.loop import recipe as run_recipe  # loaded on use: keeps the
    from deeprecipe.runs.budget import parse_budget  # CLI fast

    check_count("--rounds", rounds)
    check_workers_option(workers)
    k = _parse_folds(folds)
    config = _load(config_path)
    run_dir = _run_dir(config, out_dir)
    rounds = (5 if budget is None else 50) if rounds is None else rounds
    result = run_recipe(config, run_dir, max_rounds=rounds, verbose=not quiet, force=force,
                        resume=resume, workers=workers, folds=k,
                        bias_target=bias_target, variance_target=variance_target,
                        time_budget=None if budget is None else parse_budget(budget))
    _print_recipe(result, run_dir, quiet)


def _parse_folds(text: str) -> int | str:
    """--folds: "auto" or an int >= 1; DeepRecipeError (one line, exit 2) otherwise."""
    value = text.strip().lower()
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise DeepRecipeError(f"--folds takes auto, 1 (judge on the dev set) or a number k >= 2 "
                              f"(k-fold cross-validation), got {text!r}")
    return int(value)


def _print_recipe(result, run_dir: Path, quiet: bool) -> None:
    if quiet:  # otherwise each round was already shown as it finished
        for line in result.narrative:
            out.print(line, markup=False, soft_wrap=True)
    out.print(f"run directory: {run_dir}  report: {run_dir / 'report.html'}", markup=False,
              soft_wrap=True)


