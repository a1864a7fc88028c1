"""The ``deeprecipe`` command line: thin commands that parse options and call one function.

A user error prints one line on stderr and exits with code 2 (``--debug`` shows the traceback);
Ctrl-C leaves resumable state and exits with code 130.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from deeprecipe.errors import DeepRecipeError

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="deeprecipe: improve deep neural networks with the basic recipe.\n\n"
                       "Start with `deeprecipe demo`, then `deeprecipe init my.toml` and "
                       "`deeprecipe run my.toml`.")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
_STATE = {"debug": False, "quiet": False}

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or tables.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite an existing run directory.")]


def _command(fn):
    """Run a command body: user errors -> one line and exit 2; Ctrl-C -> exit 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DeepRecipeError as exc:
            if _STATE["debug"]:
                raise
            err.print(f"error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            err.print(f"interrupted: {exc}" if str(exc) else "interrupted", markup=False,
                      soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False
          ) -> None:
    _STATE["debug"] = debug


def _load(config_path: Path):
    from deeprecipe.config import load_config

    return load_config(config_path)


def _run_dir(config, out_dir: Optional[Path]) -> Path:
    return out_dir if out_dir is not None else Path("runs") / config.name


def _fresh_dir(base: Path) -> Path:
    """``base``, or base-2, base-3, ... : the first that holds no run (nothing is overwritten)."""
    candidate, n = base, 1
    while (candidate / "config.toml").exists() or (candidate / "model.json").exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _print_result(result, quiet: bool) -> None:
    m = result.metrics
    if not quiet:
        from rich.table import Table

        table = Table(title=f"run: {result.run_dir}")
        for col in ("", "train", "dev", "test"):
            table.add_column(col)
        fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        table.add_row("error", fmt(m["train_error"]), fmt(m["dev_error"]), fmt(m["test_error"]))
        table.add_row("cost", fmt(m["train_cost"]), fmt(m["dev_cost"]), fmt(m["test_cost"]))
        out.print(table)
    out.print(result.headline(), markup=False, soft_wrap=True)
    out.print(f"run directory: {result.run_dir}  report: {result.run_dir / 'report.html'}",
              markup=False, soft_wrap=True)


@app.command()
@_command
def demo(out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run directory.")] = None,
         quiet: Quiet = False, force: Force = False) -> None:
    """The main job on the embedded `digits` data set, in well under a minute.

    Split -> normalize -> Adam + L2 + dropout + BatchNorm -> evaluate -> diagnose -> a short
    random search -> run directory with report.html (runs/demo, or runs/demo-2, ... if that
    holds a run already: nothing is overwritten without --force).

    Example: deeprecipe demo --out runs/demo
    """
    from deeprecipe.pipeline import demo_config, run

    config = demo_config()
    result = run(config, out_dir or _fresh_dir(Path("runs") / "demo"), verbose=not quiet,
                 force=force)
    _print_result(result, quiet)


@app.command("run")
@_command
def run_cmd(config_path: Annotated[Path, typer.Argument(help="A TOML config (deeprecipe init).")],
            out_dir: Annotated[Optional[Path], typer.Option("--out")] = None,
            resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")]
            = False, quiet: Quiet = False, force: Force = False) -> None:
    """Run a configuration end to end (tuning first if \\[tuning] n_trials > 0).

    Example: deeprecipe run recipe.toml --out runs/first
    """
    from deeprecipe.pipeline import run

    config = _load(config_path)
    result = run(config, _run_dir(config, out_dir), verbose=not quiet, resume=resume,
                 force=force)
    _print_result(result, quiet)


@app.command()
@_command
def train(dataset: Annotated[str, typer.Option(help="Embedded name or a data file.")] = "digits",
          hidden: Annotated[str, typer.Option(help="Hidden sizes, e.g. 64,32.")] = "64,32",
          optimizer: Annotated[str, typer.Option(help="gd|momentum|rmsprop|adam")] = "adam",
          learning_rate: Annotated[float, typer.Option("--learning-rate", "--lr")] = 1e-3,
          epochs: int = 30, batch_size: Annotated[str, typer.Option()] = "auto",
          l2: float = 0.0, keep_prob: float = 1.0, batch_norm: bool = False,
          label: Annotated[Optional[str], typer.Option(help="Label column of a .csv.")] = None,
          seed: int = 0, name: str = "train",
          out_dir: Annotated[Optional[Path], typer.Option("--out")] = None,
          quiet: Quiet = False, force: Force = False) -> None:
    """Train one network from flags (no config file needed).

    Example: deeprecipe train --dataset moons --hidden 16,8 --lr 0.01 --epochs 50
    """
    from deeprecipe.config import config_from_dict
    from deeprecipe.errors import ConfigError
    from deeprecipe.pipeline import run

    try:
        sizes = [int(h) for h in hidden.split(",") if h.strip()]
    except ValueError:
        raise ConfigError(f"--hidden must be comma-separated integers, got {hidden!r}") from None
    bs = batch_size if batch_size in ("auto", "full") else _int_option("batch-size", batch_size)
    config = config_from_dict({
        "name": name, "seed": seed, "data": {"dataset": dataset, "label": label},
        "model": {"hidden_layer_sizes": sizes, "batch_norm": batch_norm,
                  "keep_prob": keep_prob},
        "regularization": {"l2": l2},
        "optimizer": {"name": optimizer, "learning_rate": learning_rate},
        "training": {"epochs": epochs, "batch_size": bs}} if label else {
        "name": name, "seed": seed, "data": {"dataset": dataset},
        "model": {"hidden_layer_sizes": sizes, "batch_norm": batch_norm,
                  "keep_prob": keep_prob},
        "regularization": {"l2": l2},
        "optimizer": {"name": optimizer, "learning_rate": learning_rate},
        "training": {"epochs": epochs, "batch_size": bs}})
    result = run(config, _run_dir(config, out_dir), verbose=not quiet, force=force)
    _print_result(result, quiet)


def _int_option(name: str, value: str) -> int:
    from deeprecipe.errors import ConfigError

    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--{name} must be an integer, 'auto' or 'full', "
                          f"got {value!r}") from None


@app.command()
@_command
def evaluate(run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
             as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Errors and costs of a saved model on its train/dev/test split.

    Example: deeprecipe evaluate runs/demo
    """
    from deeprecipe.runs import evaluate_run

    metrics = evaluate_run(run_dir)
    if as_json:
        out.print(json.dumps(metrics), markup=False, soft_wrap=True)
    else:
        for k, v in metrics.items():
            out.print(f"{k:>12}: {'-' if v is None else f'{v:.4f}'}", markup=False, soft_wrap=True)


@app.command()
@_command
def predict(run_dir: Annotated[Path, typer.Argument(help="A run directory (or model path).")],
            input_path: Annotated[Path, typer.Option("--input", help=".npy, .npz or .csv")],
            output: Annotated[Optional[Path], typer.Option(help="Write predictions here "
                                                           "(.csv or .npy).")] = None,
            proba: Annotated[bool, typer.Option(help="Probabilities, not labels.")] = False
            ) -> None:
    """Predict with a saved model; inputs are standardized with the saved training statistics.

    Example: deeprecipe predict runs/demo --input new.npy --output preds.csv
    """
    from deeprecipe.runs import predict_file

    preds = predict_file(run_dir, input_path, proba=proba, output=output)
    if output is None:
        import numpy as np

        np.savetxt(sys.stdout, preds.reshape(len(preds), -1), fmt="%g", delimiter=",")
    else:
        out.print(f"wrote {len(preds)} predictions to {output}", markup=False, soft_wrap=True)


@app.command()
@_command
def diagnose(run_dir: Annotated[Optional[Path], typer.Argument(help="A run directory.")] = None,
             train_error: Annotated[Optional[float], typer.Option()] = None,
             dev_error: Annotated[Optional[float], typer.Option()] = None,
             human_error: Annotated[Optional[float], typer.Option(
                 help="Proxy for Bayes error (default: the run's data.human_error, else 0).")
             ] = None,
             test_error: Annotated[Optional[float], typer.Option()] = None,
             learning_curve: Annotated[bool, typer.Option(
                 "--learning-curve", help="Also retrain on growing training subsets and "
                 "plot train/dev error against training-set size (needs RUN_DIR).")] = False
             ) -> None:
    """Bias and variance against human-level error, and the recipe's next steps.

    With --learning-curve, fresh networks trained on 10%, 25%, 50% and 100% of the run's
    training set show whether more data would help; the result is saved as
    learning_curve.json and drawn in the run's report.

    Example: deeprecipe diagnose --train-error 0.01 --dev-error 0.11
    Example: deeprecipe diagnose runs/demo --learning-curve
    """
    from deeprecipe.diagnosis import diagnose as run_diagnose
    from deeprecipe.errors import ConfigError

    if learning_curve and run_dir is None:
        raise ConfigError("--learning-curve needs a run directory: deeprecipe diagnose "
                          "RUN_DIR --learning-curve")
    if run_dir is not None:
        from deeprecipe.runs import _run_config, evaluate_run

        metrics = evaluate_run(run_dir)
        train_error, dev_error = metrics["train_error"], metrics["dev_error"]
        test_error = metrics["test_error"] if test_error is None else test_error
        if human_error is None:  # the run was diagnosed against its own human-level error
            human_error = _run_config(run_dir).data.human_error
    if train_error is None or dev_error is None:
        raise ConfigError("give a run directory or both --train-error and --dev-error")
    human_error = 0.0 if human_error is None else human_error
    d = run_diagnose(train_error=train_error, dev_error=dev_error, human_error=human_error,
                     test_error=test_error)
    out.print(d.summary(), markup=False, soft_wrap=True)
    for i, step in enumerate(d.next_steps, 1):
        out.print(f"  {i}. {step}", markup=False, soft_wrap=True)
    if learning_curve:
        from deeprecipe.report import write_report
        from deeprecipe.runs import learning_curve_run

        curve = learning_curve_run(run_dir)
        out.print("\nlearning curve (fresh networks on growing training subsets):",
                  markup=False, soft_wrap=True)
        out.print(f"{'size':>8}  {'train error':>11}  {'dev error':>9}", markup=False,
                  soft_wrap=True)
        for n, tr, dv in zip(curve.sizes, curve.train_errors, curve.dev_errors):
            out.print(f"{n:>8}  {tr:>11.4f}  {dv:>9.4f}", markup=False, soft_wrap=True)
        saved = json.loads((run_dir / "learning_curve.json").read_text(encoding="utf-8"))
        out.print(saved["reading"], markup=False, soft_wrap=True)
        out.print(f"wrote {run_dir / 'learning_curve.json'} and {write_report(run_dir)}",
                  markup=False, soft_wrap=True)


@app.command()
@_command
def gradcheck(dataset: Annotated[str, typer.Option(help="Embedded data set.")] = "moons",
              config_path: Annotated[Optional[Path], typer.Option("--config")] = None,
              l2: float = 0.7, samples: int = 8, max_components: int = 2000) -> None:
    """Verify backpropagation numerically (two-sided differences, float64).

    Exits 1 if any parameter's relative error reads as a bug (>= 1e-3).

    Example: deeprecipe gradcheck --dataset moons --l2 0.7
    """
    from deeprecipe.pipeline import gradcheck_for

    report = gradcheck_for(dataset=dataset, config_path=config_path, l2=l2, samples=samples,
                           max_components=max_components)
    out.print(str(report), markup=False, soft_wrap=True)
    if report.verdict == "bug":
        raise typer.Exit(1)


@app.command()
@_command
def tune(config_path: Annotated[Path, typer.Argument(
             help="A TOML config with a \\[tuning] table.")],
         trials: Annotated[Optional[int], typer.Option(help="Trials per round.")] = None,
         rounds: Annotated[Optional[int], typer.Option(help="Coarse-to-fine rounds.")] = None,
         workers: Annotated[Optional[int], typer.Option(help="Parallel processes.")] = None,
         scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address, "
                                                          "e.g. tcp://host:8786.")] = None,
         out_dir: Annotated[Optional[Path], typer.Option("--out")] = None,
         quiet: Quiet = False) -> None:
    """Random search on the right scales ("caviar"); resumes an interrupted study.

    Example: deeprecipe tune my.toml --trials 20 --rounds 2 --workers 2
    """
    from deeprecipe.tuning import tune as run_tune

    config = _load(config_path)
    run_dir = _run_dir(config, out_dir)
    study = run_tune(config, run_dir=run_dir / "study", n_trials=trials, rounds=rounds,
                     workers=workers, scheduler=scheduler, verbose=not quiet)
    for row in study.leaderboard(10):
        out.print(json.dumps(row, default=str), markup=False, soft_wrap=True)
    out.print(f"best configuration: {run_dir / 'study' / 'best_config.toml'}", markup=False,
              soft_wrap=True)


@app.command()
@_command
def babysit(config_path: Annotated[Path, typer.Argument(help="A TOML config.")],
            chunks: Annotated[int, typer.Option(help="Chunks ('days') to train.")] = 3,
            epochs_per_chunk: Annotated[Optional[int], typer.Option()] = None,
            out_dir: Annotated[Optional[Path], typer.Option("--out")] = None,
            quiet: Quiet = False) -> None:
    """Babysit one model ("panda"): train in chunks with a checkpoint after each.

    While it runs, `deeprecipe nudge RUN_DIR --scale-learning-rate 0.5` changes α at the next
    epoch; `deeprecipe rollback RUN_DIR --chunk 1` branches from an earlier chunk.

    Example: deeprecipe babysit my.toml --chunks 3 --out runs/panda
    """
    from deeprecipe.tuning import babysit as run_babysit

    config = _load(config_path)
    result = run_babysit(config, _run_dir(config, out_dir), chunks=chunks,
                         epochs_per_chunk=epochs_per_chunk, verbose=not quiet)
    out.print(str(result), markup=False, soft_wrap=True)


@app.command()
@_command
def nudge(run_dir: Annotated[Path, typer.Argument(help="A babysat run directory.")],
          learning_rate: Annotated[Optional[float], typer.Option("--learning-rate")] = None,
          scale_learning_rate: Annotated[Optional[float], typer.Option(
              "--scale-learning-rate", help="Multiply α by this factor.")] = None,
          beta: Optional[float] = None, keep_prob: Optional[float] = None,
          l2: Optional[float] = None) -> None:
    """Change α (or β, keep_prob, λ) of a babysat model at its next epoch boundary.

    Example: deeprecipe nudge runs/panda --scale-learning-rate 0.5
    """
    from deeprecipe.tuning import nudge as run_nudge

    run_nudge(run_dir, learning_rate=learning_rate, scale_learning_rate=scale_learning_rate,
              beta=beta, keep_prob=keep_prob, l2=l2)
    out.print(f"nudge queued for {run_dir}", markup=False, soft_wrap=True)


@app.command()
@_command
def rollback(run_dir: Annotated[Path, typer.Argument(help="A babysat run directory.")],
             chunk: Annotated[int, typer.Option(help="Branch from the end of this chunk.")]
             ) -> None:
    """Roll a babysat model back to an earlier chunk (a new branch; history is kept).

    Example: deeprecipe rollback runs/panda --chunk 1
    """
    from deeprecipe.tuning import rollback as run_rollback

    done = run_rollback(run_dir, chunk=chunk)
    out.print(f"{done['message']}: new branch {done['branch']!r} is active (the history of "
              f"{done['parent']!r} is kept); continue with: deeprecipe resume {run_dir}",
              markup=False, soft_wrap=True)


@app.command()
@_command
def resume(run_dir: Annotated[Path, typer.Argument(help="A run or babysat run directory.")],
           chunks: Annotated[int, typer.Option(help="More chunks (babysat runs).")] = 1,
           quiet: Quiet = False) -> None:
    """Continue an interrupted run (or a babysat model for more chunks).

    Example: deeprecipe resume runs/first
    """
    if (run_dir / "panda.json").exists():
        from deeprecipe.tuning import resume as panda_resume

        out.print(str(panda_resume(run_dir, chunks=chunks)), markup=False, soft_wrap=True)
        return
    from deeprecipe.pipeline import run

    if not (run_dir / "config.toml").exists():
        raise DeepRecipeError(f"{run_dir} holds nothing to resume (no config.toml or "
                              "panda.json); start it with `deeprecipe run CONFIG --out "
                              f"{run_dir}`")
    config = _load(run_dir / "config.toml")
    _print_result(run(config, run_dir, verbose=not quiet, resume=True), quiet)


@app.command()
@_command
def recipe(config_path: Annotated[Path, typer.Argument(help="A TOML config.")],
           rounds: Annotated[int, typer.Option(help="At most this many rounds.")] = 5,
           out_dir: Annotated[Optional[Path], typer.Option("--out")] = None,
           quiet: Quiet = False, force: Force = False) -> None:
    """The automated basic recipe: diagnose, apply the next step, retrain, repeat.

    Example: deeprecipe recipe my.toml --rounds 4
    """
    from deeprecipe.basic_recipe import recipe as run_recipe

    config = _load(config_path)
    run_dir = _run_dir(config, out_dir)
    result = run_recipe(config, run_dir, max_rounds=rounds, verbose=not quiet, force=force)
    if quiet:  # otherwise each round was already shown as it finished
        for line in result.narrative:
            out.print(line, markup=False, soft_wrap=True)
    out.print(f"run directory: {run_dir}  report: {run_dir / 'report.html'}", markup=False,
              soft_wrap=True)


@app.command()
@_command
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Rebuild report.html from the saved files of a run.

    Example: deeprecipe report runs/demo
    """
    from deeprecipe.report import write_report

    out.print(f"wrote {write_report(run_dir)}", markup=False, soft_wrap=True)


@app.command()
@_command
def init(path: Annotated[Path, typer.Argument(help="Where to write the example config.")]
         = Path("deeprecipe.toml"), force: Force = False) -> None:
    """Write a commented example configuration.

    Example: deeprecipe init my.toml
    """
    from deeprecipe._io import write_text_atomic
    from deeprecipe.config import EXAMPLE_CONFIG

    if path.exists() and not force:
        raise DeepRecipeError(f"{path} exists; pass --force to overwrite it")
    write_text_atomic(path, EXAMPLE_CONFIG)
    out.print(f"wrote {path}; edit it, then: deeprecipe run {path}", markup=False, soft_wrap=True)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
