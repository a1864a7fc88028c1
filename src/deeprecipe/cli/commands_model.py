"""Commands for one model: demo, run, train, evaluate, predict, diagnose, gradcheck, report,
init."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from deeprecipe.cli._common import (
    parse_out,
    OUT_HELP,
    Force,
    Quiet,
    _command,
    _fresh_dir,
    check_count,
    _int_option,
    _load,
    _print_result,
    _run_dir,
    app,
    out,
)
from deeprecipe.errors import DeepRecipeError
from deeprecipe.runs import rundir


@app.command()
@_command
def demo(out_dir: Annotated[Path | None, typer.Option(
        "--out", parser=parse_out, help="Run directory.")] = None,
         quiet: Quiet = False, force: Force = False) -> None:
    """The main job on the embedded `digits` data set, in well under a minute.

    Split -> normalize -> Adam + L2 + dropout + BatchNorm -> evaluate -> diagnose -> a short
    random search -> run directory with report.html (runs/demo, or runs/demo-2, ... if that
    holds a run already: nothing is overwritten without --force).

    Example: deeprecipe demo --out runs/demo
    """
    from deeprecipe.workflows import demo_config, run  # loaded on use: keeps the CLI fast

    config = demo_config()
    result = run(config, out_dir or _fresh_dir(Path("runs") / "demo"), verbose=not quiet,
                 force=force)
    _print_result(result, quiet)


@app.command("run")
@_command
def run_cmd(config_path: Annotated[Path, typer.Argument(help="A TOML config (deeprecipe init).")],
            out_dir: Annotated[Path | None, typer.Option(
        "--out", parser=parse_out, help=OUT_HELP)] = None,
            resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")]
            = False, quiet: Quiet = False, force: Force = False) -> None:
    """Run a configuration end to end (tuning first if [tuning] n_trials > 0).

    Example: deeprecipe run recipe.toml --out runs/first
    """
    from deeprecipe.workflows import run  # loaded on use: keeps the CLI fast

    config = _load(config_path)
    result = run(config, _run_dir(config, out_dir), verbose=not quiet, resume=resume,
                 force=force)
    _print_result(result, quiet)


@app.command()
@_command
def train(dataset: Annotated[str, typer.Option(help="Embedded name or a data file.")] = "digits",
          hidden: Annotated[str, typer.Option(
              help="Hidden sizes, e.g. 64,32 ('' for none).")] = "64,32",
          optimizer: Annotated[str, typer.Option(help="gd|momentum|rmsprop|adam")] = "adam",
          learning_rate: Annotated[float, typer.Option(
              "--learning-rate", "--lr", help="Learning rate α.")] = 1e-3,
          epochs: Annotated[int, typer.Option(help="Passes over the training set.")] = 30,
          batch_size: Annotated[str, typer.Option(
              help="Mini-batch size: an integer, auto or full.")] = "auto",
          l2: Annotated[float, typer.Option(help="L2 penalty λ: J += (λ/2m) Σ‖W‖².")] = 0.0,
          keep_prob: Annotated[float, typer.Option(
              help="Dropout keep probability (1: no dropout).")] = 1.0,
          batch_norm: Annotated[bool, typer.Option(
              help="BatchNorm after every hidden layer.")] = False,
          label: Annotated[str | None, typer.Option(help="Label column of a .csv.")] = None,
          seed: Annotated[int, typer.Option(help="Random seed (>= 0).")] = 0,
          name: Annotated[str, typer.Option(
              help="Run name: the folder runs/<name>.")] = "train",
          out_dir: Annotated[Path | None, typer.Option(
        "--out", parser=parse_out, help=OUT_HELP)] = None,
          quiet: Quiet = False, force: Force = False) -> None:
    """Train one network from flags (no config file needed).

    Example: deeprecipe train --dataset moons --hidden 16,8 --lr 0.01 --epochs 50
    """
    from deeprecipe.errors import ConfigError  # loaded on use: keeps the CLI fast
    from deeprecipe.runs.config import config_from_dict  # loaded on use: keeps the CLI fast
    from deeprecipe.workflows import run  # loaded on use: keeps the CLI fast

    check_count("--epochs", epochs)
    try:  # "" (no hidden layer: softmax or logistic regression) or e.g. "64,32"
        sizes = [int(h) for h in hidden.split(",")] if hidden.strip() else []
    except ValueError:
        raise ConfigError(f"--hidden must be comma-separated integers such as 64,32 (or '' "
                          f"for no hidden layer), got {hidden!r}") from None
    bs = batch_size if batch_size in ("auto", "full") else _int_option("batch-size", batch_size)
    check_count("--batch-size", None if isinstance(bs, str) else bs)
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


@app.command()
@_command
def evaluate(run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
             as_json: Annotated[bool, typer.Option(
                 "--json", help="One JSON object instead of a table.")] = False) -> None:
    """Errors and costs of a saved model on its train/dev/test split.

    Example: deeprecipe evaluate runs/demo
    """
    from deeprecipe.runs.evaluate import evaluate_run  # loaded on use: keeps the CLI fast

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
            output: Annotated[Path | None, typer.Option(help="Write predictions here "
                                                           "(.csv, .txt or .npy).")] = None,
            proba: Annotated[bool, typer.Option(help="Probabilities, one column per class.")]
            = False,
            id_column: Annotated[str | None, typer.Option(
                "--id-column", help="A CSV column to copy to the output (not a feature).")]
            = None) -> None:
    """Predict with a saved model; inputs are standardized with the saved training statistics.

    A CSV is matched by its header to the training columns (any order; the label column is
    dropped). The output has a header: the label's name, or with --proba the class names.

    Example: deeprecipe predict runs/demo --input new.npy --output preds.csv
    """
    from deeprecipe.prediction import (  # loaded on use: keeps the CLI fast
        check_output,
        predict_table,
        write_predictions,
    )

    check_output(output, id_column)
    preds = predict_table(run_dir, input_path, proba=proba, id_column=id_column)
    if output is None:
        sys.stdout.write(preds.to_csv())
    else:
        write_predictions(preds, output)
        out.print(f"wrote {len(preds.values)} predictions to {output}", markup=False,
                  soft_wrap=True)


@app.command()
@_command
def diagnose(run_dir: Annotated[Path | None, typer.Argument(help="A run directory.")] = None,
             train_error: Annotated[float | None, typer.Option(
                 help="Training-set error in [0, 1].")] = None,
             dev_error: Annotated[float | None, typer.Option(
                 help="Dev-set error in [0, 1].")] = None,
             human_error: Annotated[float | None, typer.Option(
                 help="Proxy for Bayes error (default: the run's data.human_error, else 0).")
             ] = None,
             test_error: Annotated[float | None, typer.Option(
                 help="Test-set error in [0, 1] (optional).")] = None,
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
    from deeprecipe.errors import ConfigError  # loaded on use: keeps the CLI fast
    from deeprecipe.runs.diagnosis import (
        diagnose as run_diagnose,  # loaded on use: keeps the CLI fast
    )

    if learning_curve and run_dir is None:
        raise ConfigError("--learning-curve needs a run directory: deeprecipe diagnose "
                          "RUN_DIR --learning-curve")
    if run_dir is not None:
        from deeprecipe.runs.evaluate import evaluate_run  # loaded on use: keeps the CLI fast
        from deeprecipe.runs.rundir import run_config  # loaded on use: keeps the CLI fast

        metrics = evaluate_run(run_dir)
        train_error, dev_error = metrics["train_error"], metrics["dev_error"]
        test_error = metrics["test_error"] if test_error is None else test_error
        if human_error is None:  # the run was diagnosed against its own human-level error
            human_error = run_config(run_dir).data.human_error
    if train_error is None or dev_error is None:
        raise ConfigError("give a run directory or both --train-error and --dev-error")
    human_error = 0.0 if human_error is None else human_error
    d = run_diagnose(train_error=train_error, dev_error=dev_error, human_error=human_error,
                     test_error=test_error)
    out.print(d.summary(), markup=False, soft_wrap=True)
    for i, step in enumerate(d.next_steps, 1):
        out.print(f"  {i}. {step}", markup=False, soft_wrap=True)
    if learning_curve:
        from deeprecipe.basic_recipe.learning_curve import (
            learning_curve_run,  # loaded on use: keeps the CLI fast
        )
        from deeprecipe._io import load_json  # loaded on use: keeps the CLI fast
        from deeprecipe.report import write_report  # loaded on use: keeps the CLI fast

        curve = learning_curve_run(run_dir)
        out.print("\nlearning curve (fresh networks on growing training subsets):",
                  markup=False, soft_wrap=True)
        out.print(f"{'size':>8}  {'train error':>11}  {'dev error':>9}", markup=False,
                  soft_wrap=True)
        for n, tr, dv in zip(curve.sizes, curve.train_errors, curve.dev_errors, strict=True):
            out.print(f"{n:>8}  {tr:>11.4f}  {dv:>9.4f}", markup=False, soft_wrap=True)
        saved = load_json(run_dir / rundir.LEARNING_CURVE)  # a regular file, size-checked
        out.print(saved["reading"], markup=False, soft_wrap=True)
        out.print(f"wrote {run_dir / 'learning_curve.json'} and {write_report(run_dir)}",
                  markup=False, soft_wrap=True)


@app.command()
@_command
def gradcheck(dataset: Annotated[str, typer.Option(help="Embedded data set.")] = "moons",
              config_path: Annotated[Path | None, typer.Option(
                  "--config", help="Check the network of this TOML config instead.")] = None,
              l2: Annotated[float, typer.Option(help="L2 penalty λ (>= 0).")] = 0.7,
              samples: Annotated[int, typer.Option(
                  help="Examples in the check (>= 1; at most the training set's).")] = 8,
              max_components: Annotated[int, typer.Option(
                  help="About this many parameter components are compared.")] = 2000) -> None:
    """Verify backpropagation numerically (two-sided differences, float64).

    Exits 1 if the relative error reads as a bug (>= 1e-3) or is not finite (NaN/inf).

    Example: deeprecipe gradcheck --dataset moons --l2 0.7
    """
    from deeprecipe.workflows import gradcheck_for  # loaded on use: keeps the CLI fast

    check_count("--samples", samples)
    check_count("--max-components", max_components)
    report = gradcheck_for(dataset=dataset, config_path=config_path, l2=l2, samples=samples,
                           max_components=max_components)
    if report.examples < samples:  # as a batch size larger than the data: all of it, said
        out.print(f"--samples {samples} is more than the {report.examples} training examples: "
                  f"all {report.examples} were checked", markup=False, soft_wrap=True)
    out.print(str(report), markup=False, soft_wrap=True)
    if report.verdict in ("bug", "not finite"):
        raise typer.Exit(1)


@app.command()
@_command
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Rebuild report.html from the saved files of a run.

    Example: deeprecipe report runs/demo
    """
    from deeprecipe.report import write_report  # loaded on use: keeps the CLI fast
    from deeprecipe.runs.rundir import check_run_dir  # loaded on use: keeps the CLI fast

    out.print(f"wrote {write_report(check_run_dir(run_dir))}", markup=False, soft_wrap=True)


@app.command()
@_command
def init(path: Annotated[Path, typer.Argument(help="Where to write the example config.")]
         = Path("deeprecipe.toml"), force: Annotated[bool, typer.Option(
             "--force", help="Overwrite the file if it exists.")] = False) -> None:
    """Write a commented example configuration.

    Example: deeprecipe init my.toml
    """
    from deeprecipe._io import check_regular_file, write_text_atomic  # loaded on use
    from deeprecipe.runs.config import EXAMPLE_CONFIG  # loaded on use: keeps the CLI fast

    # --force replaces a file, never a folder, a device (/dev/null as root) or a FIFO
    check_regular_file(path, DeepRecipeError, expected="a path for the new config file")
    if path.is_dir():
        raise DeepRecipeError(f"{path} is a folder; give a file name such as {path / 'my.toml'}")
    if path.exists() and not force:
        raise DeepRecipeError(f"{path} exists; pass --force to overwrite it")
    write_text_atomic(path, EXAMPLE_CONFIG)
    out.print(f"wrote {path}; edit it, then: deeprecipe run {path}", markup=False, soft_wrap=True)

