"""Learning curves of a run: train and dev error against the training-set size, read aloud."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path


from deeprecipe._io import write_json_atomic
from deeprecipe.runs import rundir
from deeprecipe.runs.build import build_network, make_trainer
from deeprecipe.runs.diagnosis import error_rate, learning_curve
from deeprecipe.runs.evaluate import regression_error, target_variance
from deeprecipe.runs.prepare import prepare_data
from deeprecipe.runs.rundir import run_config

__all__ = ["learning_curve_run"]


def _curve_reading(train: list[float], dev: list[float], human: float,
                   tol: float = 0.02) -> str:
    """One sentence reading a learning curve as the lecture does (tol as in diagnose)."""
    te, de = train[-1], dev[-1]
    gap, bias = de - te, te - human
    numbers = (f"(dev error {dev[0]:.1%} -> {de:.1%} from the smallest to the largest size, "
               f"train error {te:.1%}, human-level {human:.1%})")
    if len(dev) > 1 and dev[-2] - de > tol / 4 and gap > tol:
        extra = "; train error also stays above human-level, so bias remains" \
            if bias > tol else ""
        return (f"dev error still falling with more data: variance; more data should "
                f"help{extra} {numbers}.")
    if bias > tol and gap <= tol:
        return ("train and dev errors converge high above human-level: bias; more data will "
                f"not help, a bigger network or longer training should {numbers}.")
    if gap > tol:
        return ("dev error has levelled off above train error: variance that more of the "
                f"same data no longer reduces; try regularization {numbers}.")
    return ("train and dev errors converge near human-level: neither bias nor variance; "
            f"more data is not needed {numbers}.")


def learning_curve_run(run_dir: str | Path, *, sizes=(0.1, 0.25, 0.5, 1.0)):
    """Train and dev error of fresh networks trained on growing (nested) training subsets.

    Each size trains a new network from the run's configuration on the first n training
    examples (shuffled once with the run's seed) and measures its train and dev error on
    the scale of ``pipeline.evaluate`` (misclassification rate; for regression MSE over the
    full training targets' variance, clipped to 1). Writes ``run_dir/learning_curve.json``
    (sizes, train_errors, dev_errors, human_error and a one-sentence reading) and returns
    the :class:`~deeprecipe.diagnosis.LearningCurve`.
    """
    run_dir = Path(run_dir)
    config = run_config(run_dir)
    data = prepare_data(config, check_distribution=False)

    def make_and_fit(X, y):
        sub = dataclasses.replace(data, X_train=X, y_train=y)
        net = build_network(config, sub)
        make_trainer(config, sub, net).fit(config.training.epochs)  # a small subset: its
        # batch size is clamped to the subset (one full batch at most)
        return net.predict

    error = error_rate
    if data.task == "regression":  # evaluate's scale: the full training targets' variance
        error = functools.partial(regression_error, scale=target_variance(data.y_train))

    curve = learning_curve(make_and_fit, data.X_train, data.y_train, data.X_dev, data.y_dev,
                           sizes=sizes, error=error, random_state=config.seed)
    human = float(config.data.human_error)
    write_json_atomic(run_dir / rundir.LEARNING_CURVE, {
        **curve.to_dict(), "human_error": human,
        "reading": _curve_reading(list(curve.train_errors), list(curve.dev_errors), human)})
    return curve
